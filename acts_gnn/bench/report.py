"""Benchmark outputs: JSON, a Markdown table, PNG plots, and the perf_analyzer input file.

Layer: bench.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from acts_gnn.bench.harness import PointResult
from acts_gnn.cpus import machine
from acts_gnn.event import Event
from acts_gnn.io.atomic import write_text_atomic
from acts_gnn.result import STAGES

__all__ = [
    "REPORT_FILES",
    "markdown_table",
    "served_to_local_ratio",
    "write_perf_data",
    "write_reports",
]


#: what :func:`write_reports` writes in its directory
REPORT_FILES = ("benchmark.json", "benchmark.md", "throughput.png", "latency.png", "stages.png")


def _ms(seconds: float) -> str:
    return "–" if seconds is None or not math.isfinite(seconds) else f"{seconds * 1000:.1f}"


def _pct(fraction: float | None) -> str:
    return "–" if fraction is None or not math.isfinite(fraction) else f"{fraction * 100:.0f}%"


def served_to_local_ratio(points: Sequence[PointResult]) -> float:
    """Best served events/s over best local events/s (NaN when either is missing)."""
    local = [p.events_per_s for p in points if p.mode == "local"]
    served = [p.events_per_s for p in points if p.mode == "served"]
    return max(served) / max(local) if local and served else math.nan


def markdown_table(points: Sequence[PointResult]) -> str:
    """One row per point: throughput, latency percentiles, where the time goes, utilisation."""
    header = (
        "| mode | finder | instances | concurrency | events | space points | events/s | "
        "p50 ms | p95 ms | p99 ms | serialise ms | server queue ms | server compute ms | "
        "CPU | GPU | GPU memory |"
    )
    lines = [header, header_rule(header)]
    for p in points:
        gpu_memory = p.utilisation.get("gpu_memory_bytes", math.nan)
        lines.append(
            "| "
            + " | ".join(
                [
                    p.mode,
                    p.finder,
                    "–" if p.instances is None else str(p.instances),
                    str(p.concurrency),
                    str(p.n_events),
                    f"{p.mean_spacepoints:,.0f}",
                    f"{p.events_per_s:.3f}",
                    _ms(p.latency_s(50)),
                    _ms(p.latency_s(95)),
                    _ms(p.latency_s(99)),
                    _ms(p.serialise_s),
                    _ms(p.server.get("queue_s", math.nan)),
                    _ms(p.server.get("compute_s", math.nan)),
                    _pct(p.utilisation.get("cpu_utilisation")),
                    _pct(p.utilisation.get("gpu_utilisation")),
                    "–" if not math.isfinite(gpu_memory) else f"{gpu_memory / 2**30:.2f} GiB",
                ]
            )
            + " |"
        )
    ratio = served_to_local_ratio(points)
    if math.isfinite(ratio):
        lines.append("")
        lines.append(f"Served-to-local throughput ratio (best points): **{ratio:.3f}**")
    return "\n".join(lines) + "\n"


def header_rule(header: str) -> str:
    """The Markdown rule line under ``header``."""
    return "|" + " --- |" * (header.count("|") - 1)


def _short_name(point: PointResult) -> str:
    if point.mode == "local":
        return "local"
    return f"{point.instances or '?'} inst, c{point.concurrency}"


def _plots(points: Sequence[PointResult], directory: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    groups: dict[str, list[PointResult]] = {}
    for p in points:
        key = "local" if p.mode == "local" else f"served, {p.instances} instance(s)"
        groups.setdefault(f"{p.finder}: {key}", []).append(p)

    figure, axis = plt.subplots(figsize=(6, 4))
    for label, group in groups.items():
        group = sorted(group, key=lambda p: p.concurrency)
        axis.plot(
            [p.concurrency for p in group], [p.events_per_s for p in group], "o-", label=label
        )
    axis.set_xlabel("concurrency (requests in flight)")
    axis.set_ylabel("events / s")
    axis.set_xscale("log", base=2)
    axis.legend(fontsize=7)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(directory / "throughput.png", dpi=120)
    plt.close(figure)
    written.append(directory / "throughput.png")

    figure, axis = plt.subplots(figsize=(6, 4))
    names = [
        f"{p.mode[0]}{'' if p.instances is None else p.instances}×c{p.concurrency}" for p in points
    ]
    x = np.arange(len(points))
    for offset, percentile in ((-0.25, 50), (0.0, 95), (0.25, 99)):
        axis.bar(
            x + offset, [p.latency_s(percentile) for p in points], 0.25, label=f"p{percentile}"
        )
    axis.set_xticks(x, names, rotation=45, fontsize=7)
    axis.set_ylabel("latency / s")
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(directory / "latency.png", dpi=120)
    plt.close(figure)
    written.append(directory / "latency.png")

    figure, axis = plt.subplots(figsize=(6, 4))
    bottom = np.zeros(len(points))
    for stage in STAGES:
        values = np.array([p.stages_s.get(stage, 0.0) for p in points])
        axis.bar(x, values, bottom=bottom, label=stage)
        bottom += values
    axis.set_xticks(x, names, rotation=45, fontsize=7)
    axis.set_ylabel("seconds per event")
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(directory / "stages.png", dpi=120)
    plt.close(figure)
    written.append(directory / "stages.png")
    return written


def write_reports(
    points: Sequence[PointResult], directory: str | Path, *, interrupted: bool = False
) -> list[Path]:
    """``benchmark.json``, ``benchmark.md`` and three PNG plots in ``directory``; the paths.

    ``interrupted``: the sweep was stopped before its last point; the reports say so (JSON
    ``"interrupted": true``) and hold the points that finished.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    payload = {
        "machine": machine(),
        "date": stamp,
        "interrupted": interrupted,
        "served_to_local_ratio": served_to_local_ratio(points),
        "points": [{**p.summary(), "latencies_s": list(p.latencies_s)} for p in points],
    }
    text = json.dumps(payload, indent=1, default=float).replace("NaN", "null")
    write_text_atomic(directory / "benchmark.json", text + "\n")
    markdown = f"Machine: {payload['machine']}; {stamp}.\n\n" + markdown_table(points)
    if interrupted:
        markdown = (
            f"**Interrupted** (Ctrl-C): the {len(points)} point(s) that finished; the sweep's "
            f"later points were not measured.\n\n{markdown}"
        )
    write_text_atomic(directory / "benchmark.md", markdown)
    return [directory / "benchmark.json", directory / "benchmark.md", *_plots(points, directory)]


def write_perf_data(events: Sequence[Event], path: str | Path) -> Path:
    """The events' ``FEATURES`` in perf_analyzer's ``--input-data`` JSON format."""
    data = [
        {"FEATURES": {"content": e.features().ravel().tolist(), "shape": [len(e), 3]}}
        for e in events
    ]
    path = Path(path)
    write_text_atomic(path, json.dumps({"data": data}) + "\n")
    return path
