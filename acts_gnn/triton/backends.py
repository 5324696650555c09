"""The server's backend protocol: anything that turns ``FEATURES`` into ``LABELS`` can be served.

Layer: triton.

A backend is a factory ``factory(bundle, device, **settings)`` (called once per model instance,
so instances share no state; ``settings`` override the model bundle's pipeline settings, e.g.
``max_neighbours``, and are ignored by backends without a bundle) returning an object with
``run(features) -> (labels, stage_seconds, edge_counts)``: ``features`` float32 [N, 3],
``labels`` int64 [N], ``stage_seconds`` a mapping stage → seconds, ``edge_counts`` a pair (graph
edges, kept edges). Register one in :data:`BACKENDS` by name.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Protocol

import numpy as np

__all__ = ["BACKENDS", "Backend", "BackendFactory", "answer", "make_backend"]


class Backend(Protocol):
    """One model instance of a served track finder."""

    def run(self, features: np.ndarray) -> tuple[np.ndarray, Mapping[str, float], tuple[int, int]]:
        """Labels, stage seconds and edge counts for one event's features."""
        ...


BackendFactory = Callable[..., Backend]


class _PipelineBackend:
    def __init__(
        self, bundle: Path | None, device: str, track_builder: str, **settings: object
    ) -> None:
        from acts_gnn.gnn.pipeline import Pipeline

        self.pipeline = Pipeline(bundle, device=device, track_builder=track_builder, **settings)

    def run(self, features: np.ndarray) -> tuple[np.ndarray, Mapping[str, float], tuple[int, int]]:
        out = self.pipeline.run(features)
        return out.labels, out.stages_s, (out.n_edges_graph, out.n_edges_filtered)


#: served model name → factory(bundle, device, **settings)
BACKENDS: dict[str, BackendFactory] = {
    "gnn_tracking": lambda bundle, device, **settings: _PipelineBackend(
        bundle, device, "components", **settings
    ),
    "gnn_tracking_walk": lambda bundle, device, **settings: _PipelineBackend(
        bundle, device, "walkthrough", **settings
    ),
    "unrolling_tracking": lambda bundle, device, **settings: _unrolling(),
    # labels every space point -1 at once: what serving itself costs (``acts-gnn benchmark``)
    "null_tracking": lambda bundle, device, **settings: _NullBackend(),
}


class _NullBackend:
    def run(self, features: np.ndarray) -> tuple[np.ndarray, Mapping[str, float], tuple[int, int]]:
        return np.full(features.shape[0], -1, dtype=np.int64), {}, (0, 0)


def _unrolling() -> Backend:
    from acts_gnn.classical.unrolling import UnrollingTrackFinder

    return UnrollingTrackFinder()


def make_backend(name: str, bundle: Path | None, device: str, **settings: object) -> Backend:
    """A new instance of the backend ``name`` (``settings``: pipeline overrides, see above).

    Raises:
        ConfigError: unknown name.
    """
    from acts_gnn.errors import ConfigError

    if name not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r}; choose from {', '.join(sorted(BACKENDS))}")
    return BACKENDS[name](bundle, device, **settings)


def answer(
    backend: Backend, features: object, wanted: Collection[str], max_spacepoints: int
) -> dict[str, np.ndarray]:
    """The response tensors of one request, by name, as every server flavour sends them.

    ``LABELS`` always; ``STAGE_SECONDS`` and ``EDGE_COUNTS`` only when in ``wanted`` (the
    request's requested outputs).

    Raises:
        ContractError: ``features`` is not a valid ``FEATURES`` tensor (the message says why).
    """
    from acts_gnn.result import STAGES
    from acts_gnn.triton.contract import EDGE_COUNTS, LABELS, STAGE_SECONDS, check_features

    check_features(features, max_spacepoints)
    labels, stages, edges = backend.run(features)
    response = {LABELS: np.asarray(labels, dtype=np.int64)}
    if STAGE_SECONDS in wanted:
        response[STAGE_SECONDS] = np.array([stages.get(s, np.nan) for s in STAGES])
    if EDGE_COUNTS in wanted:
        response[EDGE_COUNTS] = np.array(edges, dtype=np.int64)
    return response
