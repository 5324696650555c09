"""The reconstruction job: read events, find tracks, write tracks, timing and performance.

Layer: reco.

Events are read, reconstructed and written in order, so memory does not grow with the number of
events. With ``concurrency`` above one, up to that many events are being reconstructed at once
(threads — meant for the remote client, whose requests then overlap on the servers); they are
still written in input order. Outputs are all-or-nothing: if any event fails, no tracks file, no
CSV file and no report is left behind.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from fnmatch import fnmatch
from pathlib import Path

from acts_gnn.cpus import machine
from acts_gnn.errors import ConfigError, OutputError, OutputRefusedError
from acts_gnn.event import Event
from acts_gnn.finders import TrackFinder, describe_finder, finder_name
from acts_gnn.interrupts import interrupts_held
from acts_gnn.io.atomic import check_output, check_still_absent, stage_text
from acts_gnn.io.jsontext import json_text
from acts_gnn.io.source import EventSource
from acts_gnn.io.timing import TimingReport
from acts_gnn.io.tracks import (
    PROTOTRACKS_GLOB,
    TrackWriter,
    prototrack_csv_path,
    prototrack_event_id,
    read_prototracks_with_positions,
)
from acts_gnn.metrics.matching import MatchingConfig
from acts_gnn.metrics.performance import PerformanceAccumulator, PerformanceReport
from acts_gnn.result import EventTiming, RunRecord, TrackingResult

__all__ = ["ReconstructionOutputs", "ReconstructionSummary", "run_reconstruction", "run_record"]


@dataclass(frozen=True)
class ReconstructionOutputs:
    """Where to write; any of them may be None. ``overwrite`` allows replacing existing files."""

    tracks_root: Path | None = None
    tracks_csv_dir: Path | None = None
    timing_json: Path | None = None
    performance_json: Path | None = None
    overwrite: bool = False
    #: skip events whose proto-track CSV exists (needs ``tracks_csv_dir``); finished events'
    #: CSV files are kept if the run fails
    resume: bool = False

    def __post_init__(self) -> None:
        for name in ("tracks_root", "tracks_csv_dir", "timing_json", "performance_json"):
            value = getattr(self, name)
            if value is not None:  # a caller's plain string is a path too
                object.__setattr__(self, name, Path(value))

    def named(self) -> dict[str, Path | None]:
        """Each output by the option that gives it."""
        return {
            "--output": self.tracks_root,
            "--csv-dir": self.tracks_csv_dir,
            "--timing": self.timing_json,
            "--performance": self.performance_json,
        }

    def check(self) -> None:
        """Refuse, before any work, outputs that exist (unless ``overwrite``) or cannot be made.

        Raises:
            OutputRefusedError: an output exists (and ``overwrite`` is off) or cannot be created.
            ConfigError: ``resume`` without a CSV directory, or one path for two outputs.
        """
        given = [(option, path) for option, path in self.named().items() if path is not None]
        for k, (option, path) in enumerate(given):
            for other, other_path in given[k + 1 :]:
                if path.resolve() == other_path.resolve():
                    raise ConfigError(
                        f"{option} and {other} are one path ({path}): each output needs its own"
                    )
        csv_dir = self.tracks_csv_dir.resolve() if self.tracks_csv_dir is not None else None
        for option, path in given:  # where, and as what, it would be taken for an event's file
            inside = csv_dir is not None and path.resolve().parent == csv_dir
            if option != "--csv-dir" and inside and fnmatch(path.name, PROTOTRACKS_GLOB):
                raise ConfigError(
                    f"{option} {path} is named as --csv-dir's per-event files: give another name"
                )
        for path in (self.tracks_root, self.timing_json, self.performance_json):
            if path is not None:
                check_output(path, overwrite=self.overwrite)
        if self.resume and self.tracks_csv_dir is None:
            raise ConfigError("--resume needs --csv-dir (the per-event files it resumes from)")
        if self.tracks_csv_dir is not None and self.tracks_csv_dir.exists():
            if not self.tracks_csv_dir.is_dir():
                raise OutputRefusedError(
                    f"{self.tracks_csv_dir}: is not a directory (--csv-dir takes a directory)"
                )
            existing = any(self.tracks_csv_dir.glob(PROTOTRACKS_GLOB))
            if existing and not (self.overwrite or self.resume):
                raise OutputRefusedError(
                    f"{self.tracks_csv_dir}: already holds proto-track files "
                    "(--resume to continue, --force to replace)"
                )
        elif self.tracks_csv_dir is not None:
            check_output(self.tracks_csv_dir, overwrite=False)  # can it be created?


@dataclass(frozen=True)
class ReconstructionSummary:
    """What a run produced."""

    timing: TimingReport
    performance: PerformanceReport | None
    written: tuple[Path, ...] = field(default=())
    #: events skipped because a previous run wrote them (``resume``)
    resumed: int = 0
    #: events read in all (resumed ones too) and those of them with truth (scored)
    n_events: int = 0
    n_with_truth: int = 0
    #: proto-track files of events this run did not have, removed from its CSV folder (``--force``)
    removed: int = 0

    def performance_warning(self, asked: bool) -> str | None:
        """What to say when a performance report was ``asked`` for and does not cover every
        event: none of them had truth (no report is written), or only some did."""
        if asked and self.performance is not None:
            if (no_targets := self.performance.no_targets_warning()) is not None:
                return no_targets
        if not asked or self.n_with_truth == self.n_events:
            return None
        if self.n_with_truth == 0:
            return "no event has truth (particles, hit-to-particle map): no performance report"
        return (
            f"the performance report covers the {self.n_with_truth} of the {self.n_events} "
            "events that have truth"
        )


@dataclass(frozen=True)
class _Done:
    """One event's result as the job hands it on: found now, or read back from a previous run's
    CSV file (``resumed``: written already, and not timed)."""

    event: Event
    result: TrackingResult
    resumed: bool = False


@dataclass
class _Tally:
    """What the job counts of the events as they come: the timed ones, the resumed ones, those
    with truth (scored by ``accumulator``, when there is one) and every event's number."""

    accumulator: PerformanceAccumulator | None
    timings: list[EventTiming] = field(default_factory=list)
    resumed: int = 0
    with_truth: int = 0
    #: one per event read: they are distinct (checked before the run)
    event_ids: set[int] = field(default_factory=set)

    def add(self, done: _Done) -> None:
        if done.resumed:
            self.resumed += 1
        else:
            self.timings.append(done.result.timing)
        if self.accumulator is not None and done.event.truth is not None:
            self.accumulator.add(done.event, done.result.labels)
            self.with_truth += 1
        self.event_ids.add(done.event.event_id)

    def performance(self) -> PerformanceReport | None:
        """The performance report of the events with truth (None when none had truth)."""
        return self.accumulator.report() if self.accumulator and self.with_truth else None


