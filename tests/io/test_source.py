"""What ``open_events`` finds: the file named, one table per role, one kind of event per
directory, one event per number where outputs are kept by it."""

from __future__ import annotations

import shutil

import pytest

from acts_gnn.errors import InputFormatError
from acts_gnn.io.example import example_dir
from acts_gnn.io.source import open_events

EVENT = "event000000000"


@pytest.fixture
def event(tmp_path):
    """A copy of the example event (ACTS CSV: space points and measurements both)."""
    directory = tmp_path / "event"
    shutil.copytree(example_dir(), directory)
    return directory


def test_a_named_measurements_file_is_read_not_the_space_point_file_beside_it(event):
    (named,) = open_events(event / f"{EVENT}-measurements.csv").refs
    assert "spacepoint" not in named.files
    assert named.files["measurements"] == event / f"{EVENT}-measurements.csv"
    (directory,) = open_events(event).refs  # a directory's event reads its space points
    assert directory.files["spacepoint"] == event / f"{EVENT}-spacepoint.csv"
    (by_file,) = open_events([event / f"{EVENT}-spacepoint.csv"]).refs
    assert by_file.files == directory.files


def test_one_path_may_be_given_alone(event):
    assert open_events(event).refs == open_events(str(event)).refs == open_events([event]).refs


@pytest.mark.parametrize("paths", [42, [1], None])
def test_what_is_no_path_is_one_clear_refusal(paths):
    from acts_gnn.errors import ConfigError

    with pytest.raises(ConfigError) as raised:  # 42 was "'int' object is not iterable"
        open_events(paths)
    assert str(raised.value) == f"paths must be a path or a list of paths, got {paths!r}"


def test_paths_may_come_from_a_generator():
    assert len(open_events(p for p in [example_dir()])) == 1


def test_two_files_of_one_table_are_refused(event):
    shutil.copy(event / f"{EVENT}-spacepoint.csv", event / f"{EVENT}-spacepoint.csv.gz")
    with pytest.raises(InputFormatError) as error:
        open_events(event)
    assert str(error.value) == (
        f"{event / f'{EVENT}-spacepoint.csv.gz'}: {EVENT}-spacepoint.csv is the same table of "
        "the same event: keep one of them"
    )


def test_a_directory_reads_its_csv_events_beside_a_tracks_file_and_refuses_caches_beside(event):
    from acts_gnn.io.cache import save_event_npz

    (event / "tracks.root").write_bytes(b"")  # written beside its inputs: not an input
    (csv,) = open_events(event).refs
    assert csv.format == "acts-csv"
    save_event_npz(csv.load(), event / "event000000003.npz")
    with pytest.raises(InputFormatError) as error:
        open_events(event)
    assert str(error.value) == (
        f"{event}: holds CSV events and .npz caches (event000000003.npz, …): give the format "
        "(--format) or the files themselves"
    )
    assert [ref.format for ref in open_events(event, "npz").refs] == ["npz"]
    assert [ref.format for ref in open_events(event, "acts-csv").refs] == ["acts-csv"]


def test_two_events_of_one_number_are_refused_where_outputs_are_kept_by_number(event, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(event, other)
    both = open_events([event, other])  # training may read them both
    assert [ref.event_id for ref in both.refs] == [0, 0]
    with pytest.raises(InputFormatError) as error:
        both.check_distinct_ids()
    assert str(error.value) == (
        f"{other / f'{EVENT}-spacepoint.csv'}: event 0 is also "
        f"{event / f'{EVENT}-spacepoint.csv'}: tracks and reports are kept by event number, so "
        "one event's would replace the other's (give events of distinct numbers, in separate "
        "runs)"
    )
    for name in list(other.iterdir()):
        name.rename(other / name.name.replace(EVENT, "event000000001"))
    distinct = open_events([event, other])
    assert distinct.check_distinct_ids() is distinct
    with pytest.raises(
        InputFormatError, match=r"event000000000-spacepoint\.csv: event 0 is given twice$"
    ):
        open_events([event, event]).check_distinct_ids()


def test_reconstruct_refuses_two_events_of_one_number_before_any_work(event, tmp_path, run_cli):
    other = tmp_path / "other"
    shutil.copytree(event, other)
    out = tmp_path / "out"
    result = run_cli("reconstruct", event, other, "-o", out / "t.root", "--backend", "truth")
    assert result.exit_code == 2
    assert "event 0 is also" in result.stderr
    assert not out.exists()


def test_a_mistyped_root_preset_or_branch_is_refused_whatever_the_inputs(event):
    from acts_gnn.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^unknown ROOT preset 'foo'; choose one of"):
        open_events(event, root_preset="foo")
    with pytest.raises(ConfigError, match=r"^unknown ROOT branch key 'foo'; known keys:"):
        open_events(event, root_branches={"foo": "bar"})


def test_a_root_layout_for_inputs_that_hold_no_root_file_is_refused(event, run_cli, tmp_path):
    from acts_gnn.errors import ConfigError

    expected = (
        "a ROOT layout (--root-preset, --tree, --branch) was given, but no input is a ROOT "
        "file (the events are acts-csv files)"
    )
    for settings in (
        {"root_tree": "hits"},
        {"root_branches": {"x": "tx"}},
        {"root_preset": "hits"},
    ):
        with pytest.raises(ConfigError) as refused:
            open_events(event, **settings)
        assert str(refused.value) == expected
    assert len(open_events(event, root_preset="spacepoints")) == 1  # the default says nothing
    out = tmp_path / "tracks"
    result = run_cli("reconstruct", event, "-o", out, "--backend", "truth", "--tree", "hits")
    assert (result.exit_code, result.stderr) == (2, f"acts-gnn: error: {expected}\n")
    assert not out.exists()


def test_an_event_file_linked_to_nothing_is_refused_not_skipped(event, tmp_path):
    for name in (f"{EVENT}-spacepoint.csv", f"{EVENT}-measurements.csv"):
        (event / name).rename(tmp_path / name)  # the real file moved away: the link now dangles
        (event / name).symlink_to(tmp_path / "gone" / name)
        with pytest.raises(InputFormatError) as error:
            open_events(event)
        assert str(error.value) == (
            f"{event / name}: a link to {tmp_path / 'gone' / name}, which does not exist"
        )
        (event / name).unlink()
        (tmp_path / name).rename(event / name)
    (event / "notes.txt").symlink_to(tmp_path / "gone")  # not an event file: not read at all
    assert len(open_events(event).refs) == 1


def test_an_event_without_points_is_named(tmp_path):
    (tmp_path / "event000000007-particles.csv").write_text("particle_id\n1\n")
    with pytest.raises(InputFormatError) as error:
        open_events(tmp_path)
    assert str(error.value) == (
        f"{tmp_path}: event 7: no hits or space points (found -particles; expected -hits.csv "
        "or -spacepoint.csv)"
    )


def test_an_event_number_beyond_uint64_is_one_line(event, tmp_path, run_cli):
    # "internal error: OverflowError: Python int too large to convert to C long"
    big = tmp_path / "big"
    big.mkdir()
    number = "99999999999999999999"
    for path in event.iterdir():
        shutil.copy(path, big / path.name.replace(path.name.split("-")[0], f"event{number}"))
    result = run_cli("reconstruct", big, "--backend", "truth", "-o", tmp_path / "t.root")
    assert result.exit_code == 2
    assert result.stderr.endswith(
        f"event{number}-hits.csv: event number {number} in the name: expected at most 2^64 − 1\n"
    )
    assert not (tmp_path / "t.root").exists()
