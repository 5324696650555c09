"""The reconstruction job: events in flight at once, written in input order, all or nothing."""

from __future__ import annotations

import re
import threading
import time

import numpy as np
import pytest

from acts_gnn.errors import ConfigError, InputFormatError, OutputError, RemoteInferenceError
from acts_gnn.finders import TruthTrackFinder
from acts_gnn.io.cache import save_event_npz
from acts_gnn.io.source import open_events
from acts_gnn.io.tracks import read_tracks
from acts_gnn.reco.job import ReconstructionOutputs, run_reconstruction
from tests.conftest import make_event

N_EVENTS = 9


@pytest.fixture
def source(tmp_path):
    (tmp_path / "in").mkdir()
    for i in range(N_EVENTS):
        particles = [1 + (k % (2 + i)) for k in range(12 + i)]
        event = make_event(particles, {p: 1.0 for p in set(particles)}, event_id=100 + i)
        save_event_npz(event, tmp_path / "in" / f"event{100 + i:09d}.npz")
    return open_events(sorted((tmp_path / "in").glob("*.npz")))


class SlowTruth:
    """The truth finder with a delay that shrinks with the event id; counts events in flight."""

    name = "slow-truth"

    def __init__(self, fail_event: int | None = None) -> None:
        self.truth = TruthTrackFinder()
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most_in_flight = 0
        self.fail_event = fail_event

    def reconstruct(self, event):
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            time.sleep(0.002 * (120 - event.event_id))  # later events finish first
            if event.event_id == self.fail_event:
                raise RemoteInferenceError("a:1", "gnn_tracking", "refused")
            return self.truth.reconstruct(event)
        finally:
            with self.lock:
                self.in_flight -= 1


@pytest.mark.parametrize("concurrency", [1, 3])
def test_events_in_flight_are_written_in_input_order(source, tmp_path, concurrency):
    finder = SlowTruth()
    seen = []
    outputs = ReconstructionOutputs(tracks_root=tmp_path / "tracks.root")
    summary = run_reconstruction(
        source, finder, outputs, concurrency=concurrency, on_event=lambda t: seen.append(t.event_id)
    )
    assert seen == list(range(100, 100 + N_EVENTS))
    assert finder.most_in_flight == concurrency
    assert summary.timing.summary()["n_events"] == N_EVENTS
    tracks = read_tracks(tmp_path / "tracks.root")
    assert list(tracks) == seen
    for event in source:
        labels = TruthTrackFinder().reconstruct(event).labels
        kept = labels >= 0
        expected = set(zip(labels[kept], event.spacepoints.measurement_id[kept], strict=True))
        track, measurement = tracks[event.event_id]
        assert set(zip(track, measurement, strict=True)) == expected


def test_a_failing_event_in_flight_leaves_no_output(source, tmp_path):
    outputs = ReconstructionOutputs(tracks_root=tmp_path / "tracks.root", tracks_csv_dir=tmp_path)
    with pytest.raises(RemoteInferenceError, match="refused"):
        run_reconstruction(source, SlowTruth(fail_event=104), outputs, concurrency=4)
    assert not (tmp_path / "tracks.root").exists()
    assert not list(tmp_path.glob("*prototracks.csv"))


def test_concurrency_below_one_is_refused(source, tmp_path):
    outputs = ReconstructionOutputs(tracks_root=tmp_path / "tracks.root")
    with pytest.raises(ConfigError, match="concurrency must be at least 1, got 0"):
        run_reconstruction(source, SlowTruth(), outputs, concurrency=0)


