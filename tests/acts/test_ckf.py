"""ACTS's seeding + CKF + greedy ambiguity resolution as acts-gnn labels on simulated events."""

from __future__ import annotations

import numpy as np
import pytest

from acts_gnn.acts.ckf import CkfSettings, assign_measurements, run_ckf
from acts_gnn.acts.pileup import PileupModel
from acts_gnn.acts.simulate import SimulationConfig
from acts_gnn.errors import ConfigError

#: μ = 5, 20 hard particles, 10 % noise points (which no ACTS track can hold)
CONFIG = SimulationConfig(
    events=2, seed=7, noise_fraction=0.1, model=PileupModel(pileup=5, signal_particles=20)
)


@pytest.fixture(scope="module")
def acts_events(tmp_path_factory):
    """``run_ckf(CONFIG)`` and the events ``simulate(CONFIG)`` wrote, read back."""
    pytest.importorskip("acts", reason="pyacts is not installed (pip install 'acts-gnn[acts]')")
    from acts_gnn.acts.simulate import simulate
    from acts_gnn.io.source import open_events

    directory = tmp_path_factory.mktemp("ckf-sim")
    simulate(CONFIG, directory)
    return run_ckf(CONFIG), list(open_events([directory]))


def test_a_measurement_goes_to_the_longest_track_and_ties_to_the_first():
    measurement, track = assign_measurements([[5, 1, 2], [2, 3, 4, 6], [7, 6, 8, 9], [], [1, 0]])
    assert measurement.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert track.tolist() == [4, 0, 1, 1, 1, 0, 1, 2, 2, 2]


def test_refuses_impossible_settings_before_starting_acts():
    with pytest.raises(ConfigError, match="--events must be from 1 to"):
        run_ckf(SimulationConfig(events=0))
    with pytest.raises(ConfigError, match="min_measurements"):
        run_ckf(CONFIG, settings=CkfSettings(min_measurements=1))
    for config in (SimulationConfig(stop_fraction=0.1), SimulationConfig(region_fraction=0.5)):
        with pytest.raises(ConfigError, match="--stop and --regions are not supported"):
            run_ckf(config)


@pytest.mark.acts
def test_labels_line_up_with_the_space_points_simulate_writes(acts_events):
    found, events = acts_events
    assert [c.event_id for c in found] == [e.event_id for e in events] == [0, 1]
    for ckf, event in zip(found, events, strict=True):
        assert ckf.labels.dtype == np.int64 and ckf.labels.shape == (len(event),)
        for name in ("measurement_id", "x", "y", "z"):  # the same points, in the same order
            assert np.array_equal(getattr(ckf.spacepoints, name), getattr(event.spacepoints, name))
        noise = event.truth.particle_id == 0
        assert noise.sum() > 50 and np.all(ckf.labels[noise] == -1)
        assert ckf.n_tracks > 20
        assert len(np.unique(ckf.labels[ckf.labels >= 0])) <= ckf.n_tracks
        assert 0.0 < ckf.seconds < 30.0


@pytest.mark.acts
def test_acts_gnn_scores_the_ckf_tracks_as_efficient_and_clean(acts_events):
    from acts_gnn.metrics.performance import PerformanceAccumulator

    found, events = acts_events
    accumulator = PerformanceAccumulator()
    for ckf, event in zip(found, events, strict=True):
        accumulator.add(event, ckf.labels)
    for selection in accumulator.report().selections:  # ≥ 3 and ≥ 5 space points
        # measured 0.985 (66 of 67 targets; the misses are at |η| > 3.7), no fakes, no duplicates
        assert selection.n_targets > 50
        assert selection.efficiency > 0.9
        assert selection.fake_rate < 0.05
        assert selection.duplicate_rate < 0.05


@pytest.mark.acts
def test_the_same_seed_gives_the_same_labels(acts_events):
    found, _events = acts_events
    again = run_ckf(CONFIG)
    assert len(again) == len(found)
    for a, b in zip(again, found, strict=True):
        assert np.array_equal(a.labels, b.labels)