def _resumed(event: Event, csv_dir: Path) -> TrackingResult | None:
    """The result of an event a previous run wrote already (None if it did not)."""
    from acts_gnn.metrics.evaluate import labels_from_tracks

    path = prototrack_csv_path(csv_dir, event.event_id)
    if not path.exists():
        return None
    # where the file says each point was: another run's event of the same number is refused
    track, measurement, positions = read_prototracks_with_positions(path)
    labels = labels_from_tracks(event, track, measurement, path, positions)
    # the tracks file's timing tree says where this event's candidates came from
    timing = EventTiming(event.event_id, "resumed", len(event), 0.0)
    return TrackingResult(labels=labels, timing=timing)


def _reconstructed(
    source: EventSource, finder: TrackFinder, concurrency: int, resume_dir: Path | None = None
) -> Iterator[_Done]:
    """Each event's result in source order, with up to ``concurrency`` events in flight.

    With ``resume_dir``, events whose CSV file is there come back resumed, with the labels read
    from it (not counted in the timing report).
    """

    def load(ref) -> tuple[Event, float]:
        start = time.perf_counter()
        event = ref.load()
        return event, time.perf_counter() - start

    def with_read_time(result: TrackingResult, read_s: float) -> TrackingResult:
        return TrackingResult(labels=result.labels, timing=replace(result.timing, read_s=read_s))

    def found(event: Event) -> TrackingResult:
        return _checked(finder, event, finder.reconstruct(event))

    def done_before(event: Event) -> TrackingResult | None:
        return _resumed(event, resume_dir) if resume_dir is not None else None

    if concurrency == 1:
        for ref in source.refs:
            event, read_s = load(ref)
            previous = done_before(event)
            if previous is not None:
                yield _Done(event, previous, resumed=True)
                continue
            yield _Done(event, with_read_time(found(event), read_s))
        return
    with ThreadPoolExecutor(concurrency, thread_name_prefix="acts-gnn-event") as pool:
        in_flight: deque = deque()
        try:
            for ref in source.refs:
                event, read_s = load(ref)
                previous = done_before(event)
                if previous is not None:
                    while in_flight:  # keep the input order
                        earlier, earlier_read_s, future = in_flight.popleft()
                        yield _Done(earlier, with_read_time(future.result(), earlier_read_s))
                    yield _Done(event, previous, resumed=True)
                    continue
                in_flight.append((event, read_s, pool.submit(found, event)))
                if len(in_flight) >= concurrency:
                    event, read_s, future = in_flight.popleft()
                    yield _Done(event, with_read_time(future.result(), read_s))
            while in_flight:
                event, read_s, future = in_flight.popleft()
                yield _Done(event, with_read_time(future.result(), read_s))
        finally:
            for _event, _read_s, future in in_flight:
                future.cancel()


