"""Rich progress bars shared by the commands: over events, and over benchmark points.

Layer: cli.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["event_progress", "point_progress"]


@contextlib.contextmanager
def event_progress(console: Any, total: int, label: str) -> Iterator[Callable[..., None]]:
    """Yield a callback that advances a bar of ``total`` events (silent on a quiet console).

    Where the console is no terminal (a batch job's log) there is no bar: a run of several
    events prints a line on stderr at each tenth of them instead (``label: 10/100 events, 31
    s``), so that a log shows how far a long job got.
    """
    if not console.quiet and not console.is_terminal and total > 1:
        yield _log_lines(total, label)
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("{task.description}", style="bold", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=console.quiet or not console.is_terminal,
    ) as progress:
        task = progress.add_task(label, total=total)

        def advance(*_: object) -> None:
            progress.advance(task)

        yield advance


def _log_lines(total: int, label: str) -> Callable[..., None]:
    """An advance callback that prints ``label: done/total events, seconds`` to stderr at each
    tenth of ``total``."""
    import time

    from acts_gnn.cli._console import make_console

    log = make_console(stderr=True)
    start = time.monotonic()
    done = 0

    def advance(*_: object) -> None:
        nonlocal done
        done += 1
        if done * 10 // total > (done - 1) * 10 // total:
            log.print(f"{label}: {done}/{total} events, {time.monotonic() - start:.0f} s")

    return advance


@contextlib.contextmanager
def point_progress(
    console: Any,
) -> Iterator[tuple[Callable[[str, int], Callable[[], None]], Callable[[str], None]]]:
    """Yield ``start(label, n)`` — a new bar of ``n`` steps, returning its advance callback —
    and ``note(text)``, a line printed above the bars (the benchmark's points, one bar each)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:

        def start(label: str, n: int) -> Callable[[], None]:
            task = progress.add_task(label, total=n)
            return lambda: progress.advance(task)

        yield start, progress.console.print
