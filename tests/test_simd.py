"""The vector intrinsics that turn a comparison into lane numbers (K1's lower bound uses them)."""

import numpy as np
from numba import njit

from acts_gnn.simd import LANES, lowest_lane, vbelow, vload, vsplat


@njit
def _lanes_below(values, threshold):
    near = vbelow(vload(values, 0, 0), vsplat(threshold))
    lanes = []
    while near:
        lanes.append(lowest_lane(near))
        near &= near - 1
    return lanes


@njit
def _lowest(mask):
    return lowest_lane(mask)


def test_vbelow_lists_the_lanes_where_greater_or_equal_is_false_in_order():
    rng = np.random.default_rng(5)
    for _ in range(200):
        values = rng.integers(-3, 4, (1, LANES)).astype(np.float32)  # ties with the threshold
        values[0, rng.random(LANES) < 0.1] = np.nan
        threshold = np.float32(rng.integers(-3, 4))
        expected = [lane for lane in range(LANES) if not values[0, lane] >= threshold]
        assert _lanes_below(values, threshold) == expected


def test_vbelow_of_no_lane_and_of_every_lane():
    values = np.arange(LANES, dtype=np.float32).reshape(1, LANES)
    assert _lanes_below(values, np.float32(0.0)) == []
    assert _lanes_below(values, np.float32(LANES)) == list(range(LANES))


def test_lowest_lane_is_the_lowest_set_bit():
    for bit in range(63):
        assert _lowest(np.int64(1) << bit) == bit
        assert _lowest((np.int64(1) << bit) | (np.int64(1) << 62)) == bit
    assert _lowest(np.int64(0b1011000)) == 3
