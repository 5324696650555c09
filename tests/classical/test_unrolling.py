"""The classical helix-unrolling baseline on hand-made helices."""

from __future__ import annotations

import numpy as np

from acts_gnn.classical.unrolling import UnrollingTrackFinder, unrolling_labels
from acts_gnn.event import model_features

RADII_MM = np.array([32, 72, 116, 172, 260, 360, 500, 660, 820, 1020], dtype=np.float64)


def _helix(phi0: float, kappa_per_m: float, cot_theta: float) -> np.ndarray:
    r_m = RADII_MM / 1000
    phi = phi0 - np.arcsin(kappa_per_m * r_m / 2)
    return model_features(RADII_MM * np.cos(phi), RADII_MM * np.sin(phi), RADII_MM * cot_theta)


def test_separated_helices_are_found_one_each():
    tracks = [(0.3, 0.4, 0.5), (1.9, -0.3, -1.0), (-2.2, 0.1, 2.0), (2.9, -0.55, 0.0)]
    features = np.concatenate([_helix(*t) for t in tracks])
    labels = unrolling_labels(features)
    expected = np.repeat(np.arange(len(tracks)), RADII_MM.size)
    np.testing.assert_array_equal(labels, expected)


def test_isolated_points_stay_unassigned_and_empty_input():
    rng = np.random.default_rng(0)
    noise = model_features(
        rng.uniform(-900, 900, 6), rng.uniform(-900, 900, 6), rng.uniform(-2000, 2000, 6)
    )
    features = np.concatenate([_helix(0.3, 0.4, 0.5), noise])
    labels = unrolling_labels(features)
    assert np.all(labels[:10] == 0) and np.all(labels[10:] == -1)
    assert unrolling_labels(np.zeros((0, 3), np.float32)).shape == (0,)
    labels, stages, edges = UnrollingTrackFinder().run(features)
    assert set(stages) == {"track_building"} and edges == (0, 0)