def test_resume_skips_what_an_interrupted_run_finished(source, tmp_path):
    csv_dir = tmp_path / "csv"
    first = ReconstructionOutputs(tracks_csv_dir=csv_dir, resume=True)
    with pytest.raises(RemoteInferenceError):
        run_reconstruction(source, SlowTruth(fail_event=104), first)
    kept = sorted(p.name for p in csv_dir.iterdir())
    assert kept == [
        f"event{100 + i:09d}-prototracks.csv" for i in range(4)
    ]  # kept, not rolled back

    asked = []

    class Recording(SlowTruth):
        def reconstruct(self, event):
            asked.append(event.event_id)
            return super().reconstruct(event)

    second = ReconstructionOutputs(
        tracks_root=tmp_path / "tracks.root", tracks_csv_dir=csv_dir, resume=True
    )
    summary = run_reconstruction(source, Recording(), second, concurrency=2)
    assert asked == list(range(104, 100 + N_EVENTS))
    assert summary.resumed == 4 and summary.timing.summary()["n_events"] == N_EVENTS - 4
    assert summary.performance.n_events == N_EVENTS  # resumed events are scored too
    for path in (tmp_path / "tracks.root", csv_dir):
        tracks = read_tracks(path)
        assert sorted(tracks) == list(range(100, 100 + N_EVENTS))
        for event in source:
            labels = TruthTrackFinder().reconstruct(event).labels
            kept_sp = labels >= 0
            track, measurement = tracks[event.event_id]
            expected = zip(labels[kept_sp], event.spacepoints.measurement_id[kept_sp], strict=True)
            assert set(zip(track, measurement, strict=True)) == set(expected)


def test_resume_needs_a_csv_directory_and_existing_files_need_a_choice(source, tmp_path):
    with pytest.raises(ConfigError, match="--resume needs --csv-dir"):
        run_reconstruction(
            source, SlowTruth(), ReconstructionOutputs(tracks_root=tmp_path / "t.root", resume=True)
        )
    run_reconstruction(source, SlowTruth(), ReconstructionOutputs(tracks_csv_dir=tmp_path / "c"))
    with pytest.raises(OutputError, match="--resume to continue, --force to replace"):
        run_reconstruction(
            source, SlowTruth(), ReconstructionOutputs(tracks_csv_dir=tmp_path / "c")
        )


def test_the_summary_says_how_many_events_had_truth_for_the_performance_report(tmp_path):
    truth = make_event([1, 1, 2, 2], {1: 1.0, 2: 2.0}, event_id=1)
    bare = make_event([1, 1, 2, 2], {1: 1.0, 2: 2.0}, event_id=2)
    bare = type(bare)(event_id=2, spacepoints=bare.spacepoints)  # the same points, no truth
    (tmp_path / "in").mkdir()
    for event in (truth, bare):
        save_event_npz(event, tmp_path / "in" / f"event{event.event_id:09d}.npz")

    def run(*names, out):
        outputs = ReconstructionOutputs(performance_json=tmp_path / out / "p.json")
        source = open_events([tmp_path / "in" / n for n in names])
        return run_reconstruction(source, _TracksAsGiven(), outputs)

    both = run("event000000001.npz", "event000000002.npz", out="both")
    assert (both.n_events, both.n_with_truth) == (2, 1)
    assert both.performance_warning(asked=True) == (
        "the performance report covers the 1 of the 2 events that have truth"
    )
    assert both.performance_warning(asked=False) is None
    none = run("event000000002.npz", out="none")
    assert none.performance is None and not (tmp_path / "none").exists()
    assert none.performance_warning(asked=True) == (
        "no event has truth (particles, hit-to-particle map): no performance report"
    )
    assert run("event000000001.npz", out="one").performance_warning(asked=True) is None


class _TracksAsGiven:
    """Every point its own candidate (a finder that needs no truth)."""

    name = "singletons"

    def reconstruct(self, event):
        import numpy as np

        from acts_gnn.result import EventTiming, TrackingResult

        timing = EventTiming(event.event_id, self.name, n_spacepoints=len(event), total_s=0.0)
        return TrackingResult(labels=np.arange(len(event)), timing=timing)


