"""The rich console every command prints through.

Layer: cli.

Text is printed as it is: rich would read lowercase words in brackets as markup, so units
(``mean [ms]``), paths (``run[1].root``) and messages that carry them would lose those brackets;
and a line is never broken where the terminal ends (a log file keeps ``wrote PATH`` whole).
Colour comes from ``style=``, never from markup inside the text.
"""

from __future__ import annotations

from typing import Any

__all__ = ["make_console"]


def make_console(*, stderr: bool = False, quiet: bool = False) -> Any:
    """A ``rich.console.Console`` that never interprets markup in what it prints."""
    from rich.console import Console

    return Console(stderr=stderr, quiet=quiet, markup=False, soft_wrap=True)
