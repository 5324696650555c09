"""The reconstruction job: read events, find tracks, write tracks, timing and performance.

Layer: reco.

Events are read, reconstructed and written one at a time, so memory does not grow with the number
of events. Outputs are all-or-nothing: if any event fails, no tracks file, no CSV file and no
report is left behind.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from acts_gnn.errors import ConfigError, OutputError
from acts_gnn.io.atomic import write_text_atomic
from acts_gnn.io.source import EventSource
from acts_gnn.io.timing import TimingReport
from acts_gnn.io.tracks import TrackWriter
from acts_gnn.metrics.matching import MatchingConfig
from acts_gnn.metrics.performance import PerformanceAccumulator, PerformanceReport
from acts_gnn.reco.finder import TrackFinder
from acts_gnn.result import EventTiming, TrackingResult

__all__ = ["ReconstructionOutputs", "ReconstructionSummary", "run_reconstruction"]


@dataclass(frozen=True)
class ReconstructionOutputs:
    """Where to write; any of them may be None. ``overwrite`` allows replacing existing files."""

    tracks_root: Path | None = None
    tracks_csv_dir: Path | None = None
    timing_json: Path | None = None
    performance_json: Path | None = None
    overwrite: bool = False

    def check(self) -> None:
        """Refuse to replace existing files unless ``overwrite``; check directories exist.

        Raises:
            OutputError: an output exists (and ``overwrite`` is off) or its directory is missing.
        """
        for path in (self.tracks_root, self.timing_json, self.performance_json):
            if path is None:
                continue
            if path.exists() and not self.overwrite:
                raise OutputError(f"{path}: already exists (use --force to replace it)")
            if not path.parent.is_dir():
                raise OutputError(f"{path}: directory {path.parent} does not exist")
        if self.tracks_csv_dir is not None and self.tracks_csv_dir.exists():
            if not self.tracks_csv_dir.is_dir():
                raise OutputError(f"{self.tracks_csv_dir}: exists and is not a directory")
            if any(self.tracks_csv_dir.glob("event*-prototracks.csv")) and not self.overwrite:
                raise OutputError(
                    f"{self.tracks_csv_dir}: already holds proto-track files (use --force)"
                )


@dataclass(frozen=True)
class ReconstructionSummary:
    """What a run produced."""

    timing: TimingReport
    performance: PerformanceReport | None
    written: tuple[Path, ...] = field(default=())


def run_reconstruction(
    source: EventSource,
    finder: TrackFinder,
    outputs: ReconstructionOutputs,
    *,
    matching: MatchingConfig | None = MatchingConfig(),
    min_track_sizes: Sequence[int] = (3, 5),
    on_event: Callable[[EventTiming], None] | None = None,
) -> ReconstructionSummary:
    """Reconstruct every event of ``source`` with ``finder`` and write the outputs.

    Args:
        source: the events (read lazily).
        finder: the track finder.
        outputs: output locations.
        matching: cuts for the performance report, computed when events carry truth (None to
            skip it).
        min_track_sizes: minimum candidate sizes the performance report is given for.
        on_event: called after each event (for progress bars).

    Raises:
        InputFormatError: an input event is malformed (nothing is written then).
        OutputError: an output cannot be written.
    """
    if len(source) == 0:
        raise ConfigError("no events to reconstruct")
    outputs.check()
    start = time.perf_counter()
    timings: list[EventTiming] = []
    accumulator = PerformanceAccumulator(matching, min_track_sizes) if matching else None
    with_truth = 0
    with TrackWriter(outputs.tracks_root, outputs.tracks_csv_dir) as writer:
        for ref in source.refs:
            read_start = time.perf_counter()
            event = ref.load()
            read_s = time.perf_counter() - read_start
            result = finder.reconstruct(event)
            timing = replace(result.timing, read_s=read_s)
            writer.add(event, TrackingResult(labels=result.labels, timing=timing))
            timings.append(timing)
            if accumulator is not None and event.truth is not None:
                accumulator.add(event, result.labels)
                with_truth += 1
            if on_event is not None:
                on_event(timing)
    report = TimingReport.from_timings(timings, time.perf_counter() - start)
    performance = accumulator.report() if accumulator is not None and with_truth else None
    written = [p for p in (outputs.tracks_root,) if p is not None]
    if outputs.tracks_csv_dir is not None:
        written.append(outputs.tracks_csv_dir)
    try:
        if outputs.timing_json is not None:
            report.write_json(outputs.timing_json)
            written.append(outputs.timing_json)
        if outputs.performance_json is not None and performance is not None:
            write_text_atomic(outputs.performance_json, performance.to_json())
            written.append(outputs.performance_json)
    except OSError as exc:
        raise OutputError(f"cannot write report ({exc})") from exc
    return ReconstructionSummary(timing=report, performance=performance, written=tuple(written))
