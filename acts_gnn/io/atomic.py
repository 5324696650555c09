"""Write files atomically: to a temporary name in the same directory, then rename.

Layer: io.

Every command treats an output path the same way: checked before any work
(:func:`check_output`: an existing one needs ``--force``), missing parent directories created
when it is written, like ``mkdir -p``. An interrupted run (error, Ctrl-C, kill) never leaves a
half-written output under its final name: either the complete file appears or nothing does.
What appears has the permissions any other program's new file has (0666 or 0777 less the
umask), not the 0600 of a private temporary file: outputs in a shared directory stay readable by
the group that shares it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

from acts_gnn.errors import OutputError, OutputRefusedError

__all__ = [
    "atomic_path",
    "check_output",
    "check_output_directory",
    "check_still_absent",
    "make_parents",
    "new_dir_mode",
    "new_file_mode",
    "refuse_inputs_as_outputs",
    "refuse_system_path",
    "write_text_atomic",
]


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


def check_output(path: str | Path, *, overwrite: bool) -> None:
    """Refuse, before any work, an output that exists (unless ``overwrite``) or cannot be made.

    Missing parent directories are fine (they are created when the output is written); a parent
    that is a file, or a directory this process cannot write in, is not.

    Raises:
        OutputRefusedError: as above, or a directory where the file would go (exit code 2:
            nothing was done).
    """
    if str(path) == "-":  # many tools read it as the standard output: here it would be a file
        raise OutputRefusedError("-: not the standard output here; give a file path")
    path = Path(path)
    refuse_system_path(path, "file")  # a file is renamed over what is there
    if path.is_dir():  # --force replaces files, never a directory (its rename would fail last)
        raise OutputRefusedError(f"{path}: is a directory, not a file")
    if path.exists() and not path.is_file():  # --force would put a file in place of /dev/null
        raise OutputRefusedError(
            f"{path}: is not a regular file (a device, a pipe or a socket): give a file path"
        )
    if path.exists() and not overwrite:
        raise OutputRefusedError(f"{path}: already exists (use --force to replace it)")
    # written first as ".NAME.XXXXXXXX.part" beside it (tempfile's 8 characters)
    longest = _NAME_MAX - len(".") - len(".XXXXXXXX.part")
    if len(os.fsencode(path.name)) > longest:
        raise OutputRefusedError(
            f"{path}: file name longer than {longest} bytes (the file system takes {_NAME_MAX}, "
            "less room for the temporary name it is written under)"
        )
    _check_creatable(path)


def refuse_inputs_as_outputs(outputs: Mapping[str, Path | None], inputs: Iterable[Path]) -> None:
    """Refuse an output (option → path; None: not given) that is one of the run's ``inputs``
    (the same file, by any name or link): ``--force`` would replace the data the run reads.

    Raises:
        OutputRefusedError: such an output (exit code 2: nothing was done).
    """
    existing = {option: Path(path) for option, path in outputs.items() if path is not None}
    existing = {option: path for option, path in existing.items() if path.is_file()}
    if not existing:
        return
    read = {_identity(Path(path)) for path in inputs}
    for option, path in existing.items():
        if _identity(path) in read:
            raise OutputRefusedError(
                f"{option} {path}: is an input of this run; give another path (--force never "
                "replaces an input)"
            )


def _identity(path: Path) -> tuple[int, int] | Path:
    """The file ``path`` names (device and inode), whatever name or link it is reached by."""
    try:
        status = path.stat()
    except OSError:
        return path.resolve()
    return (status.st_dev, status.st_ino)


def refuse_system_path(path: str | Path, kind: str) -> None:
    """Refuse an output (a ``kind``: file, directory) in /dev, /proc or /sys, the system's.

    Raises:
        OutputRefusedError: it is there (exit code 2: nothing was done).
    """
    system = Path(os.path.abspath(path)).parts[1:2]  # as named: /dev/stdout links elsewhere
    if system and system[0] in _SYSTEM_DIRECTORIES:
        raise OutputRefusedError(
            f"{path}: is in /{system[0]}, the system's (a device or a process's file): give a "
            f"{kind} path"
        )


#: top-level directories whose entries are the system's, never an output's
_SYSTEM_DIRECTORIES = ("dev", "proc", "sys")
#: the longest file name Linux file systems take (bytes)
_NAME_MAX = 255


def _check_creatable(path: Path) -> None:
    """Refuse ``path`` when its nearest existing ancestor is a file or takes no new files."""
    ancestor = path.parent  # Path("name").parent is Path(".")
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputRefusedError(f"{path}: {ancestor} is not a directory")
    _check_writable(path, ancestor)


def _check_writable(path: Path, directory: Path) -> None:
    """Refuse ``path`` unless a file can be made in ``directory`` (and removed again)."""
    if not os.access(directory, os.W_OK | os.X_OK):
        raise OutputRefusedError(f"{path}: cannot write in {directory} (permission denied)")
    # the permission bits do not tell it all (root may write anywhere by them, but not in /sys
    # or on a read-only mount): make a file there and remove it again
    try:
        fd, probe = tempfile.mkstemp(prefix=".acts-gnn-probe.", dir=directory)
        os.close(fd)
        os.unlink(probe)  # (a directory that takes new files but lets none go is refused too)
    except OSError as exc:
        raise OutputRefusedError(f"{path}: cannot write in {directory} ({exc.strerror})") from exc


def check_output_directory(
    path: str | Path, *, overwrite: bool, kind: str, is_kind: Callable[[Path], bool]
) -> None:
    """Refuse, before any work, an output that is a directory of ``kind`` (a model bundle, a
    model repository): a file there; a directory of ``kind`` without ``overwrite``; a directory
    that holds anything else (never replaced, ``--force`` or not: its files would be lost or
    mixed in); one that cannot be made (as :func:`check_output`). ``is_kind`` tells whether a
    non-empty directory is one of ``kind``.

    Raises:
        OutputRefusedError: as above (exit code 2: nothing was done).
    """
    path = Path(path)
    refuse_system_path(path, "directory")
    if path.exists() and not path.is_dir():
        raise OutputRefusedError(f"{path}: is a file, not a directory")
    if path.is_dir() and any(path.iterdir()):
        if not is_kind(path):
            raise OutputRefusedError(
                f"{path}: holds files that are not {kind}; give a new or empty directory"
            )
        if not overwrite:
            raise OutputRefusedError(f"{path}: {kind} is there already (use --force to replace it)")
    _check_creatable(path)
    if path.is_dir():  # its files are written, or replaced, in it
        _check_writable(path, path)


def make_parents(path: str | Path) -> Path:
    """Create the directory ``path`` goes in (and its parents); returns it.

    Raises:
        OutputError: it cannot be created.
    """
    directory = Path(path).parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{path}: cannot create directory {directory} ({exc.strerror})") from exc
    return directory


@contextlib.contextmanager
def atomic_path(final: str | Path, *, replace: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; rename it to ``final`` when the block succeeds.

    On any exception the temporary file is removed and ``final`` is left untouched. A missing
    directory is created first. ``replace`` False: a ``final`` that appeared meanwhile (another
    run writing the same output, checked absent at the start) is left as it is, and refused.

    Raises:
        OutputError: the directory cannot be created or written in; ``final`` appeared
            meanwhile (``replace`` False).
    """
    final = Path(final)
    # the directories made here are removed again on failure
    made = [d for d in (final.parent, *final.parent.parents) if not d.exists()]
    directory = make_parents(final)
    try:
        fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=directory)
    except OSError as exc:
        raise OutputError(f"{final}: cannot write in {directory} ({exc.strerror})") from exc
    os.close(fd)
    temporary = Path(name)
    os.chmod(temporary, new_file_mode())  # mkstemp makes it 0600, private to its owner
    try:
        yield temporary
        _put_in_place(temporary, final, replace)
    except BaseException:
        temporary.unlink(missing_ok=True)
        for made_dir in made:  # innermost first; only while empty
            with contextlib.suppress(OSError):
                made_dir.rmdir()
        raise


