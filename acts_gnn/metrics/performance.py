"""Tracking performance over many events: efficiency, fake and duplicate rates, TrackML score.

Layer: metrics.

:class:`PerformanceAccumulator` takes events one at a time (so a long run never holds them all)
and matches each at every requested minimum candidate size (3 and 5 space points by default;
at size n, target particles need at least n space points too, so the efficiency measures the
finder and not the detector acceptance);
:meth:`PerformanceAccumulator.report` returns a :class:`PerformanceReport` that renders as JSON, a
rich table, and PNG plots (efficiency vs pT and η, fake rate vs η).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from acts_gnn.event import Event
from acts_gnn.io.jsontext import json_text
from acts_gnn.metrics.matching import EventMatch, MatchingConfig, match_event
from acts_gnn.metrics.trackml_score import trackml_score
from acts_gnn.result import RunRecord

__all__ = ["PerformanceAccumulator", "PerformanceReport", "ScoredInputs", "SelectionSummary"]


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else math.nan


@dataclass(frozen=True)
class SelectionSummary:
    """Counts and rates for one minimum candidate size over all events."""

    min_track_spacepoints: int
    n_targets: int
    n_matched_targets: int
    n_tracks: int
    n_matched_tracks: int
    n_duplicates: int

    @property
    def efficiency(self) -> float:
        """Matched targets / targets (NaN without targets)."""
        return _ratio(self.n_matched_targets, self.n_targets)

    @property
    def fake_rate(self) -> float:
        """Unmatched candidates / candidates (NaN without candidates): 1/176, not 1 − 175/176
        (which carries the subtraction's rounding into a report)."""
        return _ratio(self.n_tracks - self.n_matched_tracks, self.n_tracks)

    @property
    def duplicate_rate(self) -> float:
        """Duplicates / matched targets (NaN when nothing matched)."""
        return _ratio(self.n_duplicates, self.n_matched_targets)

    def as_dict(self) -> dict[str, float | int]:
        """JSON-ready record (NaN written as null by :meth:`PerformanceReport.to_json`)."""
        return {
            "min_track_spacepoints": self.min_track_spacepoints,
            "efficiency": self.efficiency,
            "fake_rate": self.fake_rate,
            "duplicate_rate": self.duplicate_rate,
            "n_targets": self.n_targets,
            "n_matched_targets": self.n_matched_targets,
            "n_tracks": self.n_tracks,
            "n_matched_tracks": self.n_matched_tracks,
            "n_duplicates": self.n_duplicates,
        }


@dataclass(frozen=True)
class ScoredInputs:
    """What a report scored: the tracks and the truth events (absolute where they are files),
    and the tracks' own record of what made them (a tracks ROOT file keeps one)."""

    tracks: str
    truth: tuple[str, ...]
    run: RunRecord | None = None

    def to_json(self) -> dict[str, object]:
        """``tracks, truth[, run]``."""
        out: dict[str, object] = {"tracks": self.tracks, "truth": list(self.truth)}
        if self.run is not None:
            out["run"] = self.run.to_json()
        return out


@dataclass(frozen=True)
class PerformanceReport:
    """Performance over a set of events."""

    config: MatchingConfig
    n_events: int
    selections: tuple[SelectionSummary, ...]
    #: mean of the per-event scores that are known (NaN where none is: no weights, see
    #: :func:`~acts_gnn.metrics.trackml_score.trackml_score`; null in the JSON)
    trackml_score: float
    per_event_trackml_score: tuple[float, ...]
    matches: tuple[EventMatch, ...] = field(repr=False, default=())
    #: events whose truth has no particle table (their particles' pT unknown: never targets)
    events_without_particles: int = 0
    #: events of a tracks file that no truth was given for (:func:`evaluate_tracks`): not scored
    unscored_events: tuple[int, ...] = ()
    #: what was scored (:func:`~acts_gnn.metrics.evaluate.evaluate_tracks`), at the end of the
    #: JSON; None for a report made in the run that found the tracks
    scored: ScoredInputs | None = None

    def no_targets_warning(self) -> str | None:
        """What to say when no event's truth has a particle table: then no particle is a
        target, and the efficiency is undefined (the table's caption says it too)."""
        if not self.n_events or self.events_without_particles < self.n_events:
            return None
        return (
            "no event's truth has a particle table (-particles.csv beside ACTS CSV or TrackML "
            "events): their particles' pT is unknown, so none is a target and the efficiency "
            "is undefined"
        )

    def unscored_warning(self) -> str | None:
        """What to say when the tracks file holds events no truth was given for."""
        if not self.unscored_events:
            return None
        n = len(self.unscored_events)
        listed = ", ".join(map(str, self.unscored_events[:5])) + (", …" if n > 5 else "")
        return (
            f"no truth was given (-t) for {n} event{'s' * (n != 1)} of the tracks file "
            f"(event{'s' * (n != 1)} {listed}): not scored"
        )

    def as_dict(self) -> dict[str, object]:
        """JSON-ready summary (``events_without_particle_table`` and ``unscored_events`` only
        when there are such)."""
        missing = {"events_without_particle_table": self.events_without_particles}
        unscored = {"unscored_events": list(self.unscored_events)}
        return {
            "n_events": self.n_events,
            "cuts": {
                "min_pt_gev": self.config.min_pt_gev,
                "max_abs_eta": self.config.max_abs_eta,
                "max_vertex_r_mm": self.config.max_vertex_r_mm,
                "min_particle_spacepoints": self.config.min_particle_spacepoints,
            },
            "selections": [s.as_dict() for s in self.selections],
            "trackml_score": self.trackml_score,
            "per_event_trackml_score": list(self.per_event_trackml_score),
            **(missing if self.events_without_particles else {}),
            **(unscored if self.unscored_events else {}),
            **(self.scored.to_json() if self.scored is not None else {}),
        }

    def to_json(self) -> str:
        """The summary as JSON text (NaN as null)."""
        return json_text(self.as_dict())

    def table(self):
        """A rich table of the rates per minimum candidate size (texts never read as markup)."""
        from rich.table import Table
        from rich.text import Text

        c = self.config
        table = Table(
            title=Text(
                f"Tracking performance — {self.n_events} event(s); targets pT > {c.min_pt_gev:g}"
                f" GeV, |η| < {c.max_abs_eta:g}, production radius < {c.max_vertex_r_mm:g} mm,"
                f" ≥ {c.min_particle_spacepoints} space points"
            )
        )
        for name in (
            "candidates",
            "efficiency",
            "fake rate",
            "duplicate rate",
            "targets",
            "candidates (n)",
        ):
            table.add_column(Text(name), justify="right")
        for s in self.selections:
            table.add_row(
                f"≥ {s.min_track_spacepoints} sp",
                _percent(s.efficiency),
                _percent(s.fake_rate),
                _percent(s.duplicate_rate),
                f"{s.n_matched_targets}/{s.n_targets}",
                str(s.n_tracks),
            )
        caption = self._score_caption()
        if self.events_without_particles:
            caption += (
                f"\n{self.events_without_particles} event(s) without a particle table: their "
                "particles' pT is unknown, so none of them is a target"
            )
        table.caption = Text(caption)
        return table

    def _score_caption(self) -> str:
        """The TrackML score line: "—" where no event's weights are known."""
        scored = sum(not math.isnan(s) for s in self.per_event_trackml_score)
        if not scored:
            return "TrackML score — (no weights: the truth has no particle table)"
        if scored < self.n_events:
            return (
                f"TrackML score {self.trackml_score:.4f} (mean over the {scored} of "
                f"{self.n_events} events with weights; the others' truth has no particle table)"
            )
        return f"TrackML score {self.trackml_score:.4f} (mean over events)"


def _mean_known(values: Sequence[float]) -> float:
    """Mean of the values that are not NaN (NaN when there are none)."""
    known = [v for v in values if not math.isnan(v)]
    return float(np.mean(known)) if known else math.nan


def _percent(value: float) -> str:
    return "—" if math.isnan(value) else f"{100 * value:.2f}%"


class PerformanceAccumulator:
    """Collects per-event matches for several minimum candidate sizes."""

    def __init__(
        self, config: MatchingConfig = MatchingConfig(), min_track_sizes: Sequence[int] = (3, 5)
    ) -> None:
        if not min_track_sizes:
            raise ValueError("min_track_sizes must not be empty")
        self.config = config
        self.min_track_sizes = tuple(dict.fromkeys(min_track_sizes))  # each size once
        self._matches: dict[int, list[EventMatch]] = {n: [] for n in self.min_track_sizes}
        self._scores: list[float] = []
        self._without_particles = 0

    def add(self, event: Event, labels: np.ndarray) -> None:
        """Match one event's labels (the event must carry truth)."""
        if event.truth is None:
            raise ValueError(f"event {event.event_id} has no truth")
        for n in self.min_track_sizes:
            config = replace(
                self.config,
                min_track_spacepoints=n,
                min_particle_spacepoints=max(n, self.config.min_particle_spacepoints),
            )
            self._matches[n].append(
                match_event(event.event_id, event.spacepoints, event.truth, labels, config)
            )
        self._scores.append(trackml_score(event.spacepoints, event.truth, labels))
        self._without_particles += event.truth.particles.kinematics_unknown

    def report(self) -> PerformanceReport:
        """Summaries over all events added so far."""
        selections = []
        for n in self.min_track_sizes:
            matches = self._matches[n]
            selections.append(
                SelectionSummary(
                    min_track_spacepoints=n,
                    n_targets=sum(m.n_targets for m in matches),
                    n_matched_targets=sum(m.n_matched_targets for m in matches),
                    n_tracks=sum(m.n_tracks for m in matches),
                    n_matched_tracks=sum(m.n_matched_tracks for m in matches),
                    n_duplicates=sum(m.n_duplicates for m in matches),
                )
            )
        scores = tuple(self._scores)
        return PerformanceReport(
            config=self.config,
            n_events=len(scores),
            selections=tuple(selections),
            trackml_score=_mean_known(scores),
            per_event_trackml_score=scores,
            matches=tuple(self._matches[self.min_track_sizes[0]]),
            events_without_particles=self._without_particles,
        )
