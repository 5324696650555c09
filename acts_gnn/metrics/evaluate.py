"""Score a tracks file (ROOT or proto-track CSV) against the truth of the events it came from.

Layer: metrics.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from acts_gnn.errors import InputFormatError, OutputError
from acts_gnn.event import NO_MEASUREMENT, Event, find_sorted
from acts_gnn.interrupts import interrupts_held
from acts_gnn.io.atomic import refuse_inputs_as_outputs, stage_text
from acts_gnn.io.source import EventSource
from acts_gnn.io.tracks import (
    PROTOTRACKS_GLOB,
    prototrack_files,
    read_prototracks_with_positions,
    read_run_record,
    read_tracks,
    recorded_spacepoints,
)
from acts_gnn.metrics.matching import MatchingConfig
from acts_gnn.metrics.performance import PerformanceAccumulator, PerformanceReport, ScoredInputs

__all__ = [
    "evaluate_tracks",
    "labels_from_tracks",
    "refuse_report_over_inputs",
    "write_report_files",
]


def labels_from_tracks(
    event: Event,
    track_id: np.ndarray,
    measurement_id: np.ndarray,
    tracks_path: str | Path,
    positions: np.ndarray | None = None,
) -> np.ndarray:
    """Label per space point from ``(track_id, measurement_id)`` pairs (-1 where none).

    Measurement ids that are not a space point's first measurement label nothing: the second
    measurement of a strip space point (which a proto-track file lists), and measurements
    without a space point (an ACTS track's strip hits where only pixels make space points), and
    so a candidate that holds none. But most candidates must hold a space point of the event.
    ``positions`` [M, 3] (mm), what a proto-track file records of each pair's space point: each
    must be where the event has it (within 0.01 mm or 10⁻⁵).

    Raises:
        InputFormatError: a space point belongs to two candidates, more than half of the
            candidates hold no space point of this event, or a space point lies elsewhere in
            the event (the files do not belong together).
    """
    measurement_id = np.asarray(measurement_id, dtype=np.uint64)
    track_id = np.asarray(track_id, dtype=np.int64)
    sp_ids = event.spacepoints.measurement_id
    order = np.argsort(sp_ids, kind="stable")
    pos, found = find_sorted(sp_ids[order], measurement_id)
    belongs = found | _second_measurements(event, measurement_id)
    candidates = np.unique(track_id)
    strangers = candidates.size - np.unique(track_id[belongs]).size
    if 2 * strangers > candidates.size:
        raise InputFormatError(
            tracks_path,
            f"event {event.event_id}",
            f"{strangers} of its {candidates.size} candidates "
            f"{'holds' if strangers == 1 else 'hold'} no space point of "
            f"{event.source}; the files do not belong together",
        )
    labels = np.full(len(sp_ids), -1, dtype=np.int64)
    rows = order[pos[found]]
    tracks = track_id[found]
    if np.unique(rows).size != rows.size:
        ordered = np.argsort(rows, kind="stable")
        twice = np.flatnonzero(rows[ordered][1:] == rows[ordered][:-1])[0]
        first, second = tracks[ordered[twice]], tracks[ordered[twice + 1]]
        where = "twice in candidate" if first == second else "in candidates"
        shown = f"{first}" if first == second else f"{first} and {second}"
        raise InputFormatError(
            tracks_path,
            f"event {event.event_id}",
            f"measurement {sp_ids[rows[ordered[twice]]]} (a space point) is {where} {shown}; "
            "expected each space point in one candidate at most",
        )
    if positions is not None:
        _check_positions(event, rows, measurement_id[found], positions[found], tracks_path)
    labels[rows] = tracks
    return labels


def _check_positions(
    event: Event, rows: np.ndarray, ids: np.ndarray, recorded: np.ndarray, tracks_path: str | Path
) -> None:
    """Refuse tracks whose space points (event ``rows``, measurement ``ids``) were ``recorded``
    somewhere else than the event has them: tracks of another event with the same numbers."""
    sp = event.spacepoints
    actual = np.stack([sp.x[rows], sp.y[rows], sp.z[rows]], axis=1).astype(np.float64)
    elsewhere = ~np.isclose(recorded, actual, rtol=1e-5, atol=1e-2).all(axis=1)
    if not elsewhere.any():
        return
    first = int(np.flatnonzero(elsewhere)[0])
    here = ", ".join(f"{v:.6g}" for v in recorded[first])
    there = ", ".join(f"{v:.6g}" for v in actual[first])
    raise InputFormatError(
        tracks_path,
        f"event {event.event_id}",
        f"{int(elsewhere.sum())} of its {elsewhere.size} space points lie elsewhere in "
        f"{event.source} (measurement {int(ids[first])}: ({here}) mm here, ({there}) mm "
        "there); the files do not belong together",
    )


def _second_measurements(event: Event, measurement_id: np.ndarray) -> np.ndarray:
    """bool per ``measurement_id``: the second measurement of one of ``event``'s strip points."""
    second = event.spacepoints.measurement_id_2
    if second is None:
        return np.zeros(measurement_id.shape, bool)
    second = np.sort(second[second != NO_MEASUREMENT])
    return find_sorted(second, measurement_id)[1]


def write_report_files(
    report: PerformanceReport, json_path: Path | None, plots_dir: Path | None
) -> list[Path]:
    """Write the JSON report and the plots (:data:`~acts_gnn.metrics.plots.PLOT_FILES` in
    ``plots_dir``), all or none: each is made under a temporary name beside its final one, and
    they are renamed into place only once all are made. A failure or Ctrl-C before that removes
    them, and the directories made for them. Returns the paths written.

    Raises:
        OutputError: an output could not be written (nothing is left then).
    """
    written: list[Path] = []
    try:
        # Ctrl-C waits while they are renamed into place (acts_gnn.interrupts)
        with contextlib.ExitStack() as held, contextlib.ExitStack() as staged:
            if json_path is not None:
                written.append(stage_text(staged, json_path, report.to_json()))
            if plots_dir is not None:
                from acts_gnn.metrics.plots import stage_plots

                written.extend(stage_plots(report, plots_dir, staged))
            held.enter_context(interrupts_held())  # closing `staged` renames them into place
    except OSError as exc:  # a rename into place failed
        raise OutputError(f"cannot put the report in place ({exc})") from exc
    return written


def evaluate_tracks(
    tracks_path: str | Path,
    source: EventSource | Iterable[Event],
    config: MatchingConfig = MatchingConfig(),
    min_track_sizes: Sequence[int] = (3, 5),
    on_event: Callable[..., None] | None = None,
) -> PerformanceReport:
    """Match the candidates in ``tracks_path`` to the truth of ``source``'s events (an
    :class:`EventSource`, or events in memory).

    Raises:
        InputFormatError: a file is malformed, two events of ``source`` share a number, an
            event has no truth, an event of ``source`` is missing from the tracks file, or its
            tracks were made from another event (the tracks file's timing tree records each
            event's number of space points; a candidate that holds no space point of the event
            is refused too).
        ConfigError: ``source`` holds something that is no event.
    """
    source = EventSource.of(source)
    source.check_distinct_ids()  # the tracks are kept by event number
    if Path(tracks_path).is_dir():  # each file read once, when its event comes, with positions
        files = prototrack_files(tracks_path)
        available = set(files)

        def pairs(event_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
            return read_prototracks_with_positions(files[event_id])

        def origin(event_id: int) -> Path:  # named in messages
            return files[event_id]
    else:
        tracks = read_tracks(tracks_path)
        available = set(tracks)

        def pairs(event_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
            return (*tracks[event_id], None)  # a ROOT file records no positions

        def origin(event_id: int) -> Path:
            return Path(tracks_path)

    recorded = recorded_spacepoints(tracks_path)
    accumulator = PerformanceAccumulator(config, min_track_sizes)
    for ref in source.refs:
        if ref.event_id not in available:
            raise InputFormatError(
                tracks_path, f"event {ref.event_id}", f"missing; it is in {ref.source}"
            )
        event = ref.load()
        if event.truth is None:
            hint = ""
            if ref.format == "root":
                hint = (
                    " (map its particle branch: --branch particle_id=NAME, or read ACTS's "
                    "hits tree: --root-preset hits)"
                )
            raise InputFormatError(
                event.source, "", f"no truth in this input; cannot evaluate{hint}"
            )
        made_from = recorded.get(ref.event_id, len(event))
        if made_from != len(event):
            raise InputFormatError(
                tracks_path,
                f"event {ref.event_id}",
                f"its tracks were made from {made_from} space points, {event.source} has "
                f"{len(event)}; the files do not belong together",
            )
        # a CSV file records where each point was: another event's of the same size is refused
        track_id, measurement_id, positions = pairs(ref.event_id)
        labels = labels_from_tracks(
            event, track_id, measurement_id, origin(ref.event_id), positions
        )
        accumulator.add(event, labels)
        if on_event is not None:
            on_event()
    unscored = tuple(sorted(available - {ref.event_id for ref in source.refs}))
    scored = ScoredInputs(
        tracks=str(Path(tracks_path).resolve()),
        truth=tuple(dict.fromkeys(_named(ref.source) for ref in source.refs)),
        run=read_run_record(tracks_path),
    )
    return replace(accumulator.report(), unscored_events=unscored, scored=scored)


def _named(source: str) -> str:
    """An event's source as the report names it: absolute where it is a file."""
    path = Path(source)
    return str(path.resolve()) if path.exists() else source


def refuse_report_over_inputs(
    json_path: Path | None, tracks_path: str | Path, source: EventSource
) -> None:
    """Refuse, before any work, a JSON report in place of the tracks or of a truth file (by any
    name or link): ``--force`` replaced the tracks with their report.

    Raises:
        OutputRefusedError: such a report path.
    """
    tracks_path = Path(tracks_path)
    read = [tracks_path] if not tracks_path.is_dir() else sorted(tracks_path.glob(PROTOTRACKS_GLOB))
    refuse_inputs_as_outputs({"--json": json_path}, [*read, *source.files()])
