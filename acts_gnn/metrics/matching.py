"""Truth matching of track candidates: target particles, double majority, per-event counts.

Layer: metrics (uses ``event``; nothing above it).

Definitions (DESIGN.md, every cut in :class:`MatchingConfig`):

* **target particle**: pT > ``min_pt_gev``, |η| < ``max_abs_eta``, produced within
  ``max_vertex_r_mm`` of the beam line, at least ``min_particle_spacepoints`` space points.
* **candidate**: a group of space points sharing a label, with at least ``min_track_spacepoints``.
* **matched** (double majority): more than half of the candidate's points come from one
  (non-noise) particle, and the candidate holds more than half of that particle's points. At
  most one candidate can match a particle this way, because candidates are disjoint.
* **efficiency** = matched targets / targets; **fake rate** = 1 − matched candidates / candidates
  (a candidate matched to a non-target particle is not a fake).
* **duplicate rate** = duplicates / matched targets, where a duplicate is a further candidate whose
  majority (> 50%) particle is an already matched target — a piece of a track split in two.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from acts_gnn.errors import ConfigError
from acts_gnn.event import NOISE_PARTICLE_ID, SpacePoints, Truth, count_spacepoints, find_sorted

__all__ = ["EventMatch", "MatchingConfig", "match_event", "pair_counts", "target_mask"]


@dataclass(frozen=True)
class MatchingConfig:
    """Cuts of the truth matching (units in the names)."""

    min_pt_gev: float = 1.0
    max_abs_eta: float = 4.0
    max_vertex_r_mm: float = 260.0
    min_particle_spacepoints: int = 3
    min_track_spacepoints: int = 3

    def __post_init__(self) -> None:
        """Refuse cuts no particle or candidate could pass sensibly (NaN fails every one).

        Raises:
            ConfigError: a negative or NaN pT, a non-positive |η| or radius, fewer than one
                space point.
        """
        checks = (
            ("--min-pt", self.min_pt_gev, self.min_pt_gev >= 0, "a number ≥ 0"),
            ("--max-eta", self.max_abs_eta, self.max_abs_eta > 0, "a number > 0"),
            ("--max-vertex-r", self.max_vertex_r_mm, self.max_vertex_r_mm > 0, "a number > 0"),
            ("--min-particle-sp", self.min_particle_spacepoints,
             self.min_particle_spacepoints >= 1, "at least 1"),
            ("--min-track-sp", self.min_track_spacepoints, self.min_track_spacepoints >= 1,
             "at least 1"),
        )  # fmt: skip
        for option, value, fine, expected in checks:
            if not fine:
                raise ConfigError(f"{option} must be {expected}, got {value}")


@dataclass(frozen=True)
class EventMatch:
    """Matching result of one event.

    Per target, in particle-id order: ``target_ids`` (uint64 [T]), ``target_pt``, ``target_eta``
    (float [T]), ``target_matched`` (bool [T]).
    Per candidate: ``track_size`` (int [C]), ``track_eta`` (float [C]), ``track_matched`` and
    ``track_duplicate`` (bool [C]).
    """

    event_id: int
    target_ids: np.ndarray
    target_pt: np.ndarray
    target_eta: np.ndarray
    target_matched: np.ndarray
    track_size: np.ndarray
    track_eta: np.ndarray
    track_matched: np.ndarray
    track_duplicate: np.ndarray

    @property
    def n_targets(self) -> int:
        """Number of target particles."""
        return int(self.target_matched.size)

    @property
    def n_matched_targets(self) -> int:
        """Target particles matched by a candidate."""
        return int(self.target_matched.sum())

    @property
    def n_tracks(self) -> int:
        """Number of candidates."""
        return int(self.track_matched.size)

    @property
    def n_matched_tracks(self) -> int:
        """Candidates matched (double majority) to any particle."""
        return int(self.track_matched.sum())

    @property
    def n_duplicates(self) -> int:
        """Candidates that duplicate an already matched target."""
        return int(self.track_duplicate.sum())


def pair_counts(
    track: np.ndarray, particle: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Count the (track, particle) pairs among the assigned points.

    Returns:
        ``(order, starts, pair_track, pair_particle, pair_count)``: ``order`` sorts the points
        by (track, particle); ``starts`` are the first sorted point of each pair; one entry per
        distinct pair otherwise.
    """
    order = np.lexsort((particle, track))
    t, p = track[order], particle[order]
    boundary = np.ones(t.size, bool)
    boundary[1:] = (t[1:] != t[:-1]) | (p[1:] != p[:-1])
    starts = np.flatnonzero(boundary)
    pair_count = np.diff(np.append(starts, t.size))
    return order, starts, t[starts], p[starts], pair_count


