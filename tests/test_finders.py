"""The track-finder registry, a toy backend added in one call, and the truth finder."""

from __future__ import annotations

import re

import numpy as np
import pytest

from acts_gnn import finders
from acts_gnn.errors import ConfigError, InputFormatError
from acts_gnn.event import Event, SpacePoints
from acts_gnn.finders import TrackFinder, TruthTrackFinder, make_finder
from acts_gnn.result import EventTiming, TrackingResult


def test_truth_labels_are_canonical_and_noise_is_unassigned(event_factory):
    event = event_factory([9, 0, 4, 9, 4, 0, 7], {9: 1.0, 4: 1.0, 7: 1.0})
    result = TruthTrackFinder().reconstruct(event)
    np.testing.assert_array_equal(result.labels, [0, -1, 1, 0, 1, -1, 2])
    assert result.timing.backend == "truth" and result.timing.n_spacepoints == 7
    assert isinstance(make_finder("truth"), TrackFinder)


def test_truth_finder_needs_truth():
    event = Event(0, SpacePoints([1], [1], [1], [1]), source="x.csv")
    with pytest.raises(InputFormatError, match=r"x\.csv: the truth backend needs truth"):
        TruthTrackFinder().reconstruct(event)
    unnamed = Event(5, SpacePoints([1], [1], [1], [1]))  # made of arrays: named by its number
    with pytest.raises(InputFormatError, match=r"^event 5: the truth backend needs truth"):
        TruthTrackFinder().reconstruct(unnamed)


def test_one_list_with_the_names_of_every_earlier_list():
    assert finders.finder_names() == ("gnn", "gnn_components", "gnn_walk", "truth", "unrolling")
    assert finders.finder_names(served=True) == (
        "gnn_tracking",
        "gnn_tracking_components",
        "gnn_tracking_walk",
        "null_tracking",
        "unrolling_tracking",
    )
    # the served names of earlier releases are aliases of the registry's names
    for alias, name in (
        ("gnn_tracking", "gnn"),
        ("gnn_tracking_walk", "gnn_walk"),
        ("gnn_tracking_components", "gnn_components"),
        ("unrolling_tracking", "unrolling"),
        ("null_tracking", "null"),
    ):
        assert finders.finder_entry(alias, served=True).name == name
        assert finders.finder_entry(name, served=True).served_name == alias
    unknown = "unknown backend 'null'; choose one of gnn, gnn_components, gnn_walk"
    with pytest.raises(ConfigError, match=unknown):
        make_finder("null")  # served only
    with pytest.raises(ConfigError, match="unknown model 'truth'; choose from gnn_tracking,"):
        finders.finder_entry("truth", served=True)  # needs truth: never served
    with pytest.raises(ConfigError, match="track finder name 'gnn_tracking' is registered"):
        finders.register_finder("mine", TruthTrackFinder, aliases=("gnn_tracking",))


class ToyFinder:
    """Label by the sign of z: what a backend a physicist adds needs to be."""

    name = "toy"

    def run(self, features):
        labels = (features[:, 2] < 0).astype(np.int64)
        return labels, {"track_building": 0.0}, (0, 0)

    def reconstruct(self, event):
        labels = self.run(event.features())[0]
        return TrackingResult(labels, EventTiming(event.event_id, self.name, len(event), 0.0))


@pytest.fixture
def toy():
    entry = finders.register_finder("toy", ToyFinder, summary="sign of z")
    yield entry
    finders.unregister_finder("toy")


def test_a_toy_backend_takes_one_class_and_one_call(toy, run_cli, tmp_path):
    from acts_gnn.acts.algorithm import make_label_function
    from acts_gnn.io.example import example_dir
    from acts_gnn.io.source import open_events
    from acts_gnn.io.tracks import read_tracks
    from acts_gnn.metrics.evaluate import labels_from_tracks
    from acts_gnn.result import canonical_labels
    from acts_gnn.triton.backends import answer, make_backend
    from acts_gnn.triton.contract import LABELS
    from acts_gnn.triton.server import ServerConfig

    (event,) = open_events([example_dir()])
    features = event.features()
    expected = (features[:, 2] < 0).astype(np.int64)
    # reconstruct --backend
    result = run_cli("reconstruct", "--example", "--backend", "toy", "-o", tmp_path / "t.root")
    assert result.exit_code == 0, result.stderr
    ((event_id, (track_id, measurement_id)),) = read_tracks(tmp_path / "t.root").items()
    written = labels_from_tracks(event, track_id, measurement_id, tmp_path / "t.root")
    assert event_id == event.event_id
    np.testing.assert_array_equal(canonical_labels(written), canonical_labels(expected))
    # serve --model (a server's model instance and its answer to one request)
    ServerConfig(models=("toy",)).check()
    response = answer(make_backend("toy", None, "cpu"), features, [LABELS], 10_000)
    np.testing.assert_array_equal(response[LABELS], expected)
    # the ACTS algorithm's finder, run in this process
    np.testing.assert_array_equal(make_label_function("toy")(features), expected)


