"""A per-event cache (``.npz``, see :mod:`acts_gnn.io.npz`) of whole sources, and fixed
train/validation/test splits for training.

Layer: io.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from acts_gnn.io.npz import load_event_npz, save_event_npz
from acts_gnn.io.source import EventSource

__all__ = ["build_cache", "load_event_npz", "save_event_npz", "split_events"]


def build_cache(
    source: EventSource, directory: str | Path, on_event: Callable[..., None] | None = None
) -> list[Path]:
    """Cache every event of ``source`` as ``directory/eventNNNNNNNNN.npz`` (existing ones kept)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for ref in source.refs:
        path = directory / f"event{ref.event_id:09d}.npz"
        if not path.exists():
            save_event_npz(ref.load(), path)
        paths.append(path)
        if on_event is not None:
            on_event()
    return paths


def split_events(
    event_ids: Sequence[int], seed: int, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
) -> dict[str, list[int]]:
    """A fixed train / validation / test split of ``event_ids``, reproducible from ``seed``.

    Each part holds at least one event when there are three or more. The split depends only on
    the set of ids and the seed, not on their order.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or sum(fractions) <= 0:
        raise ValueError(f"fractions must be three non-negative numbers, got {fractions}")
    ids = np.array(sorted(set(int(i) for i in event_ids)), dtype=np.int64)
    order = ids[np.random.default_rng(seed).permutation(ids.size)]
    total = sum(fractions)
    n_val = round(fractions[1] / total * ids.size)
    n_test = round(fractions[2] / total * ids.size)
    if ids.size >= 3:
        n_val, n_test = max(n_val, 1 if fractions[1] else 0), max(n_test, 1 if fractions[2] else 0)
    n_train = ids.size - n_val - n_test
    return {
        "train": sorted(order[:n_train].tolist()),
        "validation": sorted(order[n_train : n_train + n_val].tolist()),
        "test": sorted(order[n_train + n_val :].tolist()),
    }
