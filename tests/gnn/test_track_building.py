"""Track builders on hand-made scored graphs."""

from __future__ import annotations

import numpy as np

from acts_gnn.gnn.track_building import build_components, build_walkthrough

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
