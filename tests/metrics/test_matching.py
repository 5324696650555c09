"""Matching and rates on hand-made events whose answers are worked out by hand.

The event: particle 1 (pT 2 GeV, 8 space points, indices 0–7), particle 2 (pT 3 GeV, 4 points,
8–11), particle 3 (pT 0.5 GeV — below the 1 GeV target cut — 4 points, 12–15), three noise points
(16–18).
"""

from __future__ import annotations

import numpy as np
import pytest

from acts_gnn.metrics.matching import MatchingConfig, match_event
from acts_gnn.metrics.performance import PerformanceAccumulator

PARTICLES = [1] * 8 + [2] * 4 + [3] * 4 + [0] * 3
PT = {1: 2.0, 2: 3.0, 3: 0.5}
PERFECT = [0] * 8 + [1] * 4 + [2] * 4 + [-1] * 3


def _summary(event, labels, n=3):
    accumulator = PerformanceAccumulator(MatchingConfig(), (n,))
    accumulator.add(event, np.array(labels))
    return accumulator.report().selections[0]


@pytest.fixture
def event(event_factory):
    return event_factory(PARTICLES, PT)


def test_perfect(event):
    s = _summary(event, PERFECT)
    assert (s.n_targets, s.n_matched_targets, s.n_tracks, s.n_matched_tracks) == (2, 2, 3, 3)
    assert (s.efficiency, s.fake_rate, s.duplicate_rate) == (1.0, 0.0, 0.0)


def test_split_five_three_gives_a_duplicate(event):
    labels = [0] * 5 + [4] * 3 + [1] * 4 + [2] * 4 + [-1] * 3
    s = _summary(event, labels)
    assert (s.n_matched_targets, s.n_tracks, s.n_matched_tracks, s.n_duplicates) == (2, 4, 3, 1)
    assert s.efficiency == 1.0
    assert s.fake_rate == 0.25
    assert s.duplicate_rate == 0.5


def test_split_in_halves_loses_the_particle(event):
    labels = [0] * 4 + [4] * 4 + [1] * 4 + [2] * 4 + [-1] * 3
    s = _summary(event, labels)
    assert (s.n_matched_targets, s.n_tracks, s.n_matched_tracks, s.n_duplicates) == (1, 4, 2, 0)
    assert s.efficiency == 0.5
    assert s.fake_rate == 0.5


def test_two_particles_merged(event):
    labels = [0] * 12 + [2] * 4 + [-1] * 3
    s = _summary(event, labels)
    # 8 of 12 points from particle 1, holding all of it: matched; particle 2 is lost
    assert (s.n_matched_targets, s.n_tracks, s.n_matched_tracks) == (1, 2, 2)
    assert (s.efficiency, s.fake_rate) == (0.5, 0.0)


def test_noise_only_candidate_is_a_fake(event):
    labels = [*PERFECT[:16], 9, 9, 9]
    s = _summary(event, labels)
    assert (s.n_tracks, s.n_matched_tracks) == (4, 3)
    assert s.fake_rate == 0.25


def test_below_threshold_particle_is_no_target_but_no_fake(event):
    match = match_event(0, event.spacepoints, event.truth, np.array(PERFECT))
    assert match.n_targets == 2  # particle 3 (0.5 GeV) is not a target
    np.testing.assert_array_equal(match.target_ids, [1, 2])
    np.testing.assert_array_equal(match.target_pt, [2.0, 3.0])
    np.testing.assert_array_equal(match.track_matched, [True, True, True])
    lowered = match_event(
        0, event.spacepoints, event.truth, np.array(PERFECT), MatchingConfig(min_pt_gev=0.4)
    )
    assert lowered.n_targets == 3


def test_five_point_selection_needs_five_points_on_both_sides(event):
    s = _summary(event, PERFECT, n=5)
    # only particle 1 has >= 5 points; the 4-point candidates are dropped
    assert (s.n_targets, s.n_matched_targets, s.n_tracks) == (1, 1, 1)


def test_majority_tie_is_deterministic(event_factory):
    event = event_factory([5, 5, 6, 6], {5: 2.0, 6: 2.0})
    match = match_event(
        0,
        event.spacepoints,
        event.truth,
        np.zeros(4, int),
        MatchingConfig(min_particle_spacepoints=2, min_track_spacepoints=2),
    )
    # 2 of 4 is no majority: not matched whichever particle is picked
    np.testing.assert_array_equal(match.track_matched, [False])


def test_report_json_and_table(event):
    accumulator = PerformanceAccumulator()
    accumulator.add(event, np.array(PERFECT))
    report = accumulator.report()
    text = report.to_json()
    assert '"efficiency": 1.0' in text
    assert report.n_events == 1
    assert report.trackml_score == 1.0
    assert report.table().row_count == 2


def test_a_candidate_size_given_twice_counts_once(event):
    """``evaluate --min-track-sp 3 --min-track-sp 3`` doubled every count."""
    once, twice = PerformanceAccumulator(), PerformanceAccumulator(MatchingConfig(), (3, 3, 5))
    for accumulator in (once, twice):
        accumulator.add(event, np.array(PERFECT))
    assert twice.report().to_json() == once.report().to_json()