def test_force_leaves_only_this_runs_proto_track_files(source, tmp_path):
    csv = tmp_path / "csv"
    run_reconstruction(source, TruthTrackFinder(), ReconstructionOutputs(tracks_csv_dir=csv))
    assert len(list(csv.iterdir())) == N_EVENTS
    first_two = type(source)(source.refs[:2])
    outputs = ReconstructionOutputs(tracks_csv_dir=csv, overwrite=True)
    assert run_reconstruction(first_two, TruthTrackFinder(), outputs).removed == N_EVENTS - 2
    assert sorted(p.name for p in csv.iterdir()) == [
        "event000000100-prototracks.csv",
        "event000000101-prototracks.csv",
    ]


def test_a_failed_force_run_leaves_the_earlier_runs_files_as_they_were(source, tmp_path):
    csv = tmp_path / "csv"
    run_reconstruction(source, TruthTrackFinder(), ReconstructionOutputs(tracks_csv_dir=csv))
    before = {p.name: p.read_bytes() for p in csv.iterdir()}
    (csv / "notes.txt").write_text("mine")
    outputs = ReconstructionOutputs(tracks_root=tmp_path / "t.root", tracks_csv_dir=csv,
                                    overwrite=True)  # fmt: skip
    with pytest.raises(RemoteInferenceError):
        run_reconstruction(source, SlowTruth(fail_event=104), outputs)
    after = {p.name: p.read_bytes() for p in csv.iterdir() if p.name != "notes.txt"}
    assert after == before  # the events before the failure were not replaced either
    assert (csv / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["csv", "in"]


def test_ctrl_c_while_the_outputs_go_into_place_comes_after_all_are(source, tmp_path, monkeypatch):
    import os
    import signal

    from acts_gnn.io.tracks import TrackWriter

    close = TrackWriter.__exit__

    def interrupted_while_closing(self, *exc_info):
        os.kill(os.getpid(), signal.SIGINT)  # the tracks not yet in place, the reports neither
        return close(self, *exc_info)

    monkeypatch.setattr(TrackWriter, "__exit__", interrupted_while_closing)
    out = tmp_path / "out"
    outputs = ReconstructionOutputs(
        tracks_root=out / "tracks.root",
        tracks_csv_dir=out / "csv",
        timing_json=out / "timing.json",
        performance_json=out / "performance.json",
    )
    with pytest.raises(KeyboardInterrupt):
        run_reconstruction(source, TruthTrackFinder(), outputs)
    assert sorted(p.name for p in out.iterdir()) == [
        "csv", "performance.json", "timing.json", "tracks.root"
    ]  # fmt: skip
    assert len(list((out / "csv").iterdir())) == N_EVENTS
    assert list(read_tracks(out / "tracks.root")) == list(range(100, 100 + N_EVENTS))


def test_an_output_another_run_wrote_meanwhile_is_not_replaced(source, tmp_path, monkeypatch):
    from acts_gnn.io.tracks import TrackWriter

    add = TrackWriter.add
    other = tmp_path / "tracks.root"

    def another_run_finishes_first(self, event, *args, **kwargs):
        add(self, event, *args, **kwargs)
        if event.event_id == 100:  # a job of the same array, given the same output
            other.write_text("the other run's tracks")

    monkeypatch.setattr(TrackWriter, "add", another_run_finishes_first)
    outputs = ReconstructionOutputs(tracks_root=other, timing_json=tmp_path / "timing.json")
    with pytest.raises(OutputError, match="appeared while this run was writing it"):
        run_reconstruction(source, TruthTrackFinder(), outputs)
    assert other.read_text() == "the other run's tracks"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "tracks.root"]
    # with --force (overwrite) the run replaces it, as asked
    outputs = ReconstructionOutputs(tracks_root=other, overwrite=True)
    run_reconstruction(source, TruthTrackFinder(), outputs)
    assert list(read_tracks(other)) == list(range(100, 100 + N_EVENTS))


