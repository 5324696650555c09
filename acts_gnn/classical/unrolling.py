"""Helix unrolling + density clustering: a classical baseline from the three contract features.

Layer: classical.

After the public TrackML-challenge baselines (helix "unrolling" with DBSCAN): a particle from the
beam line with curvature κ = q·0.3·B/pT (1/m) crosses radius r at azimuth φ = φ0 − asin(κr/2). For
each κ of a grid, every space point is mapped to (cos φ0, sin φ0, s·z/r) — points of a track with
that curvature collapse onto one spot — and clustered: points closer than ``eps`` are linked (K1,
at most ``max_neighbours`` each) and the components (K2) are the clusters. Clusters from all κ are
then taken greedily, largest first; a cluster claims its not-yet-claimed points if at least
``min_points`` remain. Everything else stays unassigned.

It is deliberately simple — no z0 fit, one η scale — and is meant as the baseline that shows what
the GNN buys (``acts-gnn evaluate`` scores both the same way).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from acts_gnn.cuda.components import connected_components_cpu
from acts_gnn.cuda.frnn import radius_graph_cpu
from acts_gnn.result import canonical_labels

__all__ = ["UnrollingConfig", "UnrollingTrackFinder", "unrolling_labels"]


@dataclass(frozen=True)
class UnrollingConfig:
    """Curvature grid (|κ| ≤ 0.6/m ≈ pT ≥ 1 GeV at 2 T), cluster size and neighbourhood.

    Defaults chosen on one simulated μ = 200 validation event (eps 0.008–0.015 and z scale
    0.05–0.1 tried; this pair found the most targets).
    """

    max_curvature_per_m: float = 0.6
    curvature_steps: int = 25
    eps: float = 0.008
    z_scale: float = 0.1
    max_neighbours: int = 8
    min_points: int = 5


def unrolling_labels(
    features: np.ndarray, config: UnrollingConfig = UnrollingConfig()
) -> np.ndarray:
    """Candidate label per space point (canonical, -1 unassigned) from features ``[N, 3]``."""
    features = np.asarray(features, dtype=np.float64)
    n = features.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    r, phi, z = features[:, 0], features[:, 1] * np.pi, features[:, 2]
    slope = config.z_scale * z / np.maximum(r, 1e-4)
    clusters: list[np.ndarray] = []
    for kappa in np.linspace(
        -config.max_curvature_per_m, config.max_curvature_per_m, config.curvature_steps
    ):
        phi0 = phi + np.arcsin(np.clip(kappa * r / 2.0, -1.0, 1.0))
        points = np.column_stack([np.cos(phi0), np.sin(phi0), slope]).astype(np.float32)
        edges = radius_graph_cpu(points, r.astype(np.float32), config.eps, config.max_neighbours)
        labels = connected_components_cpu(n, edges, config.min_points)
        if labels.max() < 0:
            continue
        order = np.argsort(labels, kind="stable")
        sorted_labels = labels[order]
        starts = np.searchsorted(sorted_labels, np.arange(labels.max() + 1))
        stops = np.append(starts[1:], n)
        clusters.extend(order[a:b] for a, b in zip(starts, stops, strict=True))
    claimed = np.full(n, -1, dtype=np.int64)
    for number, members in enumerate(sorted(clusters, key=lambda c: (-c.size, int(c[0])))):
        free = members[claimed[members] < 0]
        if free.size >= config.min_points:
            claimed[free] = number
    return canonical_labels(claimed, config.min_points)


class UnrollingTrackFinder:
    """:func:`unrolling_labels` as a track finder (``reconstruct --backend unrolling``)."""

    name = "unrolling"

    def __init__(self, config: UnrollingConfig = UnrollingConfig()) -> None:
        self.config = config

    def __repr__(self) -> str:
        return f"UnrollingTrackFinder({self.config!r})"

    def run(self, features: np.ndarray) -> tuple[np.ndarray, dict[str, float], tuple[int, int]]:
        """The server backend protocol: labels, stage seconds, edge counts (none here)."""
        import time

        start = time.perf_counter()
        labels = unrolling_labels(features, self.config)
        return labels, {"track_building": time.perf_counter() - start}, (0, 0)

    def reconstruct(self, event):
        """Labels for ``event``."""
        from acts_gnn.result import EventTiming, TrackingResult

        labels, stages, _ = self.run(event.features())
        timing = EventTiming(
            event.event_id, self.name, len(event), stages["track_building"], stages_s=stages
        )
        return TrackingResult(labels=labels, timing=timing)
