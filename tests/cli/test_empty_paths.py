"""An empty path is refused: the parser took it as the current directory (``-o "$UNSET"``)."""

from __future__ import annotations

import pytest

EMPTY = "an empty path (an unset variable?); give a path"


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["simulate", "-o", ""], "-o"),  # wrote the events into the working directory
        (["reconstruct", "--example", "-o", "x.root", "--csv-dir="], "--csv-dir"),
        (["reconstruct", "--example", "--output", ""], "--output"),
        (["train", "--train", "", "--val", "v", "-o", "b"], "--train"),
        (["evaluate", "t.root", "--example", "--plots", ""], "--plots"),
        (["export-repo", "", "--force"], None),
        (["reconstruct", "", "-o", "x.root"], None),
    ],
)
def test_an_empty_path_is_one_line(run_cli, tmp_path, monkeypatch, args, option):
    monkeypatch.chdir(tmp_path)
    result = run_cli(*args)
    message = (
        f"{option}: {EMPTY}" if option else EMPTY.replace("path", "path among the arguments", 1)
    )
    assert (result.exit_code, result.stderr) == (2, f"acts-gnn: error: {message}\n")
    assert list(tmp_path.iterdir()) == []


def test_an_empty_value_of_an_option_that_takes_no_path_is_the_command_s_to_judge(run_cli):
    result = run_cli("serve", "--access-token", "", "--model", "nope")
    assert result.exit_code == 2 and "unknown model 'nope'" in result.stderr
