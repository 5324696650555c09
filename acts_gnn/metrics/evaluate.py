"""Score a tracks file (ROOT or proto-track CSV) against the truth of the events it came from.

Layer: metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from acts_gnn.errors import InputFormatError
from acts_gnn.event import Event, find_sorted
from acts_gnn.io.source import EventSource
from acts_gnn.io.tracks import read_tracks, recorded_spacepoints
from acts_gnn.metrics.matching import MatchingConfig
from acts_gnn.metrics.performance import PerformanceAccumulator, PerformanceReport

__all__ = ["evaluate_tracks", "labels_from_tracks"]


def labels_from_tracks(
    event: Event, track_id: np.ndarray, measurement_id: np.ndarray, tracks_path: str | Path
) -> np.ndarray:
    """Label per space point from ``(track_id, measurement_id)`` pairs (-1 where none).

    Measurement ids that are not a space point's first measurement (the second measurement of a
    strip space point in a proto-track file) are ignored.

    Raises:
        InputFormatError: a space point belongs to two candidates, or no pair names a space point
            of this event although there are pairs (the files do not belong together).
    """
    sp_ids = event.spacepoints.measurement_id
    order = np.argsort(sp_ids, kind="stable")
    pos, found = find_sorted(sp_ids[order], measurement_id)
    labels = np.full(len(sp_ids), -1, dtype=np.int64)
    if measurement_id.size and not found.any():
        raise InputFormatError(
            tracks_path,
            f"event {event.event_id}",
            f"no measurement id matches a space point of {event.source}; wrong input?",
        )
    rows = order[pos[found]]
    tracks = np.asarray(track_id, dtype=np.int64)[found]
    if np.unique(rows).size != rows.size:
        raise InputFormatError(
            tracks_path, f"event {event.event_id}", "a space point is in more than one candidate"
        )
    labels[rows] = tracks
    return labels


def evaluate_tracks(
    tracks_path: str | Path,
    source: EventSource,
    config: MatchingConfig = MatchingConfig(),
    min_track_sizes: Sequence[int] = (3, 5),
    on_event: Callable[..., None] | None = None,
) -> PerformanceReport:
    """Match the candidates in ``tracks_path`` to the truth of ``source``'s events.

    Raises:
        InputFormatError: a file is malformed, an event has no truth, an event of ``source`` is
            missing from the tracks file, or its tracks were made from another event (the tracks
            file's timing tree records each event's number of space points).
    """
    tracks = read_tracks(tracks_path)
    recorded = recorded_spacepoints(tracks_path)
    accumulator = PerformanceAccumulator(config, min_track_sizes)
    for ref in source.refs:
        if ref.event_id not in tracks:
            raise InputFormatError(
                tracks_path, f"event {ref.event_id}", f"missing; it is in {ref.source}"
            )
        event = ref.load()
        if event.truth is None:
            raise InputFormatError(event.source, "", "no truth in this input; cannot evaluate")
        made_from = recorded.get(ref.event_id, len(event))
        if made_from != len(event):
            raise InputFormatError(
                tracks_path,
                f"event {ref.event_id}",
                f"its tracks were made from {made_from} space points, {event.source} has "
                f"{len(event)}; the files do not belong together",
            )
        track_id, measurement_id = tracks[ref.event_id]
        accumulator.add(event, labels_from_tracks(event, track_id, measurement_id, tracks_path))
        if on_event is not None:
            on_event()
    return accumulator.report()
