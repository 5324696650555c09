"""TrackML score: weighting, hand-computed scores, and 1.0 on real TrackML truth."""

from __future__ import annotations

import numpy as np
import pytest

from acts_gnn.finders import TruthTrackFinder
from acts_gnn.io.source import open_events
from acts_gnn.metrics.trackml_score import order_weight, pt_weight, trackml_score, trackml_weights

PARTICLES = [1] * 8 + [2] * 4 + [3] * 4 + [0] * 3
WEIGHTS = [0.1] * 8 + [0.05] * 4 + [0.0] * 4 + [0.0] * 3


def test_pt_weight_profile():
    np.testing.assert_allclose(
        pt_weight(np.array([0.3, 0.5, 1.75, 3.0, 10.0])), [0.2, 0.2, 0.6, 1.0, 1.0]
    )


def test_order_weight_sums_to_one_and_favours_ends():
    assert order_weight(3).sum() == 0.0
    for n in (4, 9, 20):
        w = order_weight(n)
        assert w.sum() == pytest.approx(1.0)
        assert w[0] == w.max()
    w = order_weight(25)
    assert w[:20].sum() == pytest.approx(1.0) and np.all(w[20:] == 0)
    np.testing.assert_allclose(order_weight(9) * 49, [10, 8, 6, 5, 3, 3, 3, 5, 6])


@pytest.mark.parametrize(
    ("labels", "score"),
    [
        ([0] * 8 + [1] * 4 + [2] * 4 + [-1] * 3, 1.0),
        ([0] * 5 + [4] * 3 + [1] * 4 + [2] * 4 + [-1] * 3, 0.7),  # only the 5-point piece counts
        ([0] * 12 + [2] * 4 + [-1] * 3, 0.8),  # merged: particle 1's points count, 2's do not
        ([-1] * 19, 0.0),
    ],
)
def test_hand_computed_scores(event_factory, labels, score):
    event = event_factory(PARTICLES, {1: 2.0, 2: 3.0, 3: 0.5}, weight=WEIGHTS)
    assert trackml_score(event.spacepoints, event.truth, np.array(labels)) == pytest.approx(score)


def test_recomputed_weights(event_factory):
    event = event_factory(PARTICLES, {1: 2.0, 2: 3.0, 3: 0.5})
    w = trackml_weights(event.spacepoints, event.truth)
    assert w.sum() == pytest.approx(1.0)
    assert np.all(w[16:] == 0)  # noise
    # particle 1 (pT 2 GeV → 0.68) vs particle 2 (3 GeV → 1.0): per-particle totals
    np.testing.assert_allclose(
        [w[:8].sum(), w[8:12].sum(), w[12:16].sum()], np.array([0.68, 1.0, 0.2]) / 1.88
    )


@pytest.mark.parametrize("folder", ["subset_barrel", "subset_sparse"])
def test_perfect_reconstruction_of_real_trackml_truth_scores_one(shared_data, folder):
    (event,) = list(open_events([shared_data / "trackml" / folder]))
    labels = TruthTrackFinder().reconstruct(event).labels
    assert trackml_score(event.spacepoints, event.truth, labels) == pytest.approx(1.0)
    assert trackml_score(
        event.spacepoints, event.truth, labels, trackml_weights(event.spacepoints, event.truth)
    ) == pytest.approx(1.0)
    # a random relabelling of 20% of the points costs score
    rng = np.random.default_rng(1)
    shuffled = labels.copy()
    pick = rng.random(labels.size) < 0.2
    shuffled[pick] = rng.integers(0, labels.max() + 1, int(pick.sum()))
    assert trackml_score(event.spacepoints, event.truth, shuffled) < 0.95
