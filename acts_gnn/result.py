"""What a track finder returns for one event: labels plus timing and sizes.

Layer: bottom (beside ``event``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["STAGES", "EventTiming", "RunRecord", "TrackingResult", "canonical_labels"]

#: pipeline stages in order; a timing report has one column per stage (``<stage>_s``)
STAGES = ("embedding", "graph_building", "filter", "gnn", "track_building")


@dataclass(frozen=True)
class EventTiming:
    """Wall time per stage (seconds) and the sizes that drive it, for one event.

    Stages a backend does not have are absent from ``stages_s``. ``read_s`` is the time spent
    reading the input, ``total_s`` the track finding itself (without reading and writing).
    """

    event_id: int
    backend: str
    n_spacepoints: int
    total_s: float
    read_s: float = 0.0
    n_edges_graph: int = 0
    n_edges_filtered: int = 0
    stages_s: dict[str, float] = field(default_factory=dict)

    def row(self) -> dict[str, float | int | str]:
        """A flat record: ids, sizes, ``<stage>_s`` for every known stage (NaN if not run)."""
        record: dict[str, float | int | str] = {
            "event_id": self.event_id,
            "backend": self.backend,
            "n_spacepoints": self.n_spacepoints,
            "n_edges_graph": self.n_edges_graph,
            "n_edges_filtered": self.n_edges_filtered,
            "read_s": self.read_s,
        }
        for stage in STAGES:
            record[f"{stage}_s"] = float(self.stages_s.get(stage, float("nan")))
        record["total_s"] = self.total_s
        return record


@dataclass(frozen=True)
class TrackingResult:
    """Labels of one event: int64 [N], a track-candidate id per space point, -1 = unassigned."""

    labels: np.ndarray
    timing: EventTiming


@dataclass(frozen=True)
class RunRecord:
    """What made a run's tracks and where (:func:`acts_gnn.reco.job.run_record`): written at the
    end of the timing and performance reports and into the tracks ROOT file, as ``run``."""

    #: the finder's own description (:func:`acts_gnn.finders.describe_finder`: for the GNN
    #: pipeline its bundle's directory and fingerprints, device, precision and settings)
    finder: Mapping[str, Any]
    #: this machine in one line (:func:`acts_gnn.cpus.machine`)
    machine: str
    #: when the run started (ISO 8601, UTC, seconds)
    started: str
    #: acts-gnn's version (None: run from a source tree that is not installed)
    acts_gnn: str | None = None
    #: CPU threads of a finder run here (None: not known, or nothing ran here)
    threads: int | None = None

    def to_json(self) -> dict[str, Any]:
        """``acts_gnn, started, machine, threads, finder``."""
        return {
            "acts_gnn": self.acts_gnn,
            "started": self.started,
            "machine": self.machine,
            "threads": self.threads,
            "finder": dict(self.finder),
        }

    @classmethod
    def from_json(cls, value: object) -> RunRecord | None:
        """What :meth:`to_json` wrote; None for anything else (a record it cannot be)."""
        if not isinstance(value, Mapping) or not isinstance(value.get("finder"), Mapping):
            return None
        try:
            return cls(
                finder=dict(value["finder"]),
                machine=str(value["machine"]),
                started=str(value["started"]),
                acts_gnn=value.get("acts_gnn"),
                threads=value.get("threads"),
            )
        except KeyError:
            return None


def canonical_labels(labels: np.ndarray, min_size: int = 1) -> np.ndarray:
    """Renumber candidate labels canonically.

    Candidates smaller than ``min_size`` become -1; the rest are numbered 0, 1, … in the order of
    their first space point (lowest index). The result is int64 and does not depend on the label
    values the finder happened to pick.
    """
    raw = np.asarray(labels, dtype=np.int64)
    out = np.full(raw.shape, -1, dtype=np.int64)
    assigned = np.flatnonzero(raw >= 0)
    if assigned.size == 0:
        return out
    values = raw[assigned]
    # slot: each assigned point's candidate as an index 0 … C−1; first: each slot's first point
    if int(values.max()) >= 4 * raw.size + 1024:  # sparse label values: number them by sorting
        _, first_at, slot, counts = np.unique(
            values, return_index=True, return_inverse=True, return_counts=True
        )
        first = assigned[first_at]
    else:  # the label values as slots (a finder's usual labels): O(N), no sort of the points
        slot = values
        counts = np.bincount(slot)
        first = np.full(counts.size, raw.size, dtype=np.int64)
        np.minimum.at(first, slot, assigned)
    kept = np.flatnonzero(counts >= min_size)
    kept = kept[np.argsort(first[kept], kind="stable")]
    rank = np.full(counts.size, -1, dtype=np.int64)
    rank[kept] = np.arange(kept.size)
    out[assigned] = rank[slot]
    return out
