"""Event model: features, label canonicalisation, sorted look-ups."""

from __future__ import annotations

import re

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


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"x": ["a", "b"]}, "x must be numbers, got <U1 ('a')"),
        ({"x": None}, "x must be an array of numbers, got None"),
        ({"measurement_id": [1, None]}, "measurement_id must be numbers (int() argument"),
        ({"y": [3.0]}, "y has 1 entries, expected 2"),
        ({"z": [[5], [6]]}, "z must be one-dimensional, got shape (2, 1)"),
        ({"measurement_id": [0.5, 1.5]}, "measurement_id must be whole numbers, got float64"),
        ({"measurement_id": [-1, 2]}, "measurement_id must not be negative, got -1"),
        ({"measurement_id": [1, 2**64]}, "measurement_id holds a number beyond uint64"),
    ],
)
def test_spacepoints_refuse_what_numpy_would_convert_with_a_loss(columns, message):
    # strings and None were numpy's own errors; fractions and negative ids were cut or wrapped
    from acts_gnn.errors import EventDataError

    given = {"x": [1, 2], "y": [3, 4], "z": [5, 6], "measurement_id": [7, 8], **columns}
    with pytest.raises(EventDataError) as refused:
        SpacePoints(**given)
    assert str(refused.value).startswith(message)
    assert refused.value.exit_code == 2 and isinstance(refused.value, ValueError)
    big = SpacePoints([1, 2], [3, 4], [5, 6], [1, 2**64 - 1])  # a list's integers exactly
    assert big.measurement_id[1] == np.uint64(2**64 - 1)


@pytest.mark.parametrize(
    ("event_id", "spacepoints", "message"),
    [
        (-1, None, "event_id must be a whole number from 0 to 2^64 − 1, got -1"),
        (1.5, None, "event_id must be a whole number from 0 to 2^64 − 1, got 1.5"),
        ("abc", None, "event_id must be a whole number from 0 to 2^64 − 1, got 'abc'"),
        (True, None, "event_id must be a whole number from 0 to 2^64 − 1, got True"),
        (2**64, None, f"event_id must be a whole number from 0 to 2^64 − 1, got {2**64}"),
        (3, np.zeros((3, 3)), "spacepoints must be SpacePoints, got ndarray"),
    ],
)
def test_an_event_refuses_an_id_or_space_points_it_cannot_be(event_id, spacepoints, message):
    # -1 was written as 18446744073709551615, 1.5 read as 1, "abc" failed in the ROOT writer
    from acts_gnn.errors import EventDataError

    points = SpacePoints([1, 2], [3, 4], [5, 6], [7, 8]) if spacepoints is None else spacepoints
    with pytest.raises(EventDataError, match=f"^{re.escape(message)}$"):
        Event(event_id, points)
    assert Event(np.uint64(4), SpacePoints([1], [2], [3], [4])).event_id == 4


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
