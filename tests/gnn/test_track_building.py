"""Track builders on hand-made scored graphs."""

from __future__ import annotations

import numpy as np

from acts_gnn.gnn.track_building import (
    build_components,
    build_walkthrough,
    rescue_leftovers,
    stitch_pieces,
)

R = np.array([10, 20, 30, 40, 50, 30, 40, 50, 60], dtype=np.float32)


def test_components_apply_the_cut():
    edges = np.array([[0, 1, 2, 3, 5, 6], [1, 2, 3, 4, 6, 7]])
    scores = np.array([0.9, 0.9, 0.2, 0.9, 0.9, 0.9])
    labels = build_components(9, edges, scores, cut=0.5, min_size=3)
    np.testing.assert_array_equal(labels, [0, 0, 0, -1, -1, 1, 1, 1, -1])


def test_walkthrough_splits_a_branching_component():
    # chain 0-1-2-3-4, and a branch at 1 towards 5-6-7 (two tracks sharing point 1's region)
    edges = np.array([[0, 1, 2, 3, 1, 5, 6], [1, 2, 3, 4, 5, 6, 7]])
    scores = np.array([0.9, 0.95, 0.9, 0.9, 0.6, 0.9, 0.9])
    merged = build_components(9, edges, scores, cut=0.5, min_size=3)
    np.testing.assert_array_equal(merged, [0, 0, 0, 0, 0, 0, 0, 0, -1])
    walked = build_walkthrough(9, edges, scores, R, cut=0.5, walk_cut=0.5, min_size=3)
    # from point 0 the walk follows the best edge 1→2 (0.95) to 4; 5-6-7 is walked next
    np.testing.assert_array_equal(walked, [0, 0, 0, 0, 0, 1, 1, 1, -1])


def test_walkthrough_keeps_simple_chains_as_they_are():
    edges = np.array([[0, 1, 5, 6], [1, 2, 6, 7]])
    scores = np.full(4, 0.9)
    a = build_walkthrough(9, edges, scores, R, cut=0.5, walk_cut=0.5, min_size=3)
    b = build_components(9, edges, scores, cut=0.5, min_size=3)
    np.testing.assert_array_equal(a, b)


# stitching: piece A = 0-1-2, B = 3-4 (outward from A), loose point 5 beyond B, piece D = 6-7-8
# beside A, and loose points 9, 10, 11 in a row
STITCH_R = np.array(
    [0.03, 0.07, 0.11, 0.17, 0.26, 0.36, 0.03, 0.07, 0.11, 0.03, 0.07, 0.11], dtype=np.float32
)
STITCH_EDGES = np.array(
    [
        # inside the pieces (above the cut)
        [0, 1, 3, 6, 7],
        [1, 2, 4, 7, 8],
    ]
)
LINKS = np.array(
    [
        [2, 4, 8, 1, 9, 10, 0],
        [3, 5, 3, 3, 10, 11, 6],
    ]
)
LINK_SCORES = np.array([0.6, 0.5, 0.55, 0.75, 0.7, 0.7, 0.7])


