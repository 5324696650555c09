"""The embedded example event is reproducible with real ACTS (pyacts)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from acts_gnn.io.example import example_dir
from tests.conftest import REPO

pytestmark = pytest.mark.acts


def test_example_event_regenerates_byte_identical(tmp_path):
    pytest.importorskip("acts", reason="pyacts is not installed (pip install 'acts-gnn[acts]')")
    subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "make_example_event.py"),
            "--output",
            str(tmp_path),
            "--seed",
            "42",
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    committed = sorted(p.name for p in example_dir().glob("event*.csv"))
    assert sorted(p.name for p in tmp_path.glob("event*.csv")) == committed
    for name in committed:
        assert (tmp_path / name).read_bytes() == (example_dir() / name).read_bytes(), name