def test_a_report_another_run_wrote_meanwhile_leaves_none_of_this_runs_outputs(
    source, tmp_path, monkeypatch
):
    """All or nothing: the tracks are not put in place when a report cannot be (before, the
    tracks file and the CSV files stayed, and the run failed)."""
    from acts_gnn.io.tracks import TrackWriter

    add = TrackWriter.add
    report = tmp_path / "out" / "performance.json"

    def another_run_finishes_first(self, event, *args, **kwargs):
        add(self, event, *args, **kwargs)
        if event.event_id == 100:
            report.write_text("the other run's report")

    monkeypatch.setattr(TrackWriter, "add", another_run_finishes_first)
    outputs = ReconstructionOutputs(
        tracks_root=tmp_path / "out" / "tracks.root",
        tracks_csv_dir=tmp_path / "out" / "csv",
        timing_json=tmp_path / "out" / "timing.json",
        performance_json=report,
    )
    with pytest.raises(OutputError) as refused:
        run_reconstruction(source, TruthTrackFinder(), outputs)
    assert str(refused.value) == (
        f"{report}: appeared while this run was writing it (another run with the same "
        "output?); left as it is and this run's not written (--force replaces)"
    )
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["performance.json"]
    assert report.read_text() == "the other run's report"


def _moved(csv_file, dy):
    """Another event's tracks, as it were: every point of ``csv_file`` moved ``dy`` mm in y."""
    lines = csv_file.read_text().splitlines()
    rows = [line.split(",") for line in lines[1:]]
    moved = [",".join([*r[:3], str(float(r[3]) + dy), r[4]]) for r in rows]
    csv_file.write_text("\n".join([lines[0], *moved]) + "\n")


def test_resume_and_evaluate_refuse_the_tracks_of_another_event_of_that_number(source, tmp_path):
    from acts_gnn.errors import InputFormatError
    from acts_gnn.metrics.evaluate import evaluate_tracks

    csv = tmp_path / "csv"
    run_reconstruction(source, TruthTrackFinder(), ReconstructionOutputs(tracks_csv_dir=csv))
    _moved(csv / "event000000100-prototracks.csv", 0.005)  # within the files' rounding: kept
    assert evaluate_tracks(csv, source).selections[0].fake_rate == 0.0
    _moved(csv / "event000000101-prototracks.csv", 7.5)  # another event's points
    message = (
        "event 101: 13 of its 13 space points lie elsewhere in .*event000000101.npz "
        r"\(measurement 100: \(30, 7.5, 0\) mm here, \(30, 0, 0\) mm there\); "
        "the files do not belong together"
    )
    with pytest.raises(InputFormatError, match=message):
        evaluate_tracks(csv, source)
    outputs = ReconstructionOutputs(
        tracks_csv_dir=csv, tracks_root=tmp_path / "t.root", resume=True
    )
    with pytest.raises(InputFormatError, match=message):
        run_reconstruction(source, TruthTrackFinder(), outputs)
    assert not (tmp_path / "t.root").exists()


def test_one_path_for_two_outputs_is_refused_before_any_work(tmp_path):
    same = tmp_path / "x"
    outputs = ReconstructionOutputs(tracks_root=same, timing_json=tmp_path / "." / "x")
    with pytest.raises(ConfigError) as info:
        outputs.check()
    assert (
        str(info.value) == f"--output and --timing are one path ({same}): each output needs its own"
    )
    both = ReconstructionOutputs(timing_json=same, performance_json=same, overwrite=True)
    with pytest.raises(ConfigError, match="--timing and --performance are one path"):
        both.check()
    assert list(tmp_path.iterdir()) == []


