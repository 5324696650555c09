"""The timing report: per-event stage times and a summary (JSON and a rich table).

Layer: io.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from acts_gnn.io.atomic import write_text_atomic
from acts_gnn.io.jsontext import json_text
from acts_gnn.result import STAGES, EventTiming

__all__ = ["TimingReport"]


def _stats(values: np.ndarray) -> dict[str, float]:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return {"mean": math.nan, "median": math.nan, "p95": math.nan}
    return {
        "mean": float(values.mean()),
        "median": float(np.median(values)),
        "p95": float(np.percentile(values, 95)),
    }


@dataclass(frozen=True)
class TimingReport:
    """Timing of a reconstruction run.

    Attributes:
        timings: one record per event.
        wall_s: wall time of the whole run (reading, finding, writing).
    """

    timings: tuple[EventTiming, ...]
    wall_s: float

    def summary(self) -> dict[str, object]:
        """Mean, median and p95 of each stage and of the total; events per second."""
        rows = [t.row() for t in self.timings]
        keys = ["read_s", *(f"{s}_s" for s in STAGES), "total_s"]
        stats = {
            key: _stats(np.array([float(r[key]) for r in rows], dtype=np.float64)) for key in keys
        }
        finding_s = float(sum(t.total_s for t in self.timings))
        n = len(self.timings)
        return {
            "n_events": n,
            "backends": sorted({t.backend for t in self.timings}),
            "n_spacepoints": _stats(np.array([t.n_spacepoints for t in self.timings], float)),
            "seconds": stats,
            "events_per_s": n / finding_s if finding_s > 0 else math.nan,
            "events_per_s_wall": n / self.wall_s if self.wall_s > 0 else math.nan,
            "wall_s": self.wall_s,
        }

    def as_dict(self) -> dict[str, object]:
        """Per-event rows and the summary."""
        return {"events": [t.row() for t in self.timings], "summary": self.summary()}

    def json_text(self) -> str:
        """The report as JSON text (NaN written as null)."""
        return json_text(self.as_dict())

    def write_json(self, path: str | Path) -> None:
        """Write the report as JSON (atomically; NaN written as null)."""
        write_text_atomic(path, self.json_text())

    def table(self):
        """A rich table: one row per stage that ran, with mean / median / p95 in ms.

        Every text is a ``rich.text.Text``: a console never reads ``[ms]`` as markup.
        """
        from rich.table import Table
        from rich.text import Text

        summary = self.summary()
        table = Table(
            title=Text(
                f"Timing — {summary['n_events']} event(s), "
                f"backend {', '.join(summary['backends']) or '—'}"
            )
        )
        for name in ("stage", "mean [ms]", "median [ms]", "p95 [ms]"):
            table.add_column(Text(name), justify="right" if name != "stage" else "left")
        seconds = summary["seconds"]
        assert isinstance(seconds, dict)
        for key, stat in seconds.items():
            if math.isnan(stat["mean"]):
                continue
            # reading is timed apart: the total is the track finding's (the rate below it)
            label = "total (without read)" if key == "total_s" else key.removesuffix("_s")
            table.add_row(
                Text(label),
                f"{1e3 * stat['mean']:.2f}",
                f"{1e3 * stat['median']:.2f}",
                f"{1e3 * stat['p95']:.2f}",
            )
        rate = summary["events_per_s"]
        table.caption = (
            Text(
                f"{rate:.2f} events/s in track finding; "
                f"{summary['events_per_s_wall']:.2f} events/s end to end"
            )
            if isinstance(rate, float) and math.isfinite(rate)
            else None
        )
        return table

    @classmethod
    def from_timings(cls, timings: Sequence[EventTiming], wall_s: float) -> TimingReport:
        """Build from per-event records."""
        return cls(tuple(timings), float(wall_s))
