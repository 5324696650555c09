"""The track-finder protocol and the backends that need no model.

Layer: reco.

A track finder turns one :class:`~acts_gnn.event.Event` into a
:class:`~acts_gnn.result.TrackingResult`: a label per space point (-1 = unassigned) plus its
timing. The local GNN pipeline, the remote Triton client and the truth finder all honour it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from acts_gnn.errors import ConfigError, InputFormatError
from acts_gnn.event import NOISE_PARTICLE_ID, Event
from acts_gnn.result import EventTiming, TrackingResult, canonical_labels

__all__ = ["BACKENDS", "TrackFinder", "TruthTrackFinder", "make_finder"]


@runtime_checkable
class TrackFinder(Protocol):
    """Anything that finds track candidates in an event."""

    name: str

    def reconstruct(self, event: Event) -> TrackingResult:
        """Label every space point of ``event`` with a candidate id (-1 = none)."""
        ...


class TruthTrackFinder:
    """Groups space points by their true particle, as ACTS's ``TruthTrackFinder`` does.

    Noise points stay unassigned. Labels are canonical (numbered by first space point). It is the
    upper bound of any finder and exercises the whole I/O path without a model.
    """

    name = "truth"

    def __init__(self, min_spacepoints: int = 1) -> None:
        self.min_spacepoints = min_spacepoints

    def __repr__(self) -> str:
        return f"TruthTrackFinder(min_spacepoints={self.min_spacepoints})"

    def reconstruct(self, event: Event) -> TrackingResult:
        """Labels from the event's truth.

        Raises:
            InputFormatError: the event has no truth.
        """
        if event.truth is None:
            raise InputFormatError(
                event.source, "", "the truth backend needs truth (particle ids) in the input"
            )
        start = time.perf_counter()
        particle = event.truth.particle_id
        raw = np.full(particle.shape, -1, dtype=np.int64)
        real = particle != NOISE_PARTICLE_ID
        _, raw[real] = np.unique(particle[real], return_inverse=True)
        labels = canonical_labels(raw, self.min_spacepoints)
        elapsed = time.perf_counter() - start
        timing = EventTiming(
            event_id=event.event_id,
            backend=self.name,
            n_spacepoints=len(event),
            total_s=elapsed,
            stages_s={"track_building": elapsed},
        )
        return TrackingResult(labels=labels, timing=timing)


#: backends that ``reconstruct --backend`` accepts
BACKENDS = ("gnn", "gnn_walk", "truth", "unrolling")


def make_finder(
    backend: str,
    bundle: str | Path | None = None,
    device: str | None = None,
    *,
    max_neighbours: int | None = None,
) -> TrackFinder:
    """The track finder named ``backend``.

    ``gnn`` is the local pipeline with connected components, ``gnn_walk`` the same with the
    walkthrough track builder; both use ``bundle`` (default: the model shipped in the package),
    with ``max_neighbours`` (K1's cap per space point) replacing the bundle's when given.
    ``unrolling`` is the classical helix-unrolling baseline, ``truth`` the truth finder.

    Raises:
        ConfigError: unknown backend, or ``max_neighbours`` below one.
        BundleError: the bundle cannot be loaded.
    """
    if max_neighbours is not None and max_neighbours < 1:
        raise ConfigError(f"--max-neighbours must be at least 1, got {max_neighbours}")
    if backend == "truth":
        return TruthTrackFinder()
    if backend == "unrolling":
        from acts_gnn.classical.unrolling import UnrollingTrackFinder

        return UnrollingTrackFinder()
    if backend in ("gnn", "gnn_walk"):
        from acts_gnn.gnn.pipeline import Pipeline

        builder = "walkthrough" if backend == "gnn_walk" else "components"
        overrides = {} if max_neighbours is None else {"max_neighbours": max_neighbours}
        return Pipeline(bundle, device=device, track_builder=builder, **overrides)
    raise ConfigError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