def run_reconstruction(
    source: EventSource | Iterable[Event],
    finder: TrackFinder,
    outputs: ReconstructionOutputs,
    *,
    matching: MatchingConfig | None = MatchingConfig(),
    min_track_sizes: Sequence[int] = (3, 5),
    on_event: Callable[[EventTiming], None] | None = None,
    concurrency: int = 1,
    run: RunRecord | None = None,
) -> ReconstructionSummary:
    """Reconstruct every event of ``source`` with ``finder`` and write the outputs.

    Args:
        source: the events: an :class:`EventSource` (read lazily) or events in memory.
        finder: the track finder.
        outputs: output locations.
        matching: cuts for the performance report, computed when events carry truth (None to
            skip it).
        min_track_sizes: minimum candidate sizes the performance report is given for.
        on_event: called after each event (for progress bars).
        concurrency: events reconstructed at once; ``finder.reconstruct`` must be thread-safe
            when above one (the remote client is).
        run: what made the tracks and where (default: :func:`run_record` of ``finder``),
            written as ``run`` into the timing and performance JSON reports.

    Raises:
        InputFormatError: an input event is malformed, or two share a number (nothing is
            written then).
        OutputError: an output cannot be written.
        ConfigError: no events, ``source`` holds something else, a ``run`` record JSON cannot
            hold, or a finder's result that is no :class:`~acts_gnn.result.TrackingResult`.
    """
    run = run if run is not None else run_record(finder)
    try:  # refused now, not once every event has run and the tracks file is closed
        json_text(run.to_json())
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"run record: JSON cannot hold it ({exc})") from exc
    source = EventSource.of(source)
    if len(source) == 0:
        raise ConfigError("no events to reconstruct")
    if concurrency < 1:
        raise ConfigError(f"--concurrency must be at least 1, got {concurrency}")
    source.check_distinct_ids()  # the tracks and reports are kept by event number
    outputs.check()
    start = time.perf_counter()
    tally = _Tally(PerformanceAccumulator(matching, min_track_sizes) if matching else None)
    resume_dir = outputs.tracks_csv_dir if outputs.resume else None
    # the reports are written beside their final names while the tracks are still being
    # completed, and renamed into place only after them: a report that cannot be written
    # leaves no tracks behind, and the tracks' failure no reports. On a failure the reports'
    # temporary files go first, so the writer can remove the directories it made.
    reports = contextlib.ExitStack()
    # once the events are done, Ctrl-C waits until every output is in place (the tracks, the
    # reports, an earlier run's files removed), or on an error none is
    with contextlib.ExitStack() as held:
        try:
            with (
                TrackWriter(
                    outputs.tracks_root,
                    outputs.tracks_csv_dir,
                    keep_csv_on_abort=outputs.resume,
                    replace=outputs.overwrite,
                    run=run,
                ) as writer,
                contextlib.ExitStack() as staged,
            ):
                for done in _reconstructed(source, finder, concurrency, resume_dir):
                    writer.add(done.event, done.result, csv=not done.resumed)
                    tally.add(done)
                    if on_event is not None:
                        on_event(done.result.timing)
                # the run's wall time: reading, finding and writing, all but the tracks' close
                report = TimingReport.from_timings(tally.timings, time.perf_counter() - start)
                performance = tally.performance()
                recorded = {"run": run.to_json()}
                texts = (
                    (outputs.timing_json, json_text({**report.as_dict(), **recorded})),
                    (
                        outputs.performance_json,
                        performance and json_text({**performance.as_dict(), **recorded}),
                    ),
                )
                staged_reports = [
                    stage_text(staged, path, text, replace=outputs.overwrite)
                    for path, text in texts
                    if path is not None and text is not None
                ]
                if not outputs.overwrite:  # one that another run wrote meanwhile: none goes in
                    for path in [outputs.tracks_root, *staged_reports]:
                        if path is not None:
                            check_still_absent(path)
                written = [p for p in (outputs.tracks_root, outputs.tracks_csv_dir) if p]
                written += staged_reports
                reports = staged.pop_all()  # kept staged until the tracks are complete
                held.enter_context(interrupts_held())
        except BaseException:
            reports.__exit__(*sys.exc_info())  # the tracks failed to complete: remove the reports
            raise
        try:
            reports.close()  # rename them into place
        except OSError as exc:
            raise OutputError(f"cannot write report ({exc})") from exc
        removed = 0
        if outputs.overwrite and not outputs.resume and outputs.tracks_csv_dir is not None:
            removed = _remove_other_runs_files(outputs.tracks_csv_dir, tally.event_ids)
    return ReconstructionSummary(
        timing=report,
        performance=performance,
        written=tuple(written),
        resumed=tally.resumed,
        n_events=len(tally.event_ids),
        n_with_truth=tally.with_truth,
        removed=removed,
    )


