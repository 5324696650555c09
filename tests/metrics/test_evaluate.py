"""Tracks against the truth of their events: ids that do not belong, the report's files and texts.

The hand-made event (``event_factory``): 19 space points with measurement ids 100–118.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from acts_gnn.errors import InputFormatError, OutputError
from acts_gnn.event import Particles, Truth
from acts_gnn.metrics.evaluate import labels_from_tracks, write_report_files
from acts_gnn.metrics.matching import MatchingConfig
from acts_gnn.metrics.performance import PerformanceAccumulator
from acts_gnn.metrics.plots import PLOT_FILES

PARTICLES = [1] * 8 + [2] * 4 + [3] * 4 + [0] * 3
PT = {1: 2.0, 2: 3.0, 3: 0.5}
PERFECT = [0] * 8 + [1] * 4 + [2] * 4 + [-1] * 3
NO_SECOND = 2**64 - 1


@pytest.fixture
def event(event_factory):
    return event_factory(PARTICLES, PT)


def _report(*events, labels=PERFECT, config=MatchingConfig()):
    accumulator = PerformanceAccumulator(config)
    for e in events:
        accumulator.add(e, np.array(labels))
    return accumulator.report()


def _without_particle_table(event):
    particle = event.truth.particle_id
    truth = Truth(particle, Particles.unknown(particle), weight=event.truth.weight)
    return dataclasses.replace(event, truth=truth)


def test_tracks_most_of_whose_candidates_hold_no_space_point_of_the_event_are_refused(event):
    track, measurement = np.array([0, 0, 1, 1, 2]), np.array([100, 101, 7, 999, 998])
    with pytest.raises(InputFormatError) as info:
        labels_from_tracks(event, track, measurement, "t.root")
    assert str(info.value) == (
        "t.root: event 0: 2 of its 3 candidates hold no space point of hand-made; "
        "the files do not belong together"
    )
    assert info.value.exit_code == 2
    # measurements without a space point (strip hits where only pixels make space points)
    # label nothing, and so does a candidate of them alone
    labels = labels_from_tracks(event, np.array([0, 0, 0, 1]), np.array([100, 101, 999, 998]), "t")
    np.testing.assert_array_equal(labels[labels >= 0], [0, 0])


def test_the_second_measurement_of_a_strip_point_belongs_but_labels_nothing(event):
    second = np.full(len(event), NO_SECOND, dtype=np.uint64)
    second[3] = 500  # space point 3 is a strip point of measurements 103 and 500
    sp = dataclasses.replace(event.spacepoints, measurement_id_2=second)
    strip = dataclasses.replace(event, spacepoints=sp)
    labels = labels_from_tracks(strip, np.array([4, 4, 4]), np.array([102, 103, 500]), "p.csv")
    np.testing.assert_array_equal(np.flatnonzero(labels >= 0), [2, 3])
    only_second = labels_from_tracks(strip, np.array([5]), np.array([500]), "p.csv")
    assert (only_second == -1).all()  # it belongs: no refusal, and no point labelled
    # the pixel points' "no second measurement" is no measurement id of the event
    with pytest.raises(InputFormatError, match="1 of its 1 candidates holds no space point"):
        labels_from_tracks(strip, np.array([4]), np.array([NO_SECOND], np.uint64), "p.csv")


def test_a_space_point_in_two_candidates_is_named(event):
    # "pc5: event 0: a space point is in more than one candidate": which, and where?
    track, measurement = np.array([3, 3, 7, 7]), np.array([100, 104, 105, 104])
    with pytest.raises(InputFormatError) as info:
        labels_from_tracks(event, track, measurement, "e-prototracks.csv")
    assert str(info.value) == (
        "e-prototracks.csv: event 0: measurement 104 (a space point) is in candidates 3 and 7; "
        "expected each space point in one candidate at most"
    )
    with pytest.raises(InputFormatError, match=r"measurement 101 \(a space point\) is twice in "):
        labels_from_tracks(event, np.array([2, 2, 2]), np.array([100, 101, 101]), "t.root")


def test_the_caption_names_every_target_cut(event):
    report = _report(event, config=MatchingConfig(max_vertex_r_mm=1.0))
    assert str(report.table().title) == (
        "Tracking performance — 1 event(s); targets pT > 1 GeV, |η| < 4, "
        "production radius < 1 mm, ≥ 3 space points"
    )


def test_without_weights_the_trackml_score_is_unknown_not_zero(event):
    report = _report(_without_particle_table(event))
    assert math.isnan(report.trackml_score)
    as_json = json.loads(report.to_json())
    assert (as_json["trackml_score"], as_json["per_event_trackml_score"]) == (None, [None])
    assert "NaN" not in report.to_json()
    assert str(report.table().caption).splitlines()[0] == (
        "TrackML score — (no weights: the truth has no particle table)"
    )


def test_stored_weights_score_without_a_particle_table(event_factory):
    weighted = event_factory(PARTICLES, PT, weight=[0.1] * 8 + [0.05] * 4 + [0.0] * 7)
    assert _report(_without_particle_table(weighted)).trackml_score == 1.0


def test_the_trackml_score_is_the_mean_over_the_events_with_weights(event):
    report = _report(event, _without_particle_table(event))
    assert report.trackml_score == 1.0
    assert report.per_event_trackml_score[0] == 1.0
    assert math.isnan(report.per_event_trackml_score[1])
    assert str(report.table().caption).splitlines()[0] == (
        "TrackML score 1.0000 (mean over the 1 of 2 events with weights; the others' truth has "
        "no particle table)"
    )
    assert str(_report(event).table().caption) == "TrackML score 1.0000 (mean over events)"


def test_report_files_are_written_together(event, tmp_path):
    json_path, plots = tmp_path / "a" / "p.json", tmp_path / "b" / "plots"
    written = write_report_files(_report(event), json_path, plots)
    assert written == [json_path, *(plots / name for name in PLOT_FILES)]
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "a",
        "a/p.json",
        "b",
        "b/plots",
        *(f"b/plots/{name}" for name in sorted(PLOT_FILES)),
    ]


@pytest.mark.parametrize("error", [KeyboardInterrupt, OSError])
def test_a_failed_plot_leaves_no_report_file_and_no_directory(event, tmp_path, monkeypatch, error):
    from matplotlib.figure import Figure

    saved = []

    def savefig(self, path, **kwargs):
        if len(saved) == 1:  # the JSON and the first plot are made, the second plot fails
            raise error(28, "No space left on device") if error is OSError else error()
        saved.append(path)
        path.write_bytes(b"png")

    monkeypatch.setattr(Figure, "savefig", savefig)
    out = tmp_path / "out"
    expected = pytest.raises(OutputError if error is OSError else KeyboardInterrupt)
    with expected as info:
        write_report_files(_report(event), out / "a" / "p.json", out / "plots")
    if error is OSError:
        assert str(info.value) == (
            f"{out / 'plots' / PLOT_FILES[1]}: cannot write it (No space left on device)"
        )
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_failed_run_keeps_the_files_it_would_replace(event, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    plots = tmp_path / "plots"
    plots.mkdir()
    for name in PLOT_FILES:
        (plots / name).write_text("old")
    (tmp_path / "p.json").write_text("old")

    def savefig(self, path, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Figure, "savefig", savefig)
    with pytest.raises(KeyboardInterrupt):
        write_report_files(_report(event), tmp_path / "p.json", plots)
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(["p.json", "plots", *PLOT_FILES])
    assert {p.read_text() for p in tmp_path.rglob("*") if p.is_file()} == {"old"}


def test_truth_of_two_events_of_one_number_is_refused(tmp_path, run_cli):
    import shutil

    from acts_gnn.io.example import example_dir

    for name in ("a", "b"):
        shutil.copytree(example_dir(), tmp_path / name)
    made = run_cli("reconstruct", "--example", "-o", tmp_path / "t.root", "--backend", "truth")
    assert made.exit_code == 0, made.stderr
    result = run_cli("evaluate", tmp_path / "t.root", "-t", tmp_path / "a", "-t", tmp_path / "b")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"acts-gnn: error: {tmp_path / 'b' / 'event000000000-spacepoint.csv'}: event 0 is also "
    )
