"""The pipeline's stages by name, and the track builders as objects of one protocol.

Layer: gnn.

The stage names are those of :data:`acts_gnn.result.STAGES` (the columns of every timing
report), as constants the pipeline uses for its timing and its profiler ranges. The track
builders — connected components and the walkthrough — follow :class:`TrackBuilder` and are
listed once in :data:`TRACK_BUILDERS`, which a bundle's ``track_builder`` setting names; a new
one is one class and one entry there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from acts_gnn.gnn.track_building import build_components, build_walkthrough
from acts_gnn.result import STAGES

__all__ = [
    "EMBEDDING",
    "FILTER",
    "GNN",
    "GRAPH_BUILDING",
    "TRACK_BUILDERS",
    "TRACK_BUILDING",
    "Components",
    "TrackBuilder",
    "Walkthrough",
]

EMBEDDING, GRAPH_BUILDING, FILTER, GNN, TRACK_BUILDING = STAGES


class TrackBuilder(Protocol):
    """Candidates from the GNN's scored edges: a label per space point (-1 = none)."""

    name: str

    def pieces(
        self,
        n: int,
        edges: np.ndarray,
        scores: np.ndarray,
        r: np.ndarray,
        cut: float,
        walk_cut: float,
        min_size: int,
    ) -> np.ndarray:
        """Labels of ``n`` points from ``edges`` [2, E] with GNN ``scores`` [E] (before
        stitching); candidates smaller than ``min_size`` are dropped."""
        ...


@dataclass(frozen=True)
class Components:
    """Connected components of the edges above the cut."""

    name: str = "components"

    def pieces(self, n, edges, scores, r, cut, walk_cut, min_size) -> np.ndarray:
        return build_components(n, edges, scores, cut, min_size)


@dataclass(frozen=True)
class Walkthrough:
    """Walks outwards in r along the best edges above ``walk_cut`` from each seed point."""

    name: str = "walkthrough"

    def pieces(self, n, edges, scores, r, cut, walk_cut, min_size) -> np.ndarray:
        return build_walkthrough(n, edges, scores, r, cut, walk_cut, min_size)


#: the track builders a bundle's ``track_builder`` may name
TRACK_BUILDERS: dict[str, TrackBuilder] = {b.name: b for b in (Components(), Walkthrough())}