def run_record(finder: TrackFinder, threads: int | None = None) -> RunRecord:
    """What made a run's tracks and where, for its reports: acts-gnn's version, when it
    started (now), this machine, the CPU threads of a finder run here (None: not known), and the
    finder's own description (:func:`~acts_gnn.finders.describe_finder`).

    Raises:
        ConfigError: a finder's description that JSON cannot hold.
    """
    from datetime import UTC, datetime
    from importlib.metadata import PackageNotFoundError, version

    try:
        acts_gnn = version("acts-gnn")
    except PackageNotFoundError:  # run from a source tree
        acts_gnn = None
    return RunRecord(
        finder=describe_finder(finder),
        machine=machine(),
        started=datetime.now(UTC).isoformat(timespec="seconds"),
        acts_gnn=acts_gnn,
        threads=threads,
    )


def _checked(finder: TrackFinder, event: Event, result: object) -> TrackingResult:
    """A finder's result for ``event``, refused in one line when it is not one (a plug-in's
    ``reconstruct`` that returns the labels alone, or labels of another length).

    Raises:
        ConfigError: not a :class:`~acts_gnn.result.TrackingResult` of one label per point.
    """
    name = finder_name(finder)
    if not isinstance(result, TrackingResult):
        raise ConfigError(
            f"track finder {name!r} returned {type(result).__name__}, expected an "
            "acts_gnn.TrackingResult(labels, timing=acts_gnn.EventTiming(…))"
        )
    if not isinstance(result.timing, EventTiming):
        raise ConfigError(
            f"track finder {name!r} returned a TrackingResult whose timing is "
            f"{type(result.timing).__name__}, expected an acts_gnn.EventTiming"
        )
    shape = getattr(result.labels, "shape", None)
    if shape != (len(event),):
        raise ConfigError(
            f"track finder {name!r} returned labels of shape {shape} for event {event.event_id} "
            f"of {len(event)} space points, expected ({len(event)},)"
        )
    return result


def _remove_other_runs_files(csv_dir: Path, event_ids: set[int]) -> int:
    """``--force`` replaces a CSV directory's proto-track files: once this run's are complete,
    those of events it did not have (an earlier run's) go, so the directory holds one run.
    Returns how many went."""
    ours = {prototrack_csv_path(csv_dir, event_id) for event_id in event_ids}
    removed = 0
    for path in csv_dir.glob(PROTOTRACKS_GLOB):  # an event's file, not "event1 (copy)-…"
        if path not in ours and prototrack_event_id(path) is not None:
            try:
                path.unlink()
            except OSError as exc:
                raise OutputError(f"{path}: cannot remove an earlier run's file ({exc})") from exc
            removed += 1
    return removed
