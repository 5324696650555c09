"""The terminal shows what the code says: units in brackets, paths with brackets, plain help."""

from __future__ import annotations

import io
from importlib.metadata import version

import pytest
from rich.console import Console

from acts_gnn.io.timing import TimingReport
from acts_gnn.result import EventTiming

COMMANDS = ["reconstruct", "evaluate", "simulate", "train", "serve", "export-repo", "benchmark"]


def _render(renderable) -> str:
    """As an ordinary rich console (markup on) prints it."""
    console = Console(file=io.StringIO(), width=200, markup=True)
    console.print(renderable)
    return console.file.getvalue()


def test_the_timing_table_keeps_its_units_on_any_console():
    timings = [EventTiming(1, "gnn", 100, 0.5, stages_s={"graph_building": 0.2})]
    text = _render(TimingReport.from_timings(timings, 1.0).table())
    for header in ("mean [ms]", "median [ms]", "p95 [ms]"):
        assert header in text
    # a total below the read time above it read as wrong: reading is timed apart
    assert "total (without read)" in text


def test_the_performance_table_keeps_its_texts(run_cli, tmp_path):
    result = run_cli("reconstruct", "--example", "--backend", "truth", "-o", tmp_path / "t.root")
    assert result.exit_code == 0, result.stderr
    assert "mean [ms]" in result.stdout and "p95 [ms]" in result.stdout
    assert "≥ 3 sp" in result.stdout and "TrackML score" in result.stdout
    assert result.stderr == f"wrote {tmp_path / 't.root'}\n"  # stderr: what it did, not results


def test_a_path_with_brackets_is_printed_whole(run_cli, tmp_path):
    out = tmp_path / "run[1]" / "tracks[mu200].root"
    out.parent.mkdir()
    result = run_cli("reconstruct", "--example", "--backend", "truth", "-o", out)
    assert result.exit_code == 0, result.stderr
    assert f"wrote {out}" in result.stderr


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_shows_no_bool_metavar(run_cli, command):
    result = run_cli(*([command] if command else []), "--help")
    assert result.exit_code == 0
    assert "<bool>" not in result.stdout and "--help" in result.stdout


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_h_is_help(run_cli, command):  # "No such option: -h"
    words = [command] if command else []
    assert run_cli(*words, "-h").stdout == run_cli(*words, "--help").stdout != ""


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_plain_value_types(run_cli, command):
    # arguments taking several values showed typer's annotation: "INPUTS <list[Path]>"
    text = run_cli(command, "--help").stdout
    assert "list[" not in text and "Path]" not in text
    if command in ("reconstruct", "benchmark"):
        assert "INPUTS <path>..." in text


def test_help_keeps_units_in_brackets(run_cli):
    result = run_cli("evaluate", "--help")
    assert "production radius [mm]" in " ".join(result.stdout.split())
    assert "minimum pT [GeV]" in " ".join(result.stdout.split())


def test_the_command_list_says_each_command_whole(run_cli):
    # the first sentences of the commands' own help were cut there: "write tracks,..."
    commands = run_cli("--help").stdout.split("Commands:", 1)[1].splitlines()
    lines = [line.strip() for line in commands if line.strip()]
    assert len(lines) == 7 and not any(line.endswith("...") for line in lines), lines


def test_version(run_cli):
    result = run_cli("--version")
    assert (result.exit_code, result.stdout) == (0, f"acts-gnn {version('acts-gnn')}\n")


def test_branch_help_lists_every_key_a_root_layout_takes(run_cli):
    import dataclasses
    import re

    from acts_gnn.io.root import RootLayout

    keys = {f.name for f in dataclasses.fields(RootLayout)}
    for command in ("reconstruct", "evaluate"):
        text = " ".join(run_cli(command, "--help").stdout.split())
        listed = re.search(r"KEY: ([a-z_0-9, ]+)\.", text)
        assert listed is not None, command
        assert set(listed[1].split(", ")) == keys, command


def test_what_compiled_code_prints_goes_to_stderr_with_the_messages():
    # ACTS's C++ log lines (std::cout) went to stdout, between the tables
    import subprocess
    import sys

    script = (
        "import ctypes, os\n"
        "from acts_gnn.cli._console import native_output_to_stderr\n"
        "with native_output_to_stderr():\n"
        "    os.write(1, b'written\\n')\n"
        "    ctypes.CDLL(None).printf(b'buffered by C\\n')\n"
        "print('table')\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert (run.returncode, run.stdout, run.stderr) == (0, "table\n", "written\nbuffered by C\n")