def _put_in_place(temporary: Path, final: Path, replace: bool) -> None:
    """Rename ``temporary`` to ``final``; without ``replace`` never over a file there (a hard
    link fails on one; a file system without hard links is checked first, a narrow race)."""
    if replace:
        os.replace(temporary, final)
        return
    try:
        os.link(temporary, final)
    except FileExistsError:
        raise _appeared(final) from None
    except OSError:  # no hard links here
        if final.exists():
            raise _appeared(final) from None
        os.replace(temporary, final)
        return
    temporary.unlink()


def check_still_absent(final: str | Path) -> None:
    """Refuse ``final`` if it exists now: an output checked absent at the start that another
    run wrote meanwhile. Called on every output of a run before the first is put in place, so
    that such a run leaves none of its outputs (only a file appearing in the moment between
    this check and the renames escapes it; :func:`atomic_path` still refuses that one).

    Raises:
        OutputError: it exists.
    """
    final = Path(final)
    if final.exists() or final.is_symlink():
        raise _appeared(final)


def _appeared(final: Path) -> OutputError:
    return OutputError(
        f"{final}: appeared while this run was writing it (another run with the same output?); "
        "left as it is and this run's not written (--force replaces)"
    )


def stage_file(
    staged: contextlib.ExitStack,
    final: str | Path,
    write: Callable[[Path], None],
    *,
    replace: bool = True,
) -> Path:
    """Make ``final`` by ``write(temporary)`` under a temporary name beside it, entered in
    ``staged``: closing ``staged`` renames it into place (with the other files staged there, for
    outputs that go all together); leaving ``staged`` with an exception removes it. Returns
    ``final``.

    ``replace`` False: a ``final`` that appeared meanwhile is refused (:func:`atomic_path`).

    Raises:
        OutputError: it cannot be written.
    """
    final = Path(final)
    try:
        write(staged.enter_context(atomic_path(final, replace=replace)))
    except OSError as exc:
        raise OutputError(f"{final}: cannot write it ({exc.strerror or exc})") from exc
    return final


def stage_text(
    staged: contextlib.ExitStack, final: str | Path, text: str, *, replace: bool = True
) -> Path:
    """:func:`stage_file` of ``text`` (UTF-8)."""
    return stage_file(
        staged,
        final,
        lambda temporary: temporary.write_text(text, encoding="utf-8"),
        replace=replace,
    )


def write_text_atomic(final: str | Path, text: str) -> None:
    """Write ``text`` to ``final`` atomically (UTF-8)."""
    with atomic_path(final) as temporary:
        temporary.write_text(text, encoding="utf-8")
