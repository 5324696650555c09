"""The truth track finder."""

from __future__ import annotations

import numpy as np
import pytest

from acts_gnn.errors import InputFormatError
from acts_gnn.event import Event, SpacePoints
from acts_gnn.reco.finder import TrackFinder, TruthTrackFinder, make_finder


def test_truth_labels_are_canonical_and_noise_is_unassigned(event_factory):
    event = event_factory([9, 0, 4, 9, 4, 0, 7], {9: 1.0, 4: 1.0, 7: 1.0})
    result = TruthTrackFinder().reconstruct(event)
    np.testing.assert_array_equal(result.labels, [0, -1, 1, 0, 1, -1, 2])
    assert result.timing.backend == "truth" and result.timing.n_spacepoints == 7
    assert isinstance(make_finder("truth"), TrackFinder)


def test_truth_finder_needs_truth():
    event = Event(0, SpacePoints([1], [1], [1], [1]), source="x.csv")
    with pytest.raises(InputFormatError, match=r"x\.csv: the truth backend needs truth"):
        TruthTrackFinder().reconstruct(event)
