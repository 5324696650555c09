"""The stage-by-stage account of losses and fakes, on a hand-made event worked out by hand.

Six target particles of four points each (pT 2 GeV), one soft particle (0.5 GeV, four points),
two noise points. Points 0–3 are particle 1, 4–7 particle 2, …, 20–23 particle 6, 24–27 the soft
particle 7, 28–29 noise.
"""

from __future__ import annotations

import numpy as np
import pytest

from acts_gnn.metrics.breakdown import account_event, same_particle_labels
from tests.conftest import make_event

PARTICLES = [p for p in range(1, 8) for _ in range(4)] + [0, 0]
EVENT = make_event(PARTICLES, {**{p: 2.0 for p in range(1, 7)}, 7: 0.5}, eta={6: 1.5})


def chain(first: int, n: int = 4) -> list[tuple[int, int]]:
    return [(first + i, first + i + 1) for i in range(n - 1)]


def edges(pairs) -> np.ndarray:
    return np.array(pairs, dtype=np.int64).T.reshape(2, -1)


# K1: every particle's chain except particle 1 (only its first pair), plus a false pair 8–12
GRAPH = chain(0, 2) + chain(4) + chain(8) + chain(12) + chain(16) + chain(20) + chain(24)
GRAPH += [(11, 12)]
# the filter drops particle 2's middle pair: its halves are 2 + 2 points, no majority
FILTERED = [e for e in GRAPH if e != (5, 6)]
# the GNN cut drops particle 3's last pair: 3 of 4 points still make a majority
ABOVE = [e for e in FILTERED if e != (10, 11)]


def labels_of(groups: list[list[int]]) -> np.ndarray:
    labels = np.full(len(PARTICLES), -1, np.int64)
    for label, points in enumerate(groups):
        labels[points] = label
    return labels


# the builder's pieces: 3's first three points; 4 whole with 3's last point, joined by the false
# edge 11–12; 5 whole; 6 whole; the soft particle in two pieces of two
PIECES = labels_of(
    [[8, 9, 10], [11, 12, 13, 14, 15], [16, 17, 18, 19], [20, 21, 22, 23], [24, 25], [26, 27]]
)
# stitching then joins particle 5 and particle 6 (a wrong link) and the soft pieces (right)
FINAL = labels_of(
    [[8, 9, 10], [11, 12, 13, 14, 15], [16, 17, 18, 19, 20, 21, 22, 23], [24, 25, 26, 27]]
)


@pytest.fixture(scope="module")
def account():
    stages = {"graph": edges(GRAPH), "filter": edges(FILTERED), "gnn_cut": edges(ABOVE)}
    return account_event(EVENT, stages, PIECES, FINAL)


def test_same_particle_labels_keep_only_edges_inside_one_particle():
    labels = same_particle_labels(
        8,
        edges([(0, 1), (1, 4), (4, 5), (6, 7)]),
        np.array([1, 1, 1, 1, 2, 2, 0, 0], dtype=np.uint64),
    )
    # 1–4 joins two particles, 6–7 two noise points: neither counts
    assert labels[[0, 1]].tolist() == [labels[0]] * 2
    assert labels[[4, 5]].tolist() == [labels[4]] * 2
    assert labels[0] != labels[4]
    assert labels[[2, 3, 6, 7]].tolist() == [-1, -1, -1, -1]


def test_each_missed_target_is_charged_to_the_first_stage_that_lost_it(account):
    # targets 1–6 in particle-id order:
    # 1: K1 kept one pair of its four points; 2: the filter split it 2 + 2; 3: three of its
    # four points are a majority; 4: 4 of the 5 points of its candidate and all of its own;
    # 5 and 6: each whole before stitching, each half of the stitched candidate afterwards
    assert account.lost_at.tolist() == [
        "graph",
        "filter",
        "found",
        "found",
        "stitching",
        "stitching",
    ]
    assert account.stages == ("graph", "filter", "gnn_cut")
    assert account.rescued.tolist() == [False] * 6


def test_fakes_are_described_by_cause_and_largest_particle(account):
    # candidates of ≥ 3 points: [8, 9, 10] (3, matched), [11..15] (4, matched), the 5 + 6
    # merger (fake), the soft particle's four points (matched to a non-target: not a fake)
    assert account.n_candidates == 4
    assert account.fake_cause.tolist() == ["stitching"]
    # the merger's largest particle is 5 (a 4–4 tie goes to the smaller id), a target
    assert account.fake_majority.tolist() == ["target"]


def test_targets_carry_their_kinematics(account):
    assert account.pt.tolist() == [2.0] * 6
    assert account.eta.tolist() == [0.0] * 5 + [1.5]
    # the five η = 0, φ = 0 targets see each other (and the soft particle) within ΔR < 0.05
    assert account.density.tolist() == [5, 5, 5, 5, 5, 0]


def test_a_fragment_fake_is_told_from_an_impure_one():
    # the soft particle's two pieces kept apart: each holds 2 of its 4 points; with a third
    # point of noise each is a 3-point candidate of a pure-majority fragment
    pieces = labels_of([[24, 25, 28], [26, 27, 29]])
    stages = {"graph": edges(GRAPH)}
    account = account_event(EVENT, stages, pieces, pieces)
    assert account.fake_cause.tolist() == ["fragment", "fragment"]
    assert account.fake_majority.tolist() == ["other, pT below it"] * 2


def test_a_target_the_quality_selection_dropped_is_charged_to_it():
    # before the quality selection: FINAL and a fake of the two noise points with particle 1's
    # first point; the selection drops that fake and particle 3's three-point candidate
    kept = [[11, 12, 13, 14, 15], [16, 17, 18, 19, 20, 21, 22, 23], [24, 25, 26, 27]]
    before = labels_of([[8, 9, 10], *kept, [28, 29, 0]])
    final = labels_of(kept)
    stages = {"graph": edges(GRAPH), "filter": edges(FILTERED), "gnn_cut": edges(ABOVE)}
    account = account_event(EVENT, stages, PIECES, final, before_quality=before)
    assert account.lost_at.tolist() == [
        "graph",
        "filter",
        "quality",
        "found",
        "stitching",
        "stitching",
    ]
    # the merger of 5 and 6 stays; the noise candidate was a fake the selection dropped
    assert account.fake_cause.tolist() == ["stitching"]
    assert account.fakes_dropped == 1


def test_without_the_labels_before_it_no_target_is_charged_to_the_quality_selection(account):
    assert "quality" not in account.lost_at.tolist()
    assert account.fakes_dropped == 0
