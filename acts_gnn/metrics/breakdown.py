"""Where targets are lost and fakes are made: a stage-by-stage account of one pipeline run.

Layer: metrics (uses ``event`` and :mod:`acts_gnn.metrics.matching`; SciPy for components).

A stage of the pipeline keeps some of the candidate edges (the K1 graph, the edges the filter
keeps, the edges above the GNN cut). A target is still **reachable** after a stage when the
edges kept so far that join two points of one particle, taken alone, would give a candidate
matched to it (the same double-majority matching as ``evaluate``): a perfect track builder could
still find it. Each missed target is charged to the first stage after which it is no longer
reachable; a target reachable after every stage but not found was lost by track building — by
edges above the cut that merged it with other points (``merged``), or by stitching, when the
builder's pieces matched it before stitching (``stitching``). A target that the candidates
before the candidate-quality selection matched and the final ones do not was dropped by that
selection (``quality``), whatever the stages before it did (a rescued track dropped by the
quality selection is charged to it, not to the GNN cut).

A fake is either a **fragment** (more than half of its points are one particle's, but not more
than half of that particle's points: a track cut in pieces) or **impure**; an impure fake is
charged to the false edges above the GNN cut (``gnn_edges``: one of the builder's own pieces
inside it, of at least the candidate size, is already impure) or else to ``stitching`` (pure
pieces, or loose points, of different particles joined). Each fake is described by its largest
particle: a target, another particle above or below the target pT, or noise.

Local density of a target: the other particles (with at least ``min_particle_spacepoints`` space
points) whose direction lies within ΔR = √(Δη² + Δφ²) < :data:`DENSITY_DELTA_R` of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from acts_gnn.event import NOISE_PARTICLE_ID, Event, count_spacepoints
from acts_gnn.metrics.matching import EventMatch, MatchingConfig, match_event

__all__ = [
    "DENSITY_DELTA_R",
    "FAKE_CAUSES",
    "FAKE_MAJORITY",
    "LOSS_CAUSES",
    "EventLosses",
    "account_event",
    "same_particle_labels",
]

#: the cone of the local-density count
DENSITY_DELTA_R = 0.05
#: what a missed target is charged to, besides a stage name; "found" for a matched target
LOSS_CAUSES = ("merged", "stitching", "quality")
#: what a fake is charged to
FAKE_CAUSES = ("fragment", "gnn_edges", "stitching")
#: the largest particle of a fake
FAKE_MAJORITY = ("target", "other, pT above the target cut", "other, pT below it", "noise")


def same_particle_labels(n: int, edges: np.ndarray, particle: np.ndarray) -> np.ndarray:
    """Components of the ``edges`` [2, E] that join two points of one (non-noise) particle.

    Returns int64 [N] labels; points on no such edge get -1.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    edges = np.asarray(edges, dtype=np.int64).reshape(2, -1)
    a, b = edges[0], edges[1]
    same = (particle[a] == particle[b]) & (particle[a] != NOISE_PARTICLE_ID)
    a, b = a[same], b[same]
    graph = coo_matrix((np.ones(a.size, np.int8), (a, b)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    on_edge = np.zeros(n, bool)
    on_edge[a] = True
    on_edge[b] = True
    return np.where(on_edge, labels, -1).astype(np.int64)


@dataclass(frozen=True)
class EventLosses:
    """The account of one event.

    Per target (sorted by particle id, as :class:`~acts_gnn.metrics.matching.EventMatch`):
    ``pt``, ``eta``, ``vertex_r_mm``, ``density`` and ``lost_at`` ("found", a stage name, or one
    of :data:`LOSS_CAUSES`); ``rescued``: not reachable after the last stage, found all the same
    (stitching takes edges below the cut). Per fake: ``fake_cause`` (:data:`FAKE_CAUSES`) and
    ``fake_majority`` (:data:`FAKE_MAJORITY`). ``fakes_dropped``: fakes among the candidates
    before the quality selection that it dropped (0 without one).
    """

    event_id: int
    stages: tuple[str, ...]
    pt: np.ndarray
    eta: np.ndarray
    vertex_r_mm: np.ndarray
    density: np.ndarray
    lost_at: np.ndarray
    rescued: np.ndarray
    n_candidates: int
    fake_cause: np.ndarray
    fake_majority: np.ndarray
    fakes_dropped: int = 0


def _density(event: Event, target_rows: np.ndarray, config: MatchingConfig) -> np.ndarray:
    """Other particles within ΔR < DENSITY_DELTA_R of each target (see the module)."""
    assert event.truth is not None
    table = event.truth.particles
    n_sp = count_spacepoints(table.particle_id, event.truth.particle_id)
    seen = (n_sp >= config.min_particle_spacepoints) & (table.particle_id != NOISE_PARTICLE_ID)
    eta, phi = np.nan_to_num(table.eta[seen]), np.nan_to_num(table.phi[seen])
    out = np.zeros(target_rows.size, np.int64)
    for start in range(0, target_rows.size, 256):
        rows = target_rows[start : start + 256]
        d_eta = np.nan_to_num(table.eta[rows])[:, None] - eta[None, :]
        d_phi = np.remainder(
            np.nan_to_num(table.phi[rows])[:, None] - phi[None, :] + np.pi, 2 * np.pi
        )
        d_phi -= np.pi
        close = d_eta**2 + d_phi**2 < DENSITY_DELTA_R**2
        out[start : start + 256] = close.sum(axis=1) - 1  # not itself
    return np.maximum(out, 0)


def _match(event: Event, labels: np.ndarray, config: MatchingConfig) -> EventMatch:
    assert event.truth is not None
    return match_event(event.event_id, event.spacepoints, event.truth, labels, config)


def _matched_targets(event: Event, labels: np.ndarray, config: MatchingConfig) -> np.ndarray:
    return _match(event, labels, config).target_matched


def _fakes(
    event: Event,
    final: np.ndarray,
    unstitched: np.ndarray,
    targets: np.ndarray,
    config: MatchingConfig,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Cause and largest particle of each fake candidate of ``final`` (``targets``: the target
    particle ids, sorted); number of candidates."""
    assert event.truth is not None
    particle = event.truth.particle_id
    ids, counts = np.unique(particle, return_counts=True)
    table = event.truth.particles
    causes: list[str] = []
    majorities: list[str] = []
    labels, sizes = np.unique(final[final >= 0], return_counts=True)
    candidates = labels[sizes >= config.min_track_spacepoints]
    for label in candidates:
        points = np.flatnonzero(final == label)
        owners, owned = np.unique(particle[points], return_counts=True)
        best = int(np.argmax(owned))  # ties: the smallest id, as match_event
        major, count = owners[best], int(owned[best])
        total = counts[np.searchsorted(ids, major)]
        pure = major != NOISE_PARTICLE_ID and 2 * count > points.size
        if pure and 2 * count > total:
            continue  # matched
        pieces = unstitched[points]
        impure_piece = False
        for piece in np.unique(pieces[pieces >= 0]):
            members = particle[points[pieces == piece]]
            if members.size < config.min_track_spacepoints:
                continue
            _, piece_counts = np.unique(members, return_counts=True)
            if 2 * piece_counts.max() <= members.size or (members == NOISE_PARTICLE_ID).all():
                impure_piece = True
                break
        causes.append("fragment" if pure else "gnn_edges" if impure_piece else "stitching")
        if major == NOISE_PARTICLE_ID:
            majorities.append("noise")
        elif np.isin(major, targets):
            majorities.append("target")
        else:
            row = table.index_of(np.array([major], dtype=np.uint64))[0]
            hard = row >= 0 and table.pt[row] > config.min_pt_gev
            majorities.append(FAKE_MAJORITY[1] if hard else FAKE_MAJORITY[2])
    return np.array(causes, dtype=object), np.array(majorities, dtype=object), candidates.size


def account_event(
    event: Event,
    stage_edges: Mapping[str, np.ndarray],
    unstitched: np.ndarray,
    final: np.ndarray,
    config: MatchingConfig = MatchingConfig(),
    before_quality: np.ndarray | None = None,
) -> EventLosses:
    """Charge every missed target and every fake of one event to a stage (see the module).

    Args:
        event: the event, with truth.
        stage_edges: the edges [2, E] kept after each stage, in pipeline order (each a subset of
            the one before).
        unstitched: the track builder's labels before stitching (pieces of any size).
        final: the candidate labels.
        config: the matching cuts.
        before_quality: the candidate labels before the candidate-quality selection (None: the
            pipeline had none, or it is not to be told apart).
    """
    if event.truth is None:
        raise ValueError(f"event {event.event_id} has no truth")
    n = len(event)
    particle = event.truth.particle_id
    final_match = _match(event, final, config)
    found = final_match.target_matched
    lost_at = np.full(found.size, "found", dtype=object)
    open_ = ~found
    before = None
    if before_quality is not None:
        before = match_event(event.event_id, event.spacepoints, event.truth, before_quality, config)
        lost_at[open_ & before.target_matched] = "quality"
        open_ &= ~before.target_matched
    reachable = np.ones(found.size, bool)
    for name, edges in stage_edges.items():
        reachable &= _matched_targets(event, same_particle_labels(n, edges, particle), config)
        lost_at[open_ & ~reachable] = name
        open_ &= reachable
    by_pieces = _matched_targets(event, unstitched, config)
    lost_at[open_ & by_pieces] = "stitching"
    lost_at[open_ & ~by_pieces] = "merged"

    table = event.truth.particles
    target_ids = final_match.target_ids
    rows = table.index_of(target_ids)
    fake_cause, fake_majority, n_candidates = _fakes(event, final, unstitched, target_ids, config)
    fakes_dropped = 0
    if before is not None:  # it only drops candidates: the fakes before it less those left
        fakes_dropped = before.n_tracks - before.n_matched_tracks - fake_cause.size
    return EventLosses(
        event_id=event.event_id,
        stages=tuple(stage_edges),
        pt=table.pt[rows].astype(np.float64),
        eta=table.eta[rows].astype(np.float64),
        vertex_r_mm=table.vertex_r[rows].astype(np.float64),
        density=_density(event, rows, config),
        lost_at=lost_at,
        rescued=found & ~reachable,
        n_candidates=int(n_candidates),
        fake_cause=fake_cause,
        fake_majority=fake_majority,
        fakes_dropped=int(fakes_dropped),
    )
