"""The .npz event cache and the dataset split."""

from __future__ import annotations

import numpy as np
import pytest

from acts_gnn.errors import InputFormatError
from acts_gnn.io.cache import build_cache, load_event_npz, save_event_npz, split_events
from acts_gnn.io.example import example_dir
from acts_gnn.io.source import open_events


def test_cached_event_equals_csv_event(tmp_path):
    source = open_events([example_dir()])
    (path,) = build_cache(source, tmp_path)
    assert path.name == "event000000000.npz"
    original = next(iter(source))
    cached = load_event_npz(path)
    assert cached.event_id == original.event_id
    for name in ("x", "y", "z", "measurement_id", "measurement_id_2", "volume_id", "layer_id"):
        np.testing.assert_array_equal(
            getattr(cached.spacepoints, name), getattr(original.spacepoints, name)
        )
    np.testing.assert_array_equal(cached.truth.particle_id, original.truth.particle_id)
    np.testing.assert_array_equal(cached.truth.particles.pt, original.truth.particles.pt)
    assert cached.truth.weight is None


def test_weights_survive_and_garbage_is_refused(shared_data, tmp_path):
    (event,) = list(open_events([shared_data / "trackml" / "subset_sparse"]))
    cached = load_event_npz(save_event_npz(event, tmp_path / "e.npz"))
    np.testing.assert_array_equal(cached.truth.weight, event.truth.weight)
    (tmp_path / "bad.npz").write_text("no")
    with pytest.raises(InputFormatError, match="not an acts-gnn event cache"):
        load_event_npz(tmp_path / "bad.npz")


def test_split_is_fixed_by_seed_and_disjoint():
    split = split_events(range(20), seed=5)
    assert [len(split[k]) for k in ("train", "validation", "test")] == [16, 2, 2]
    assert sorted(split["train"] + split["validation"] + split["test"]) == list(range(20))
    assert split == split_events(list(reversed(range(20))), seed=5)
    assert split != split_events(range(20), seed=6)
    small = split_events([4, 8, 15], seed=0)
    assert all(len(v) == 1 for v in small.values())