def test_events_of_ones_own_are_reconstructed_and_scored(source, tmp_path):
    from acts_gnn.event import Event
    from acts_gnn.metrics.evaluate import evaluate_tracks

    first = next(iter(source))
    own = [Event(7, first.spacepoints, truth=first.truth), Event(8, first.spacepoints)]
    with pytest.raises(InputFormatError) as refused:  # the truth finder, on one without truth
        run_reconstruction(own, TruthTrackFinder(), ReconstructionOutputs())
    assert str(refused.value).startswith("event 8 (in memory): the truth backend needs truth")
    own[1] = Event(8, first.spacepoints, truth=first.truth)
    path = tmp_path / "tracks.root"
    summary = run_reconstruction(own, TruthTrackFinder(), ReconstructionOutputs(tracks_root=path))
    assert (summary.n_events, summary.n_with_truth) == (2, 2)
    assert sorted(read_tracks(path)) == [7, 8]
    scored = evaluate_tracks(path, own[:1]).selections[0]  # the truth's tracks: all true
    assert scored.n_tracks == scored.n_matched_tracks > 0
    with pytest.raises(ConfigError) as refused:
        run_reconstruction([str(path)], TruthTrackFinder(), ReconstructionOutputs())
    assert str(refused.value) == (
        "expected events: an EventSource (acts_gnn.open_events) or Event objects, got str"
    )
    twice = [own[0], own[0]]  # one event object given twice: refused, as a file given twice
    with pytest.raises(InputFormatError, match=r"^event 7 \(in memory\): event 7 is given twice$"):
        run_reconstruction(twice, TruthTrackFinder(), ReconstructionOutputs())


class _LabelsAlone:
    """A plug-in finder that returns its labels, not a TrackingResult; or cut short ones; or a
    result without timing."""

    name = "mine"

    def __init__(self, short: bool = False, untimed: bool = False) -> None:
        self.short = short
        self.untimed = untimed

    def reconstruct(self, event):
        from acts_gnn.result import EventTiming, TrackingResult

        labels = np.zeros(len(event) - 1 if self.short else len(event), np.int64)
        if self.untimed:
            return TrackingResult(labels, timing=None)
        if not self.short:
            return labels
        return TrackingResult(labels, timing=EventTiming(event.event_id, self.name, len(event), 0))


@pytest.mark.parametrize("concurrency", [1, 2])
def test_a_finder_s_result_that_is_no_tracking_result_is_one_line(source, tmp_path, concurrency):
    # "internal error: AttributeError: 'numpy.ndarray' object has no attribute 'labels'"
    outputs = ReconstructionOutputs(tracks_root=tmp_path / "t.root")
    with pytest.raises(ConfigError) as refused:
        run_reconstruction(source, _LabelsAlone(), outputs, concurrency=concurrency)
    assert str(refused.value) == (
        "track finder 'mine' returned ndarray, expected an acts_gnn.TrackingResult(labels, "
        "timing=acts_gnn.EventTiming(…))"
    )
    with pytest.raises(ConfigError) as refused:
        run_reconstruction(source, _LabelsAlone(short=True), outputs, concurrency=concurrency)
    assert str(refused.value) == (
        "track finder 'mine' returned labels of shape (11,) for event 100 of 12 space points, "
        "expected (12,)"
    )
    with pytest.raises(ConfigError) as refused:  # was "replace() should be called on dataclass"
        run_reconstruction(source, _LabelsAlone(untimed=True), outputs, concurrency=concurrency)
    assert str(refused.value) == (
        "track finder 'mine' returned a TrackingResult whose timing is NoneType, expected an "
        "acts_gnn.EventTiming"
    )
    assert not (tmp_path / "t.root").exists()


class _Described(TruthTrackFinder):
    def __init__(self, described) -> None:
        super().__init__()
        self.described = described

    def describe(self):
        return self.described


def test_a_finder_s_description_that_json_cannot_hold_is_refused_before_the_events(
    source, tmp_path
):
    # a Path in it failed when the tracks file closed, after every event had run
    from pathlib import Path

    outputs = ReconstructionOutputs(tracks_root=tmp_path / "t.root")
    for described, said in (
        ({"bundle": Path("b")}, "describe() gave what JSON cannot hold"),
        ("gnn", "describe() gave str, expected a mapping of names to values"),
    ):
        with pytest.raises(ConfigError, match=f"^track finder 'truth': {re.escape(said)}"):
            run_reconstruction(source, _Described(described), outputs)
    from acts_gnn.result import RunRecord

    record = RunRecord(finder={"bundle": Path("x")}, machine="m", started="now")
    with pytest.raises(ConfigError, match=r"^run record: JSON cannot hold it"):
        run_reconstruction(source, TruthTrackFinder(), outputs, run=record)
    assert not (tmp_path / "t.root").exists()
