"""ROOT reader: the ACTS writer layouts (written here with uproot), overrides and errors."""

from __future__ import annotations

import numpy as np
import pytest
import uproot

from acts_gnn.errors import ConfigError, InputFormatError
from acts_gnn.io.ids import pack_barcode
from acts_gnn.io.source import open_events


def _write(path, tree, columns):
    """A flat TTree, as ACTS's ROOT writers make."""
    with uproot.recreate(path) as handle:
        handle.mktree(tree, {k: np.asarray(v).dtype for k, v in columns.items()})
        handle[tree].extend({k: np.asarray(v) for k, v in columns.items()})


def test_spacepoint_tree_events_in_order(tmp_path):
    path = tmp_path / "sp.root"
    _write(
        path,
        "spacepoints",
        {
            "event_id": np.array([4, 4, 4, 7, 7], np.uint32),
            "measurement_id": np.array([10, 11, 12, 0, 1], np.uint64),
            "geometry_id": np.full(5, 8 << 56, np.uint64),
            "x": np.array([1, 2, 3, 4, 5], np.float32),
            "y": np.zeros(5, np.float32),
            "z": np.array([-1, 0, 1, 2, 3], np.float32),
        },
    )
    source = open_events([path])
    assert [r.event_id for r in source.refs] == [4, 7]
    first, second = list(source)
    np.testing.assert_array_equal(first.spacepoints.measurement_id, [10, 11, 12])
    np.testing.assert_array_equal(second.spacepoints.x, [4, 5])
    assert np.all(first.spacepoints.volume_id == 8)
    assert first.truth is None


def test_a_tracks_file_beside_root_events_is_not_an_input(tmp_path, run_cli):
    """A run's output written into the folder of its ROOT inputs: the next run reads the same
    events (it read the tracks file as one and failed on its missing tree)."""
    _write(
        tmp_path / "sp.root",
        "spacepoints",
        {
            "event_id": np.zeros(4, np.uint32),
            "measurement_id": np.arange(4, dtype=np.uint64),
            "x": np.array([30, 70, 110, 150], np.float32),
            "y": np.zeros(4, np.float32),
            "z": np.zeros(4, np.float32),
        },
    )
    for name in ("tracks.root", "tracks2.root"):
        result = run_cli("reconstruct", tmp_path, "--backend", "unrolling", "-o", tmp_path / name)
        assert result.exit_code == 0, result.stderr
    assert [ref.source for ref in open_events(tmp_path).refs] == [str(tmp_path / "sp.root")]
    (tmp_path / "sp.root").unlink()
    with pytest.raises(InputFormatError) as refused:
        open_events(tmp_path)
    assert str(refused.value) == f"{tmp_path}: holds acts-gnn tracks files only, no ROOT event file"


def test_hits_preset_packs_barcodes_into_particle_ids(tmp_path):
    path = tmp_path / "hits.root"
    _write(
        path,
        "hits",
        {
            "event_id": np.zeros(3, np.uint32),
            "geometry_id": np.full(3, 13 << 56, np.uint64),
            "tx": np.array([260, 360, 500], np.float32),
            "ty": np.zeros(3, np.float32),
            "tz": np.zeros(3, np.float32),
            "barcode_vertex_primary": np.array([1, 1, 2], np.uint32),
            "barcode_vertex_secondary": np.zeros(3, np.uint32),
            "barcode_particle": np.array([5, 5, 1], np.uint32),
            "barcode_generation": np.zeros(3, np.uint32),
            "barcode_sub_particle": np.zeros(3, np.uint32),
        },
    )
    (event,) = list(open_events([path], root_preset="hits"))
    expected = pack_barcode([1, 1, 2], [0, 0, 0], [5, 5, 1], [0, 0, 0], [0, 0, 0])
    np.testing.assert_array_equal(event.truth.particle_id, expected)
    np.testing.assert_array_equal(event.spacepoints.measurement_id, [0, 1, 2])
    assert expected[0] == (1 << 52) | (5 << 24)


def test_branch_overrides_and_unknown_key(tmp_path):
    path = tmp_path / "custom.root"
    _write(
        path,
        "points",
        {
            "evt": np.zeros(2, np.int32),
            "hx": np.array([1, 2], np.float64),
            "hy": np.zeros(2),
            "hz": np.zeros(2),
            "pid": np.array([3, 0], np.uint64),
        },
    )
    overrides = {
        "event_id": "evt",
        "x": "hx",
        "y": "hy",
        "z": "hz",
        "particle_id": "pid",
        "measurement_id": "",
    }
    (event,) = list(open_events([path], root_tree="points", root_branches=overrides))
    np.testing.assert_array_equal(event.truth.particle_id, [3, 0])
    with pytest.raises(ConfigError, match="unknown ROOT branch key 'colour'"):
        open_events([path], root_branches={"colour": "red"})


