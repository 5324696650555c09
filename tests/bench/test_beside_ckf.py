"""benchmarks/beside_ckf.py: the per-bin scoring of two finders on the same events."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from benchmarks.beside_ckf import BINS, score, table
from tests.conftest import make_event


def _event():
    event = make_event(
        [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 0],
        {1: 1.5, 2: 7.0, 3: 12.0, 4: 3.0},
        eta={1: 0.5, 2: -1.5, 3: 3.0, 4: 0.2},
    )
    particles = replace(event.truth.particles, vx=np.array([0.0, 0.0, 0.0, 5.0], np.float32))
    return replace(event, truth=replace(event.truth, particles=particles))


def test_every_bin_counts_its_targets_and_the_found_ones():
    event = _event()
    # 1, 2 and 4 whole (4 with the noise point); 3 split into pieces of 2 and 1: not found
    labels = np.array([0, 0, 0, 1, 1, 1, 2, 2, 5, 3, 3, 3, 3])
    scores = score([event], {event.event_id: labels})
    assert scores["totals"] == {
        "targets": 4,
        "found": 3,
        "candidates": 3,
        "fakes": 0,
        "duplicates": 0,
    }
    expected = [(1, 1), (1, 1), (1, 1), (0, 1), (2, 2), (1, 1), (0, 1), (2, 3), (1, 1), (0, 0)]
    assert [tuple(scores["bins"][name]) for name, _ in BINS] == expected
    text = table({"a": scores, "b": score([event], {0: np.full(13, -1)})}, {"a": "1 s", "b": "2 s"})
    assert "| efficiency | 75.0% (3/4) | 0.0% (0/4) |" in text
    assert "| \\|η\\| < 1 | 100.0% (2/2) | 0.0% (0/2) |" in text
    assert "| production radius 10–260 mm | – | – |" in text
    assert text.splitlines()[-1] == "| CPU time per event | 1 s | 2 s |"
