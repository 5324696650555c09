"""A rich progress bar over events, shared by the commands.

Layer: cli.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["event_progress"]


@contextlib.contextmanager
def event_progress(console: Any, total: int, label: str) -> Iterator[Callable[..., None]]:
    """Yield a callback that advances a bar of ``total`` events (silent on a quiet console)."""
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
