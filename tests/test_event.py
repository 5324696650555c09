"""Event model: features, label canonicalisation, sorted look-ups."""

from __future__ import annotations

import numpy as np
import pytest

from acts_gnn.event import Event, SpacePoints, count_spacepoints, find_sorted, model_features
from acts_gnn.result import canonical_labels


def test_model_features_are_r_phi_z_scaled():
    features = model_features(
        np.array([0.0, 30.0]), np.array([100.0, -30.0]), np.array([-500.0, 2])
    )
    assert features.dtype == np.float32
    assert features.shape == (2, 3)
    np.testing.assert_allclose(features[0], [0.1, 0.5, -0.5], rtol=1e-6)
    np.testing.assert_allclose(features[1], [np.hypot(30, 30) / 1000, -0.25, 0.002], rtol=1e-6)


def test_spacepoints_convert_types_and_check_lengths():
    sp = SpacePoints(x=[1, 2], y=[3, 4], z=[5, 6], measurement_id=[7, 8])
    assert sp.x.dtype == np.float32 and sp.measurement_id.dtype == np.uint64
    assert len(sp) == 2
    np.testing.assert_allclose(sp.features()[:, 0], np.hypot([1, 2], [3, 4]) / 1000, rtol=1e-6)
    with pytest.raises(ValueError, match="measurement_id has 1 entries, expected 2"):
        SpacePoints(x=[1, 2], y=[3, 4], z=[5, 6], measurement_id=[7])


def test_event_rejects_truth_of_wrong_length(event_factory):
    good = event_factory([1, 1, 1], {1: 2.0})
    with pytest.raises(ValueError, match="truth has 3 entries for 2 space points"):
        Event(event_id=0, spacepoints=SpacePoints([1, 2], [1, 2], [1, 2], [1, 2]), truth=good.truth)


def test_canonical_labels_order_by_first_point_and_drop_small():
    labels = np.array([7, 7, -1, 3, 9, 3, 7, 9, 5])
    np.testing.assert_array_equal(canonical_labels(labels), [0, 0, -1, 1, 2, 1, 0, 2, 3])
    np.testing.assert_array_equal(canonical_labels(labels, 3), [0, 0, -1, -1, -1, -1, 0, -1, -1])
    np.testing.assert_array_equal(canonical_labels(np.full(3, -1)), [-1, -1, -1])


def test_find_sorted_and_count_spacepoints():
    pos, found = find_sorted(np.array([2, 5, 9], np.uint64), np.array([5, 1, 9, 10], np.uint64))
    np.testing.assert_array_equal(found, [True, False, True, False])
    assert pos[0] == 1 and pos[2] == 2
    pos, found = find_sorted(np.array([], np.uint64), np.array([1], np.uint64))
    assert not found.any()
    counts = count_spacepoints(np.array([3, 1, 4], np.uint64), np.array([1, 1, 0, 3], np.uint64))
    np.testing.assert_array_equal(counts, [1, 2, 0])