def test_missing_tree_and_branch_are_named(tmp_path):
    path = tmp_path / "wrong.root"
    _write(path, "something", {"a": np.zeros(2)})
    with pytest.raises(InputFormatError) as info:
        open_events([path])
    assert str(info.value) == (
        f"{path}: tree 'spacepoints': missing; the file has: something (choose with --tree)"
    )
    with pytest.raises(InputFormatError, match="branch 'event_id': missing"):
        open_events([path], root_tree="something")


def test_non_contiguous_events_are_refused(tmp_path):
    path = tmp_path / "mixed.root"
    _write(
        path,
        "spacepoints",
        {
            "event_id": np.array([1, 2, 1], np.uint32),
            "x": np.zeros(3),
            "y": np.zeros(3),
            "z": np.zeros(3),
        },
    )
    with pytest.raises(InputFormatError, match="entries of event 1 are not contiguous"):
        open_events([path])


def test_not_a_root_file(tmp_path):
    path = tmp_path / "text.root"
    path.write_text("hello")
    with pytest.raises(InputFormatError, match="not a readable ROOT file"):
        open_events([path])


@pytest.mark.parametrize(
    ("event_id", "found"),
    [
        (np.array([-3, -3, 1], np.int32), "int32 values -3…1"),
        (np.array([0.7, 0.7, 0.7]), "float64 values 0.7…0.7"),
    ],
    ids=["negative", "fractional"],
)
def test_event_numbers_that_are_no_event_numbers_are_refused(tmp_path, event_id, found):
    """They became files named event-00000003-… or were cut to 0 without a word."""
    path = tmp_path / "odd.root"
    columns = {"x": np.zeros(3), "y": np.zeros(3), "z": np.zeros(3)}
    _write(path, "spacepoints", {"event_id": event_id, **columns})
    with pytest.raises(InputFormatError) as info:
        open_events([path])
    assert str(info.value) == (
        f"{path}: tree 'spacepoints', branch 'event_id': expected one event number (an integer "
        f"of 0 or more) per entry, found {found}"
    )
    lists = tmp_path / "lists.root"
    with uproot.recreate(lists) as handle:
        handle["spacepoints"] = {
            "event_id": [[1, 2], [3]],
            "x": [0.0, 1.0],
            "y": [0.0, 1.0],
            "z": [0.0, 1.0],
        }
    with pytest.raises(InputFormatError, match="branch 'event_id': expected one event number"):
        open_events([lists])


def test_a_root_tree_without_truth_branches_says_how_to_map_one(tmp_path, run_cli):
    # the whole run went, then "no event has truth"; evaluate said "no truth in this input"
    path = tmp_path / "sp.root"
    columns = {
        "event_id": np.array([4, 4, 4], np.uint32),
        "measurement_id": np.array([10, 11, 12], np.uint64),
        "x": np.array([31, 72, 116], np.float32),
        "y": np.zeros(3, np.float32),
        "z": np.array([1, 2, 3], np.float32),
        "particle_id": np.array([5, 5, 5], np.uint64),
    }
    _write(path, "spacepoints", columns)
    out = tmp_path / "out"
    result = run_cli(
        "reconstruct", path, "--backend", "unrolling", "-o", out / "t.root", "--performance",
        out / "p.json",
    )  # fmt: skip
    assert result.exit_code == 2 and "(--branch particle_id=NAME)" in result.stderr
    assert not out.exists()
    result = run_cli("reconstruct", path, "--backend", "unrolling", "-o", out / "t.root")
    assert result.exit_code == 0, result.stderr
    result = run_cli("evaluate", out / "t.root", "-t", path)
    assert (result.exit_code, result.stderr) == (
        2,
        f"acts-gnn: error: {path}: no truth in this input; cannot evaluate (map its particle "
        "branch: --branch particle_id=NAME, or read ACTS's hits tree: --root-preset hits)\n",
    )
    mapped = ("--branch", "particle_id=particle_id")
    assert run_cli("evaluate", out / "t.root", "-t", path, *mapped).exit_code == 0