def _stitch_graph(order: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    edges = np.concatenate([STITCH_EDGES, LINKS], axis=1)
    scores = np.concatenate([np.full(5, 0.95), LINK_SCORES])
    if order is not None:
        edges, scores = edges[:, order], scores[order]
    return edges, scores


def _stitched(edges, scores, link_cut: float, builder: str = "components") -> np.ndarray:
    """Pieces (any size) of the builder at cut 0.8, stitched above ``link_cut``, ≥ 3 points."""
    if builder == "walkthrough":
        pieces = build_walkthrough(12, edges, scores, STITCH_R, 0.8, 0.7, 1)
    else:
        pieces = build_components(12, edges, scores, 0.8, 1)
    return stitch_pieces(pieces, edges, scores, STITCH_R, link_cut, 3)


def test_stitching_joins_pieces_end_to_end():
    edges, scores = _stitch_graph()
    plain = build_components(12, edges, scores, cut=0.8, min_size=3)
    np.testing.assert_array_equal(plain, [0, 0, 0, -1, -1, -1, 1, 1, 1, -1, -1, -1])
    stitched = _stitched(edges, scores, link_cut=0.4)
    # A→B (0.6) beats D→B (0.55), which then finds B's inner end taken; 1→3 (0.75) leaves A from
    # its middle, not its outermost point; 0–6 joins two innermost points; B→5 (B now part of
    # A's five points) brings the loose point along; the loose points 9, 10, 11 have no piece of
    # three to join
    np.testing.assert_array_equal(stitched, [0, 0, 0, 0, 0, 0, 1, 1, 1, -1, -1, -1])


def test_stitching_is_independent_of_edge_order_and_off_by_default():
    edges, scores = _stitch_graph()
    reference = _stitched(edges, scores, link_cut=0.4)
    for seed in range(5):
        order = np.random.default_rng(seed).permutation(edges.shape[1])
        shuffled = _stitched(*_stitch_graph(order), link_cut=0.4)
        np.testing.assert_array_equal(shuffled, reference)
    # above the link cut nothing is stitched; walkthrough stitches the same way
    np.testing.assert_array_equal(
        _stitched(edges, scores, link_cut=0.65),
        build_components(12, edges, scores, 0.8, 3),
    )
    np.testing.assert_array_equal(_stitched(edges, scores, 0.4, "walkthrough"), reference)


def test_rescue_groups_only_the_points_left_out():
    edges, scores = _stitch_graph()
    stitched = _stitched(edges, scores, link_cut=0.4)  # 9, 10, 11 are left out (above)
    # their two edges (0.7) above the rescue cut: one more candidate; every other label stays
    rescued = rescue_leftovers(stitched, edges, scores, STITCH_R, 0.65, 0.4, 3)
    np.testing.assert_array_equal(rescued, [0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
    # below them nothing joins, and stitching never makes a track of loose points alone
    for link_cut in (None, 0.4):
        kept = rescue_leftovers(stitched, edges, scores, STITCH_R, 0.75, link_cut, 3)
        np.testing.assert_array_equal(kept, stitched)
    # an edge from a taken point (4 → 5 at 0.5, 0 → 6 at 0.7) never pulls it into a rescue
    everything = rescue_leftovers(stitched, edges, scores, STITCH_R, 0.0, None, 3)
    np.testing.assert_array_equal(everything, rescued)
    # an event without points, and one without candidates
    nothing = np.zeros((2, 0), np.int64)
    for walk_cut in (None, 0.3):
        empty = rescue_leftovers(
            np.zeros(0, np.int64), nothing, np.zeros(0), np.zeros(0), 0.5, 0.4, 3, walk_cut
        )
        assert empty.shape == (0,)
    # with every point free it is components at the rescue cut: 1 → 3 (0.75) and 0 → 6 (0.7)
    # join A, B and D; 4 → 5 (0.5) stays out
    free = rescue_leftovers(np.full(12, -1), edges, scores, STITCH_R, 0.65, None, 3)
    np.testing.assert_array_equal(free, [0, 0, 0, 0, 0, -1, 0, 0, 0, 1, 1, 1])


def test_rescue_walk_splits_two_close_tracks_and_strands_nothing():
    # two particles, 0–3 and 4–7, both below the GNN cut (every point free), 12 mm apart: one
    # wrong edge 0 → 6 above the rescue cut joins them in one group (as on the real TrackML
    # barrel subset, where neither was then found)
    r = np.array([32, 71, 115, 260, 32, 71, 117, 260], dtype=np.float32) / 1000
    edges = np.array([[0, 0, 1, 2, 4, 4, 5, 6, 0], [1, 2, 2, 3, 5, 6, 6, 7, 6]])
    scores = np.array([0.978, 0.923, 0.94, 0.99, 0.957, 0.874, 0.897, 0.975, 0.952])
    free = np.full(8, -1)
    merged = rescue_leftovers(free, edges, scores, r, 0.7, 0.02, 3)
    np.testing.assert_array_equal(merged, [0] * 8)
    for walk_cut in (0.7, 0.5, 0.3):  # from 0 the nearest outward point is 1, then 2, 3
        walked = rescue_leftovers(free, edges, scores, r, 0.7, 0.02, 3, walk_cut)
        np.testing.assert_array_equal(walked, [0, 0, 0, 0, 1, 1, 1, 1])
    # one particle whose consecutive edge 1 → 2 scores below the rescue cut, the edge 0 → 2 that
    # skips a layer above it: a walk at the rescue cut stops at 1 and strands 2 (two pieces too
    # small to anchor a stitch); a walk below it keeps the track, stitched on to 3
    r = np.array([32, 71, 115, 264], dtype=np.float32) / 1000
    edges = np.array([[0, 0, 1, 2], [1, 2, 2, 3]])
    scores = np.array([0.907, 0.762, 0.639, 0.541])
    free = np.full(4, -1)
    whole = [0, 0, 0, 0]
    np.testing.assert_array_equal(rescue_leftovers(free, edges, scores, r, 0.7, 0.02, 3), whole)
    stranded = rescue_leftovers(free, edges, scores, r, 0.7, 0.02, 3, walk_cut=0.7)
    np.testing.assert_array_equal(stranded, [-1, -1, -1, -1])
    kept = rescue_leftovers(free, edges, scores, r, 0.7, 0.02, 3, walk_cut=0.5)
    np.testing.assert_array_equal(kept, whole)
