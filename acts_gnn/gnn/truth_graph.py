"""Truth for training: which edges are "true" (both ends from one particle above a pT threshold).

Layer: gnn (numpy only).
"""

from __future__ import annotations

import numpy as np

from acts_gnn.event import NOISE_PARTICLE_ID, Event

__all__ = ["edge_truth", "same_particle", "spacepoint_pt", "true_edges"]


def spacepoint_pt(event: Event) -> np.ndarray:
    """pT (GeV) of the particle of each space point; 0 for noise and unknown particles."""
    assert event.truth is not None
    particles = event.truth.particles
    row = particles.index_of(event.truth.particle_id)
    pt = np.where(row >= 0, particles.pt[np.maximum(row, 0)], 0.0)
    return np.nan_to_num(pt.astype(np.float32))


def true_edges(event: Event, min_pt_gev: float) -> np.ndarray:
    """Consecutive space points of every particle with pT ≥ ``min_pt_gev`` → int64 [2, T].

    Points are ordered by distance from the particle's production vertex (origin when unknown)
    and each edge points from the nearer to the farther one.
    """
    assert event.truth is not None
    particle = event.truth.particle_id
    pt = spacepoint_pt(event)
    table = event.truth.particles
    row = table.index_of(particle)
    vx = np.where(row >= 0, np.nan_to_num(table.vx[np.maximum(row, 0)]), 0.0)
    vy = np.where(row >= 0, np.nan_to_num(table.vy[np.maximum(row, 0)]), 0.0)
    vz = np.where(row >= 0, np.nan_to_num(table.vz[np.maximum(row, 0)]), 0.0)
    sp = event.spacepoints
    distance = np.sqrt((sp.x - vx) ** 2 + (sp.y - vy) ** 2 + (sp.z - vz) ** 2)
    selected = np.flatnonzero((particle != NOISE_PARTICLE_ID) & (pt >= min_pt_gev))
    order = selected[np.lexsort((distance[selected], particle[selected]))]
    same = particle[order[1:]] == particle[order[:-1]]
    return np.stack([order[:-1][same], order[1:][same]]).astype(np.int64)


def edge_truth(event: Event, edges: np.ndarray, min_pt_gev: float) -> np.ndarray:
    """bool [E]: both ends made by the same (non-noise) particle with pT ≥ ``min_pt_gev``."""
    return same_particle(event, edges) & (spacepoint_pt(event)[edges[0]] >= min_pt_gev)


def same_particle(event: Event, edges: np.ndarray) -> np.ndarray:
    """bool [E]: both ends made by the same (non-noise) particle, whatever its pT."""
    assert event.truth is not None
    particle = event.truth.particle_id
    a, b = edges[0], edges[1]
    return (particle[a] == particle[b]) & (particle[a] != NOISE_PARTICLE_ID)
