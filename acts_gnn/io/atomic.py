"""Write files atomically: to a temporary name in the same directory, then rename.

Layer: io.

An interrupted run (error, Ctrl-C, kill) never leaves a half-written output under its final name:
either the complete file appears or nothing does.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from acts_gnn.errors import OutputError

__all__ = ["atomic_path", "write_text_atomic"]


@contextlib.contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; rename it to ``final`` when the block succeeds.

    On any exception the temporary file is removed and ``final`` is left untouched.

    Raises:
        OutputError: the directory does not exist or is not writable.
    """
    final = Path(final)
    directory = final.parent if str(final.parent) else Path(".")
    if not directory.is_dir():
        raise OutputError(f"{final}: output directory {directory} does not exist")
    try:
        fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=directory)
    except OSError as exc:
        raise OutputError(f"{final}: cannot write in {directory} ({exc.strerror})") from exc
    os.close(fd)
    temporary = Path(name)
    try:
        yield temporary
        os.replace(temporary, final)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_text_atomic(final: str | Path, text: str) -> None:
    """Write ``text`` to ``final`` atomically (UTF-8)."""
    with atomic_path(final) as temporary:
        temporary.write_text(text, encoding="utf-8")
