"""The TrackML challenge score, with the official hit weighting.

Layer: metrics.

Each space point carries a weight; noise and points of particles with fewer than four points weigh
nothing. A candidate counts when more than half of its points come from one particle and it holds
more than half of that particle's points (double majority); the score is the weight of those
majority points summed over counted candidates, divided by the event's total weight (so a perfect
reconstruction scores 1 also on a subset whose stored weights do not sum to one).

When the input carries no weights (everything but TrackML ``truth.csv``), they are recomputed as
the challenge defined them (A. Amrouche et al., "The Tracking Machine Learning challenge: Accuracy
phase", 2019): a pT weight of 0.2 below 0.5 GeV rising linearly to 1 at 3 GeV, times an order
weight that favours the first and last points along the particle (points ordered by |z − v_z|;
order profile 10, 8, 6, 5, 3, 3, 3, 5, 6 stretched over the particle's 4…20 points and normalised
per particle).
"""

from __future__ import annotations

import math

import numpy as np

from acts_gnn.event import NOISE_PARTICLE_ID, SpacePoints, Truth, find_sorted
from acts_gnn.metrics.matching import pair_counts

__all__ = ["order_weight", "pt_weight", "trackml_score", "trackml_weights"]

_ORDER_PROFILE = np.array([10.0, 8.0, 6.0, 5.0, 3.0, 3.0, 3.0, 5.0, 6.0])
_MIN_POINTS = 4
_MAX_POINTS = 20


def pt_weight(pt_gev: np.ndarray) -> np.ndarray:
    """pT part of the weight: 0.2 up to 0.5 GeV, linear to 1.0 at 3 GeV, 1.0 above."""
    pt = np.asarray(pt_gev, dtype=np.float64)
    out = np.interp(pt, [0.5, 3.0], [0.2, 1.0])
    return np.where(np.isfinite(pt), out, 0.0)


def order_weight(n_points: int) -> np.ndarray:
    """Order weights of a particle's ``n_points`` points (sum 1; zeros below four points).

    Particles with more than twenty points use the twenty-point profile for their first twenty
    points and weigh nothing after.
    """
    out = np.zeros(n_points, dtype=np.float64)
    if n_points < _MIN_POINTS:
        return out
    n = min(n_points, _MAX_POINTS)
    support = np.arange(_ORDER_PROFILE.size) * (n - 1) / (_ORDER_PROFILE.size - 1)
    profile = np.interp(np.arange(n), support, _ORDER_PROFILE)
    out[:n] = profile / profile.sum()
    return out


def trackml_weights(spacepoints: SpacePoints, truth: Truth) -> np.ndarray:
    """Official TrackML weight of every space point (float64 [N], normalised to sum 1)."""
    particle = truth.particle_id
    weights = np.zeros(particle.size, dtype=np.float64)
    table = truth.particles
    row = table.index_of(particle)
    known = row >= 0
    pt = np.where(known, table.pt[np.maximum(row, 0)], np.nan)
    vz = np.where(known, table.vz[np.maximum(row, 0)], 0.0)
    distance = np.abs(spacepoints.z.astype(np.float64) - vz)
    real = np.flatnonzero(particle != NOISE_PARTICLE_ID)
    order = real[np.lexsort((distance[real], particle[real]))]
    p = particle[order]
    starts = np.flatnonzero(np.r_[True, p[1:] != p[:-1]])
    stops = np.r_[starts[1:], p.size]
    for start, stop in zip(starts.tolist(), stops.tolist(), strict=True):
        members = order[start:stop]
        weights[members] = order_weight(stop - start) * pt_weight(pt[members[0]])
    total = weights.sum()
    return weights / total if total > 0 else weights


def trackml_score(
    spacepoints: SpacePoints, truth: Truth, labels: np.ndarray, weights: np.ndarray | None = None
) -> float:
    """TrackML score of one event's candidate labels (int [N], negative = unassigned).

    Uses ``weights``, else ``truth.weight``, else :func:`trackml_weights`; NaN when there are
    none of these (no weights and no particle table: the weights need each particle's pT).
    """
    if weights is None and truth.weight is None and truth.particles.kinematics_unknown:
        return math.nan
    if weights is None:
        weights = truth.weight if truth.weight is not None else trackml_weights(spacepoints, truth)
    weights = np.asarray(weights, dtype=np.float64)
    total = weights.sum()
    labels = np.asarray(labels, dtype=np.int64)
    if total <= 0:
        return 0.0
    assigned = np.flatnonzero(labels >= 0)
    if assigned.size == 0:
        return 0.0
    particle = truth.particle_id
    t = labels[assigned]
    order, starts, pair_track, pair_particle, pair_count = pair_counts(t, particle[assigned])
    pair_weight = np.add.reduceat(weights[assigned][order], starts)
    tracks, track_size = np.unique(t, return_counts=True)
    track_index = np.searchsorted(tracks, pair_track)
    ids, counts = np.unique(particle, return_counts=True)
    pos, _ = find_sorted(ids, pair_particle)
    particle_total = counts[pos]
    good = (
        (pair_particle != NOISE_PARTICLE_ID)
        & (2 * pair_count > track_size[track_index])
        & (2 * pair_count > particle_total)
    )
    return float(pair_weight[good].sum() / total)
