"""Track outputs: ROOT tracks/timing trees, ACTS proto-track CSV, atomic writing, reading back."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot

from acts_gnn.event import Event, SpacePoints
from acts_gnn.io.tracks import TrackWriter, candidates, read_tracks
from acts_gnn.result import EventTiming, TrackingResult

NONE = 2**64 - 1


def _event(event_id: int = 3) -> Event:
    sp = SpacePoints(
        x=[1, 2, 3, 4, 5],
        y=[0, 0, 0, 0, 0],
        z=[10, 20, 30, 40, 50],
        measurement_id=[100, 101, 102, 103, 104],
        measurement_id_2=[NONE, NONE, 200, NONE, NONE],
    )
    return Event(event_id=event_id, spacepoints=sp)


def _result(labels, event_id=3) -> TrackingResult:
    timing = EventTiming(
        event_id=event_id,
        backend="test",
        n_spacepoints=len(labels),
        total_s=0.5,
        stages_s={"track_building": 0.25},
    )
    return TrackingResult(labels=np.array(labels), timing=timing)


def test_candidates_groups_points():
    track_id, offsets, members = candidates(np.array([1, -1, 0, 1, 0]))
    np.testing.assert_array_equal(track_id, [0, 1])
    np.testing.assert_array_equal(offsets, [0, 2, 4])
    np.testing.assert_array_equal(members, [2, 4, 0, 3])


def test_root_file_layout_and_round_trip(tmp_path):
    path = tmp_path / "tracks.root"
    with TrackWriter(path) as writer:
        writer.add(_event(3), _result([0, 0, 1, -1, 1]))
        writer.add(_event(4), _result([-1, -1, -1, -1, -1], 4))
    with uproot.open(path) as handle:
        tracks = handle["tracks"]
        assert tracks["event_id"].typename == "uint64_t"
        assert tracks["track_id"].typename == "int32_t"
        assert tracks["n_measurements"].typename == "int32_t"
        assert tracks["measurement_id"].typename == "uint64_t[]"
        data = tracks.arrays(library="ak").tolist()
        assert data == [
            {"event_id": 3, "track_id": 0, "n_measurements": 2, "measurement_id": [100, 101]},
            {"event_id": 3, "track_id": 1, "n_measurements": 2, "measurement_id": [102, 104]},
        ]
        timing = handle["timing"].arrays(library="np")
        np.testing.assert_array_equal(timing["event_id"], [3, 4])
        assert list(timing["backend"]) == ["test", "test"]
        np.testing.assert_allclose(timing["track_building_s"], [0.25, 0.25])
        assert np.isnan(timing["gnn_s"]).all()
    back = read_tracks(path)
    assert sorted(back) == [3, 4]
    np.testing.assert_array_equal(back[3][0], [0, 0, 1, 1])
    np.testing.assert_array_equal(back[3][1], [100, 101, 102, 104])
    assert back[4][0].size == 0


def test_the_run_record_travels_with_the_tracks(tmp_path):
    from acts_gnn.io.tracks import read_run_record
    from acts_gnn.result import RunRecord

    path = tmp_path / "tracks.root"
    finder = {"finder": "gnn", "fingerprints": {"gnn": "ab12"}}
    run = RunRecord(finder, "a machine", "2026-12-05T02:00:00+00:00", acts_gnn="0.1.0", threads=2)
    with TrackWriter(path, run=run) as writer:
        writer.add(_event(3), _result([0, 0, 1, -1, 1]))
    assert read_run_record(path) == run
    with uproot.open(path) as handle:  # beside the two trees, not in place of one
        assert sorted(key.split(";")[0] for key in handle.keys()) == ["run", "timing", "tracks"]
    older = tmp_path / "older.root"  # written before the record was kept
    with TrackWriter(older) as writer:
        writer.add(_event(3), _result([0, 0, 1, -1, 1]))
    assert read_run_record(older) is None and read_run_record(tmp_path) is None


def test_prototrack_csv_has_both_strip_measurements(tmp_path):
    with TrackWriter(csv_dir=tmp_path / "csv") as writer:
        writer.add(_event(3), _result([0, 0, 1, -1, 1]))
    text = (tmp_path / "csv" / "event000000003-prototracks.csv").read_text()
    assert text.splitlines() == [
        "trackId,measurementId,x,y,z",
        "0,100,1,0,10",
        "0,101,2,0,20",
        "1,102,3,0,30",
        "1,200,3,0,30",
        "1,104,5,0,50",
    ]
    back = read_tracks(tmp_path / "csv")
    np.testing.assert_array_equal(back[3][1], [100, 101, 102, 200, 104])


def test_interrupted_writing_leaves_nothing(tmp_path):
    path = tmp_path / "tracks.root"
    with pytest.raises(RuntimeError, match="boom"), TrackWriter(path, tmp_path / "csv") as writer:
        writer.add(_event(3), _result([0, 0, 1, -1, 1]))
        raise RuntimeError("boom")
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []  # the CSV directory it made is gone too


def test_interrupted_writing_removes_the_directory_both_outputs_share(tmp_path):
    out = tmp_path / "out"  # -o out/t.root --csv-dir out/csv: the CSV writer makes out/
    with pytest.raises(RuntimeError, match="boom"), TrackWriter(out / "t.root", out / "csv") as w:
        w.add(_event(3), _result([0, 0, 1, -1, 1]))
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_an_existing_csv_directory_is_kept_when_writing_is_interrupted(tmp_path):
    (tmp_path / "csv").mkdir()
    with pytest.raises(RuntimeError, match="boom"), TrackWriter(None, tmp_path / "csv") as writer:
        writer.add(_event(3), _result([0, 0, 1, -1, 1]))
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == [tmp_path / "csv"]
    assert list((tmp_path / "csv").iterdir()) == []


def test_a_truncated_tracks_file_is_one_input_error_wherever_it_is_cut(tmp_path):
    from acts_gnn.errors import InputFormatError

    whole = tmp_path / "tracks.root"
    with TrackWriter(whole) as writer:
        writer.add(_event(3), _result([0, 0, 1, -1, 1]))
    data = whole.read_bytes()
    cut = tmp_path / "cut.root"
    refused = 0
    for size in range(0, len(data), 61):
        cut.write_bytes(data[:size])
        try:
            back = read_tracks(cut)
        except InputFormatError as exc:
            assert str(exc).startswith(f"{cut}: not a readable ROOT file ("), str(exc)
            refused += 1
        else:  # cut where nothing it reads was: the same candidates
            np.testing.assert_array_equal(back[3][1], [100, 101, 102, 104])
    assert refused > len(data) // 61 // 2


def test_a_negative_track_id_is_refused_not_dropped(tmp_path):
    from acts_gnn.errors import InputFormatError
    from acts_gnn.io.tracks import read_prototracks_with_positions

    csv_dir = tmp_path / "csv"
    csv_dir.mkdir()
    path = csv_dir / "event000000003-prototracks.csv"
    path.write_text("trackId,measurementId\n0,100\n0,101\n-1,102\n-1,104\n")
    for read in (read_tracks, lambda _p: read_prototracks_with_positions(path)):
        with pytest.raises(InputFormatError) as refused:
            read(csv_dir)
        assert str(refused.value) == (
            f"{path}: line 4, column 'trackId': expected an integer of 0 or more, found -1"
        )
    root = tmp_path / "tracks.root"
    with uproot.recreate(root) as handle:
        handle["tracks"] = {
            "event_id": np.array([3, 3], dtype=np.uint64),
            "track_id": np.array([0, -2], dtype=np.int32),
            "measurement_id": ak.Array([[100, 101], [102, 104]]),
        }
    with pytest.raises(InputFormatError) as refused:
        read_tracks(root)
    assert str(refused.value) == (
        f"{root}: tree 'tracks', branch 'track_id', entry 1: "
        "expected an integer of 0 or more, found -2"
    )
