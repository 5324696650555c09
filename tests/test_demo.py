"""``make demo`` runs the main job: the shipped GNN model on the example event, not the truth."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _demo_commands() -> list[list[str]]:
    """The acts-gnn command lines ``make demo`` runs (``make -n``: printed, not run)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    printed = subprocess.run(
        ["make", "-n", "-W", "pyproject.toml", "demo", "VENV=.venv-never"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.replace("\\\n", " ")
    return [
        shlex.split(line)[1:]
        for line in printed.splitlines()
        if line.strip().startswith(".venv-never/bin/acts-gnn ")
    ]


def test_the_demo_reconstructs_with_the_shipped_model_first(run_cli, tmp_path):
    commands = _demo_commands()
    reconstructs = [c for c in commands if c[0] == "reconstruct"]
    first = reconstructs[0]
    assert "--backend" not in first  # the default backend: the shipped GNN model
    assert "--example" in first and "--bundle" not in first
    # the truth upper bound, if shown, comes after the model's result and writes its own files
    for later in reconstructs[1:]:
        assert later[later.index("--backend") + 1] == "truth"
        assert later[later.index("-o") + 1] != first[first.index("-o") + 1]
    # the first command, run here (outputs in a temporary directory), runs the GNN pipeline
    args = list(first)
    for option in ("-o", "--csv-dir", "--timing", "--performance"):
        if option in args:
            i = args.index(option) + 1
            args[i] = str(tmp_path / Path(args[i]).name)
    result = run_cli(*args, "--quiet")
    assert result.exit_code == 0, result.stderr
    timing = json.loads((tmp_path / "timing.json").read_text())
    assert timing["summary"]["backends"] == ["gnn"]
    assert {"embedding_s", "graph_building_s", "gnn_s"} <= set(timing["summary"]["seconds"])


def test_the_demo_shows_the_truth_bound_only_labelled():
    makefile = (REPO / "Makefile").read_text()
    demo = makefile[makefile.index("\ndemo:") : makefile.index("\n\n", makefile.index("\ndemo:"))]
    truth = demo.index("--backend truth")
    assert "for comparison only: the truth upper bound" in demo[:truth]
