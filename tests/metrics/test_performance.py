"""The rates of a performance report."""

from __future__ import annotations

import math

from acts_gnn.metrics.performance import SelectionSummary


def test_the_fake_rate_is_the_fakes_fraction_exactly():
    one_of = SelectionSummary(3, 104, 104, 176, 175, 0)
    assert one_of.fake_rate == 1 / 176  # 1 − 175/176 gave 0.005681818181818232
    assert math.isnan(SelectionSummary(3, 0, 0, 0, 0, 0).fake_rate)