def _majority(track: np.ndarray, particle: np.ndarray) -> tuple[np.ndarray, ...]:
    """For each track (0…T-1, dense): majority particle, its count in the track, track size.

    Ties go to the smallest particle id, so the answer does not depend on input order.
    """
    n_tracks = int(track.max()) + 1 if track.size else 0
    size = np.bincount(track, minlength=n_tracks)
    if track.size == 0:
        empty = np.zeros(0, np.int64)
        return np.zeros(0, np.uint64), empty, size
    _, _, pair_track, pair_particle, pair_count = pair_counts(track, particle)
    # best pair per track: highest count, then smallest particle id
    best = np.lexsort((pair_particle, -pair_count, pair_track))
    first = np.ones(best.size, bool)
    first[1:] = pair_track[best][1:] != pair_track[best][:-1]
    chosen = best[first]
    major = np.zeros(n_tracks, np.uint64)
    major_count = np.zeros(n_tracks, np.int64)
    major[pair_track[chosen]] = pair_particle[chosen]
    major_count[pair_track[chosen]] = pair_count[chosen]
    return major, major_count, size


def target_mask(truth: Truth, config: MatchingConfig = MatchingConfig()) -> np.ndarray:
    """bool [P]: which rows of ``truth.particles`` are target particles (see the module)."""
    table = truth.particles
    n_sp = count_spacepoints(table.particle_id, truth.particle_id)
    with np.errstate(invalid="ignore"):
        return (
            (table.pt > config.min_pt_gev)
            & (np.abs(table.eta) < config.max_abs_eta)
            & (table.vertex_r < config.max_vertex_r_mm)
            & (n_sp >= config.min_particle_spacepoints)
            & (table.particle_id != NOISE_PARTICLE_ID)
        )


def match_event(
    event_id: int,
    spacepoints: SpacePoints,
    truth: Truth,
    labels: np.ndarray,
    config: MatchingConfig = MatchingConfig(),
) -> EventMatch:
    """Match the candidates of one event to its truth particles.

    Args:
        event_id: the event number (kept in the result).
        spacepoints: the event's space points (for candidate η).
        truth: the event's truth.
        labels: int [N], candidate label per space point, negative = unassigned.
        config: the cuts.
    """
    labels = np.asarray(labels, dtype=np.int64)
    particle = truth.particle_id
    # dense candidate numbering, small candidates dropped
    assigned = labels >= 0
    _, dense = np.unique(labels[assigned], return_inverse=True)
    sizes = np.bincount(dense) if dense.size else np.zeros(0, np.int64)
    keep_track = sizes >= config.min_track_spacepoints
    remap = np.full(sizes.size, -1, np.int64)
    remap[keep_track] = np.arange(int(keep_track.sum()))
    track = np.full(labels.shape, -1, np.int64)
    track[assigned] = remap[dense]
    in_track = track >= 0

    major, major_count, size = _majority(track[in_track], particle[in_track])

    # every particle's number of space points in this event
    ids, counts = np.unique(particle, return_counts=True)
    pos, found = find_sorted(ids, major)
    particle_total = np.where(found, counts[pos], 0)
    real = major != NOISE_PARTICLE_ID
    pure = real & (2 * major_count > size)
    matched = pure & (2 * major_count > particle_total)

    table = truth.particles
    is_target = target_mask(truth, config)
    target_ids = np.sort(table.particle_id[is_target])
    matched_ids = np.unique(major[matched])
    _, target_matched_found = find_sorted(matched_ids, target_ids)
    order = np.argsort(table.particle_id[is_target], kind="stable")
    target_pt = table.pt[is_target][order]
    target_eta = table.eta[is_target][order]

    # duplicates: pure but not matched, of a matched target
    _, dup_of_target = find_sorted(target_ids[target_matched_found], major)
    duplicate = pure & ~matched & dup_of_target

    # candidate η from its space points' mean position
    eta = np.zeros(size.size, np.float64)
    if size.size:
        r = spacepoints.r.astype(np.float64)[in_track]
        z = spacepoints.z.astype(np.float64)[in_track]
        t = track[in_track]
        mean_r = np.bincount(t, weights=r, minlength=size.size) / np.maximum(size, 1)
        mean_z = np.bincount(t, weights=z, minlength=size.size) / np.maximum(size, 1)
        eta = np.arcsinh(mean_z / np.maximum(mean_r, 1e-9))

    return EventMatch(
        event_id=event_id,
        target_ids=target_ids,
        target_pt=target_pt.astype(np.float64),
        target_eta=target_eta.astype(np.float64),
        target_matched=target_matched_found,
        track_size=size.astype(np.int64),
        track_eta=eta,
        track_matched=matched,
        track_duplicate=duplicate,
    )