def test_the_acts_algorithm_runs_the_gnn_in_this_process():
    from acts_gnn.acts.algorithm import make_label_function
    from acts_gnn.io.example import example_dir
    from acts_gnn.io.source import open_events

    (event,) = open_events([example_dir()])
    labels = make_label_function("gnn_tracking")(event.features())
    np.testing.assert_array_equal(labels, make_finder("gnn").reconstruct(event).labels)


def test_the_acts_algorithms_settings_are_refused_where_they_would_be_ignored():
    from acts_gnn.acts.algorithm import make_label_function
    from acts_gnn.errors import ConfigError

    for settings, message in (
        ({"url": "localhost:1", "bundle": "b", "device": "cpu"},
         "bundle, device: settings of the local pipeline; with url the server's apply"),
        ({"url": ["localhost:1"], "max_neighbours": 8},
         "max_neighbours: settings of the local pipeline; with url the server's apply"),
        ({"timeout_s": 5.0}, "timeout_s: a setting of the requests to url; none is given"),
    ):  # fmt: skip
        with pytest.raises(ConfigError) as refused:
            make_label_function("gnn_tracking", **settings)
        assert str(refused.value) == message


class _EventOnly:
    """A finder that needs the whole event (no ``run``): never served."""

    name = "event_only"

    def reconstruct(self, event):
        return TruthTrackFinder().reconstruct(event)


def test_a_finder_without_run_is_local_only():
    finders.register_finder("event_only", _EventOnly)
    try:
        assert not finders.finder_entry("event_only").servable
        assert "event_only" in finders.finder_names()
        with pytest.raises(ConfigError, match="unknown model 'event_only'; choose from"):
            finders.finder_entry("event_only", served=True)
        with pytest.raises(ConfigError, match="'lazy': say whether it is servable"):
            finders.register_finder("lazy", "some.module:Finder")
    finally:
        finders.unregister_finder("event_only")


class _NoReconstruct:
    name = "broken"


def test_a_plugin_registering_what_is_no_finder_is_told_so():
    """The registry took ``42`` or a class without ``reconstruct``: internal errors later."""
    for name, factory, expected in (
        ("n42", 42, "track finder 'n42': its factory must be callable"),
        ("broken", _NoReconstruct, "track finder 'broken': _NoReconstruct has no reconstruct"),
        ("", ToyFinder, "a track finder's name must be a non-empty string, got ''"),
    ):
        with pytest.raises(ConfigError, match=f"^{re.escape(expected)}"):
            finders.register_finder(name, factory)
    assert "n42" not in finders.finder_names() and "broken" not in finders.finder_names()


def test_an_internal_error_with_plugins_names_them(run_cli, tmp_path, monkeypatch):
    import acts_gnn.io.source

    def buggy(*_args, **_kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(acts_gnn.io.source, "open_events", buggy)
    monkeypatch.delenv("ACTS_GNN_TRACEBACK")
    monkeypatch.setenv(finders.PLUGINS_VARIABLE, "my_finders")
    (tmp_path / "my_finders.py").write_text("")  # a plug-in that registers nothing
    monkeypatch.syspath_prepend(tmp_path)
    result = run_cli("reconstruct", "--example", "--backend", "truth", "-o", tmp_path / "t.root")
    assert (result.exit_code, result.stderr) == (
        1,
        "acts-gnn: internal error: ZeroDivisionError: division by zero (a bug in acts-gnn or a "
        "plug-in of ACTS_GNN_FINDERS (my_finders), not in the input: please report it with the "
        "output of the same command under ACTS_GNN_TRACEBACK=1)\n",
    )
