"""The rich console every command prints through.

Layer: cli.

Text is printed as it is: rich would read lowercase words in brackets as markup, so units
(``mean [ms]``), paths (``run[1].root``) and messages that carry them would lose those brackets;
and a line is never broken where the terminal ends (a log file keeps ``wrote PATH`` whole).
Colour comes from ``style=``, never from markup inside the text.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

__all__ = ["make_console", "native_output_to_stderr", "silence_stdout"]


def make_console(*, stderr: bool = False, quiet: bool = False) -> Any:
    """A ``rich.console.Console`` that never interprets markup in what it prints.

    On the standard output, a reader that leaves (``| head``) stops the printing, not the
    command: what it was doing (writing its outputs) goes on, and it ends as it would have.
    """
    from rich.console import Console

    file = None if stderr else _ReaderMayLeave()
    return Console(stderr=stderr, quiet=quiet, markup=False, soft_wrap=True, file=file)


class _ReaderMayLeave:
    """``sys.stdout``, except that once its reader has left (a closed pipe) what is printed
    goes nowhere instead of raising :class:`BrokenPipeError`; another failure (a full disk)
    names the standard output."""

    def __init__(self) -> None:
        self._gone = False

    def write(self, text: str) -> int:
        if not self._gone:
            try:
                return sys.stdout.write(text)
            except OSError as exc:
                self._failed(exc)
        return len(text)

    def flush(self) -> None:
        if not self._gone:
            try:
                sys.stdout.flush()
            except OSError as exc:
                self._failed(exc)

    def _failed(self, exc: OSError) -> None:
        if isinstance(exc, BrokenPipeError):
            self._gone = silence_stdout()
            return
        silence_stdout()  # what it still buffers would fail again at exit
        raise OSError(exc.errno, exc.strerror, "the standard output") from exc

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding: the stream's own
        return getattr(sys.stdout, name)


def silence_stdout() -> bool:
    """Point the standard output at /dev/null (its reader left): what is still buffered, and
    the interpreter's last flush, go nowhere instead of raising again. Returns True."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, AttributeError, ValueError):  # no file descriptor (a test's capture)
        pass
    return True


@contextlib.contextmanager
def native_output_to_stderr() -> Iterator[None]:
    """Inside the block, what compiled libraries write past Python to the standard output (ACTS's
    C++ log lines on ``std::cout``) goes to stderr with the command's other messages: stdout
    keeps the tables."""
    import ctypes

    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no standard output (closed: ``>&-``): nothing to keep apart
        yield
        return
    try:
        os.dup2(2, 1)
        yield
    finally:
        ctypes.CDLL(None).fflush(None)  # C's buffered output, before stdout is given back
        os.dup2(saved, 1)
        os.close(saved)
