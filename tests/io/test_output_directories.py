"""Output directories (a bundle, a model repository): what is refused before any work."""

from __future__ import annotations

import os

import pytest

from acts_gnn.errors import OutputRefusedError
from acts_gnn.io.atomic import check_output_directory


def _check(path, overwrite=False):
    check_output_directory(
        path, overwrite=overwrite, kind="a thing", is_kind=lambda d: (d / "thing").exists()
    )


def test_new_empty_and_own_directories_pass_others_are_refused(tmp_path):
    _check(tmp_path / "new" / "deeper")  # made later, with its parents
    (tmp_path / "empty").mkdir()
    _check(tmp_path / "empty")
    (tmp_path / "own").mkdir()
    (tmp_path / "own" / "thing").write_text("")
    with pytest.raises(OutputRefusedError, match=r"own: a thing is there already \(use --force"):
        _check(tmp_path / "own")
    _check(tmp_path / "own", overwrite=True)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("")
    for overwrite in (False, True):
        with pytest.raises(OutputRefusedError, match="other: holds files that are not a thing"):
            _check(tmp_path / "other", overwrite)
    with pytest.raises(OutputRefusedError, match=r"notes\.txt: is a file, not a directory"):
        _check(tmp_path / "other" / "notes.txt", True)


def test_an_existing_directory_is_refused_when_nothing_can_be_written_in_it(tmp_path, monkeypatch):
    (tmp_path / "own").mkdir()
    (tmp_path / "own" / "thing").write_text("")
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: real(p, mode) and p != tmp_path / "own")
    message = f"{tmp_path / 'own'}: cannot write in {tmp_path / 'own'} \\(permission denied\\)"
    with pytest.raises(OutputRefusedError, match=message):
        _check(tmp_path / "own", overwrite=True)


def test_a_directory_where_a_file_goes_is_refused_even_with_force(tmp_path):
    from acts_gnn.io.atomic import check_output

    (tmp_path / "report.json").mkdir()
    for overwrite in (False, True):
        with pytest.raises(OutputRefusedError) as error:
            check_output(tmp_path / "report.json", overwrite=overwrite)
        assert str(error.value) == f"{tmp_path / 'report.json'}: is a directory, not a file"


def test_a_device_or_pipe_where_a_file_goes_is_refused_even_with_force(run_cli, tmp_path):
    """--force replaced /dev/full with a ROOT file (run as root: /dev/null would go too)."""
    from acts_gnn.io.atomic import check_output

    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    for overwrite in (False, True):
        with pytest.raises(OutputRefusedError) as error:
            check_output(pipe, overwrite=overwrite)
        assert str(error.value) == (
            f"{pipe}: is not a regular file (a device, a pipe or a socket): give a file path"
        )
    # the system's directories, whatever their entries lead to: /dev/stdout is a link that
    # leads to a regular file when the output is redirected to one ("already exists" said
    # --force would do, and --force would have renamed a file over the link)
    for path in ("/dev/null", "/dev/stdout", "/proc/self/fd/1", "/sys/kernel/x", "/dev/new"):
        for overwrite in (False, True):
            with pytest.raises(OutputRefusedError) as error:
                check_output(path, overwrite=overwrite)
            top = path.split("/")[1]
            assert str(error.value) == (
                f"{path}: is in /{top}, the system's (a device or a process's file): give a "
                "file path"
            )
    result = run_cli("reconstruct", "--example", "--backend", "truth", "-o", pipe, "--force")
    assert result.exit_code == 2 and "is not a regular file" in result.stderr
    assert pipe.is_fifo()


def test_a_file_name_too_long_is_refused_before_any_work(tmp_path):
    """It failed with "File name too long" when written: exit 1, after the work."""
    from acts_gnn.io.atomic import check_output

    check_output(tmp_path / ("a" * 240), overwrite=False)  # 240 + 15 for its temporary name
    long = tmp_path / ("a" * 241)
    with pytest.raises(OutputRefusedError) as error:
        check_output(long, overwrite=False)
    assert str(error.value) == (
        f"{long}: file name longer than 240 bytes (the file system takes 255, less room for the "
        "temporary name it is written under)"
    )
