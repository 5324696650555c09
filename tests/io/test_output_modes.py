"""Outputs follow the umask like any other program's files (not mkstemp's private 0600)."""

from __future__ import annotations

import os
import stat

import pytest


@pytest.fixture(params=[0o022, 0o027])
def umask(request):
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_every_output_of_reconstruct_and_evaluate(run_cli, tmp_path, umask):
    out = tmp_path / "out"
    result = run_cli(
        "reconstruct",
        "--example",
        "--backend",
        "truth",
        "-q",
        "-o",
        out / "tracks.root",
        "--csv-dir",
        out / "csv",
        "--timing",
        out / "timing.json",
        "--performance",
        out / "performance.json",
    )
    assert result.exit_code == 0, result.stderr
    result = run_cli(
        "evaluate",
        out / "tracks.root",
        "--example",
        "-q",
        "--json",
        out / "evaluate.json",
        "--plots",
        out / "plots",
    )
    assert result.exit_code == 0, result.stderr
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) >= 8  # tracks, one CSV, 3 reports, 3 plots
    assert {p.name: _mode(p) for p in files} == {p.name: 0o666 & ~umask for p in files}
    dirs = [out, *(p for p in out.rglob("*") if p.is_dir())]
    assert {p.name: _mode(p) for p in dirs} == {p.name: 0o777 & ~umask for p in dirs}


def test_an_exported_repository(run_cli, tmp_path, umask):
    result = run_cli("export-repo", tmp_path / "repo", "--model", "unrolling_tracking")
    assert result.exit_code == 0, result.stderr
    assert _mode(tmp_path / "repo") == 0o777 & ~umask
    assert _mode(tmp_path / "repo" / "unrolling_tracking" / "config.pbtxt") == 0o666 & ~umask
