"""Progress where no terminal shows a bar: lines in the log at each tenth of the events."""

from __future__ import annotations

from acts_gnn.cli._console import make_console
from acts_gnn.cli._progress import event_progress


def _run(console, total: int) -> None:
    with event_progress(console, total, "reconstruct (gnn)") as advance:
        for _ in range(total):
            advance()


def test_a_log_gets_a_line_at_each_tenth_of_the_events(capsys):
    _run(make_console(stderr=True), 25)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(",")[0] for line in lines] == [
        f"reconstruct (gnn): {done}/25 events" for done in (3, 5, 8, 10, 13, 15, 18, 20, 23, 25)
    ]
    assert all(line.endswith(" s") for line in lines)
    _run(make_console(), 3)  # a command printing on stdout still logs its progress on stderr
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.splitlines()) == 3


def test_one_event_or_a_quiet_console_prints_nothing(capsys):
    _run(make_console(stderr=True), 1)
    _run(make_console(stderr=True, quiet=True), 25)
    assert capsys.readouterr() == ("", "")
