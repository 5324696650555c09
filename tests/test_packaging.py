"""The wheel a user builds carries what ``acts-gnn reconstruct --example`` needs.

``make wheel-check`` goes further: it installs the wheel in a fresh environment and runs it.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_the_wheel_holds_the_model_the_example_and_the_command(tmp_path):
    pytest.importorskip("setuptools", reason="setuptools is needed to build the wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("acts_gnn-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {
        p.relative_to(REPO).as_posix()
        for p in (REPO / "acts_gnn" / "data").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert shipped and shipped <= names
    assert "acts_gnn/data/default_model/bundle.json" in names
    assert "acts_gnn/data/example/event000000000-spacepoint.csv" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "acts-gnn = acts_gnn.cli.main:_console_main" in text
    assert not any(n.startswith("tests/") for n in names)
