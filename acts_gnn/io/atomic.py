"""Write files atomically: to a temporary name in the same directory, then rename.

Layer: io.

An interrupted run (error, Ctrl-C, kill) never leaves a half-written output under its final name:
either the complete file appears or nothing does. What appears has the permissions any other
program's new file has (0666 or 0777 less the umask), not the 0600 of a private temporary file:
outputs in a shared directory stay readable by the group that shares it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from acts_gnn.errors import OutputError

__all__ = ["atomic_path", "new_dir_mode", "new_file_mode", "write_text_atomic"]


def _umask() -> int:
    """The process's umask, read without changing it where Linux shows it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: read it by setting it, and put it back at once
    os.umask(mask)
    return mask


def new_file_mode() -> int:
    """The permissions ``open(path, "w")`` would give a new file (0666 less the umask)."""
    return 0o666 & ~_umask()


def new_dir_mode() -> int:
    """The permissions ``mkdir`` would give a new directory (0777 less the umask)."""
    return 0o777 & ~_umask()


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
    os.chmod(temporary, new_file_mode())  # mkstemp makes it 0600, private to its owner
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
