"""``make bench``: measure and regenerate BENCHMARKS.md.

    python benchmarks/bench.py [--work .bench] [--output BENCHMARKS.md] [--gpu-json FILE]
                               [--gpu-serve-json FILE]

Sections: (a) per-stage CPU time vs pile-up μ = 20, 50, 100, 200 with the fitted scaling
exponent; (a′) the shipped model's embedding, filter and GNN as torch modules against the
compiled kernels (the CPU default); (b) K1 and K2 on the CPU against their CUDA twins (the GPU
ratios come from ``make gpu-check``); (c) local vs served throughput, concurrency 1, 2, 4 with 1
and 2 instances; (c′) the same served on a GPU, from ``make gpu-serve``'s results file, beside the
published anchors;
(d) the service's own overhead per event size (``null_tracking`` served vs the pipeline);
(e) the physics of the default model on the held-out μ = 200 events; (f) ACTS's own seeding +
CKF (``acts_gnn.acts.ckf``, pyacts) on the same μ = 200 events, scored the same way, both finders
on one thread; (g) a μ = 200 event beside one and two busy processes, against the fair share of
the cores (``benchmarks/contention.py``, default settings only). Events are simulated with
``acts-gnn simulate`` into ``--work`` once and reused. Every number written is one this run
measured; the raw results go to ``<work>/bench.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from acts_gnn.cpus import (  # noqa: E402
    available_cpus,
    avoid_numpy_huge_pages,
    keep_freed_memory,
    passive_openmp_waits,
)

# what the command line sets for every command, before numpy and torch are imported: the
# in-process measurements below are of the pipeline as `acts-gnn reconstruct` runs it
passive_openmp_waits()
avoid_numpy_huge_pages()
keep_freed_memory()  # as `acts-gnn reconstruct` (and `serve`) run

import numpy as np  # noqa: E402

from acts_gnn.bench.harness import Served, run_point  # noqa: E402
from acts_gnn.bench.report import markdown_table, served_to_local_ratio  # noqa: E402
from acts_gnn.bench.sweep import SweepConfig, run_sweep  # noqa: E402
from acts_gnn.cpus import machine  # noqa: E402
from acts_gnn.finders import make_finder  # noqa: E402
from acts_gnn.io.source import open_events  # noqa: E402
from acts_gnn.metrics.matching import MatchingConfig  # noqa: E402
from acts_gnn.metrics.performance import PerformanceAccumulator  # noqa: E402
from acts_gnn.result import STAGES  # noqa: E402
from acts_gnn.triton.client import RemotePipeline  # noqa: E402
from acts_gnn.triton.spawn import SpawnedServer  # noqa: E402
from benchmarks.gpu_serve import render as render_gpu_serve  # noqa: E402

#: μ → (events, seed). μ = 200 uses the seed of ``make train``'s held-out test set.
SAMPLES = {20: (2, 4020), 50: (2, 4050), 100: (2, 4100), 200: (4, 3000)}


def log(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def simulate(work: Path) -> dict[int, list]:
    """The events of every μ (simulated once into ``work``)."""
    events = {}
    for mu, (n, seed) in SAMPLES.items():
        directory = work / f"mu{mu}-seed{seed}"
        if not any(directory.glob("event*-spacepoint.csv")):
            log(f"simulating {n} events at μ = {mu} (seed {seed})")
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "acts_gnn.cli.main",
                    "simulate",
                    "-o",
                    str(directory),
                    "--events",
                    str(n),
                    "--pileup",
                    str(mu),
                    "--seed",
                    str(seed),
                ],
                check=True,
            )
        events[mu] = list(open_events([directory]))
    return events


#: (a) times every event this many times, the pile-ups in turn, and keeps each event's median:
#: the fitted exponent leans on the small events, whose tenths of a second a noisy moment of
#: this shared machine (or the order the sections ran in) moved by half
ROUNDS = 3


def stages_vs_pileup(events: dict[int, list]) -> tuple[dict, dict]:
    """(a): per-stage seconds of the local pipeline per μ; the labels of each event."""
    finder = make_finder("gnn")
    finder.reconstruct(events[20][0])  # warm-up
    runs: dict[tuple[int, int], list] = {}
    labels = {}
    for round_ in range(ROUNDS):
        for mu, sample in events.items():
            for event in sample:
                log(f"(a) round {round_ + 1}, μ = {mu}: event {event.event_id}")
                result = finder.reconstruct(event)
                runs.setdefault((mu, event.event_id), []).append(result.timing)
                labels[(mu, event.event_id)] = result.labels
    rows = {}
    for mu, sample in events.items():
        timings = [_median_run(runs[(mu, event.event_id)]) for event in sample]
        rows[mu] = {
            "events": len(sample),
            "spacepoints": float(np.mean([t.n_spacepoints for t in timings])),
            "k1_edges": float(np.mean([t.n_edges_graph for t in timings])),
            "filtered_edges": float(np.mean([t.n_edges_filtered for t in timings])),
            "stages_s": {
                s: float(np.mean([t.stages_s.get(s, 0.0) for t in timings])) for s in STAGES
            },
            "total_s": float(np.mean([t.total_s for t in timings])),
        }
    return rows, labels


def _median_run(timings: list) -> object:
    """The run of one event whose total time is the median of its runs (odd count: a real run,
    its stages as measured together)."""
    return sorted(timings, key=lambda t: t.total_s)[len(timings) // 2]


#: what (a′) compares: the engine before this one, the default one, and (on a CPU with AVX-512
#: BF16) the default one with its products in bf16 (``--precision bf16``): (engine, precision)
BEFORE_AFTER = {"before": ("torch", "fp32"), "after": ("compiled", "fp32")}
BF16 = {"bf16": ("compiled", "bf16")}


def before_after(events: list) -> dict:
    """(a′): the shipped model with the torch engine against the compiled one (and its bf16
    products where the CPU has them), on the same events, rotating which runs first."""
    from acts_gnn.gnn.pipeline import Pipeline
    from acts_gnn.simd import HAS_BF16

    compared = {**BEFORE_AFTER, **(BF16 if HAS_BF16 else {})}
    pipelines = {
        name: Pipeline(device="cpu", engine=engine, precision=precision)
        for name, (engine, precision) in compared.items()
    }
    times: dict[str, list] = {name: [] for name in pipelines}
    labels: dict[str, dict] = {name: {} for name in pipelines}
    edges: dict[str, list] = {name: [] for name in pipelines}
    for i, event in enumerate(events):
        names = list(pipelines)
        order = names[i % len(names) :] + names[: i % len(names)]
        for name in order:
            log(f"(a′) {name}: event {event.event_id}")
            start = time.perf_counter()
            out = pipelines[name].run(event.features())
            times[name].append({**out.stages_s, "total": time.perf_counter() - start})
            labels[name][event.event_id] = out.labels
            edges[name].append((out.n_edges_graph, out.n_edges_filtered))
    rows = {
        name: {key: float(np.mean([t[key] for t in runs])) for key in runs[0]}
        for name, runs in times.items()
    }
    counts = {name: np.mean(pairs, axis=0).tolist() for name, pairs in edges.items()}
    return {"rows": rows, "edges": counts, "physics": physics_of(events, labels)}


def physics_of(events: list, labels: dict) -> dict:
    """Efficiency, fake and duplicate rates of each named set of labels on ``events``."""
    out = {}
    for name, source in labels.items():
        accumulator = PerformanceAccumulator(MatchingConfig(), (3, 5))
        for event in events:
            accumulator.add(event, source[event.event_id])
        out[name] = accumulator.report().as_dict()
    return out


def subset_efficiency(events: list, labels: dict, keep) -> float:
    """Efficiency over the targets for which ``keep(pt, eta)`` holds (candidates ≥ 3 points)."""
    from acts_gnn.metrics.matching import match_event

    found = total = 0
    for event in events:
        match = match_event(event.event_id, event.spacepoints, event.truth, labels[event.event_id])
        chosen = keep(match.target_pt, match.target_eta)
        found += int(match.target_matched[chosen].sum())
        total += int(chosen.sum())
    return found / total if total else math.nan


def ckf_side_by_side(events: list, work: Path) -> dict:
    """(f): ACTS's seeding + CKF and the GNN on the same μ = 200 events, each on one thread."""
    import torch

    from acts_gnn.acts.pileup import PileupModel
    from acts_gnn.acts.simulate import SimulationConfig
    from acts_gnn.gnn.pipeline import Pipeline
    from benchmarks.ckf_anchor import ckf_anchor

    n, seed = SAMPLES[200]
    config = SimulationConfig(
        events=n, seed=seed, model=PileupModel(pileup=200, signal_particles=25)
    )
    log(f"(f) ACTS seeding + CKF on {n} μ = 200 events (one thread)")
    summary, _report, ckf_labels = ckf_anchor(work / f"mu200-seed{seed}", config, threads=1)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        pipeline = Pipeline(device="cpu")
        gnn_labels, gnn_s = {}, []
        for event in events:
            log(f"(f) GNN on one thread: event {event.event_id}")
            start = time.process_time()
            gnn_labels[event.event_id] = pipeline.run(event.features()).labels
            gnn_s.append(time.process_time() - start)
    finally:
        torch.set_num_threads(threads)
    rows = {}
    for name, labels, seconds in (
        ("ACTS seeding + CKF", ckf_labels, summary["cpu_s_per_event"]),
        ("acts-gnn (default)", gnn_labels, float(np.mean(gnn_s))),
    ):
        report = physics_of(events, {name: labels})[name]
        rows[name] = {
            "selection": report["selections"][0],
            "pt_above_5": subset_efficiency(events, labels, lambda pt, eta: pt > 5.0),
            "barrel": subset_efficiency(events, labels, lambda pt, eta: np.abs(eta) < 1.0),
            "cpu_s": seconds,
        }
    return {"rows": rows, "ckf": summary}


def beside_busy_processes(work: Path, n_events: int = 3) -> dict:
    """(g): the first μ = 200 events in a fresh ``acts-gnn reconstruct``, alone and beside one
    and two busy processes, with acts-gnn's default thread settings."""
    from benchmarks.contention import DEFAULT, SETTINGS, measure

    _n, seed = SAMPLES[200]
    inputs = sorted((work / f"mu200-seed{seed}").glob("event*-spacepoint.csv"))[:n_events]
    log(f"(g) {len(inputs)} events beside 0, 1, 2 busy processes")
    rows = measure(inputs, {DEFAULT: SETTINGS[DEFAULT]})
    return {"events": len(inputs), "cpus": available_cpus(), "rows": rows}


def exponent(rows: dict, key) -> float:
    """Slope of log(time) against log(space points) over the μ points."""
    x = np.log([rows[mu]["spacepoints"] for mu in rows])
    y = np.log([max(key(rows[mu]), 1e-9) for mu in rows])
    return float(np.polyfit(x, y, 1)[0])


def local_vs_served(events: list, n_events: int) -> list:
    """(c): the benchmark sweep on μ = 200 events."""
    config = SweepConfig(
        model="gnn_tracking",
        local=True,
        spawn=True,
        instances=(1, 2),
        concurrency=(1, 2, 4),
        n_events=n_events,
        warmup=1,
    )

    def start(label, n):
        log(f"(c) {label}: {n} events")
        return lambda: None

    return run_sweep(config, events, on_point_start=start)


def overhead(events: dict[int, list], pipeline_rows: dict, example) -> list[dict]:
    """(d): served do-nothing backend latency per event size, next to the pipeline's time."""
    rows = []
    with SpawnedServer(["null_tracking"], 1) as server:
        remote = RemotePipeline([server.grpc_url], "null_tracking", retries=0)
        served = Served(
            server.grpc_url, "null_tracking", server.metrics_url, 1, server.access_token
        )
        samples = [("example (μ = 10)", [example], None)] + [
            (f"μ = {mu}", events[mu], mu) for mu in events
        ]
        for name, sample, mu in samples:
            log(f"(d) null_tracking, {name}")
            point = run_point(remote, sample, concurrency=1, n_events=20, warmup=2, served=served)
            rows.append(
                {
                    "sample": name,
                    "spacepoints": point.mean_spacepoints,
                    "p50_s": point.latency_s(50),
                    "serialise_s": point.serialise_s,
                    "server_compute_s": point.server.get("compute_s", math.nan),
                    "pipeline_s": pipeline_rows[mu]["total_s"] if mu else math.nan,
                }
            )
    return rows


def physics(events: list, labels: dict, components_labels: dict, pipeline) -> dict:
    """(e): efficiency, fake and duplicate rates, TrackML score on the μ = 200 events: the
    default (the bundle's track building, ``pipeline`` its settings) and connected components
    only."""
    default = pipeline.track_builder + (" + rescue" if pipeline.rescue_cut is not None else "")
    return physics_of(
        events,
        {f"gnn ({default})": labels, "gnn_components (components only)": components_labels},
    )


def _s(x: float) -> str:
    return f"{x:.2f} s" if x >= 0.1 else f"{x * 1000:.1f} ms"


def _pct(x) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x * 100:.1f}%"


def render(results: dict) -> str:
    a, c, d, e = results["a"], results["c"], results["d"], results["e"]
    lines = [
        "# Benchmarks",
        "",
        "Regenerated by `make bench` (`benchmarks/bench.py`); every number below was measured by that",
        "run. Compare ratios within one table, not absolute times across days: these machines are",
        "shared and noisy.",
        "",
        f"Machine: {results['machine']}. Date: {results['date']}. Run time {results['run_s'] / 60:.1f} min.",
        "",
        "## (a) Local pipeline: CPU time per event vs pile-up (default model)",
        "",
        "Events from `acts-gnn simulate --pileup μ` (μ = 200: seed 3000, the held-out test set of",
        f"`make train`). Each event run {ROUNDS} times, the pile-ups in turn; its median run",
        "(by total), then the mean over the events; `total` includes feature building and",
        "bookkeeping, and `embedding` the points' locality ordering.",
        "",
        "| μ | events | space points | K1 edges | edges after filter | "
        + " | ".join(STAGES)
        + " | total |",
        "|" + " --- |" * (5 + len(STAGES) + 1),
    ]
    for mu, row in a["rows"].items():
        lines.append(
            f"| {mu} | {row['events']} | {row['spacepoints']:,.0f} | {row['k1_edges']:,.0f} | "
            f"{row['filtered_edges']:,.0f} | "
            + " | ".join(_s(row["stages_s"][s]) for s in STAGES)
            + f" | **{_s(row['total_s'])}** |"
        )
    lines += [
        "",
        "Fitted scaling, time ∝ (space points)^k: total k = "
        f"{a['exponent_total']:.2f}; "
        + ", ".join(f"{s} k = {a['exponent_stages'][s]:.2f}" for s in STAGES)
        + ".",
        "",
        *(render_before_after(a["before_after"]) if a["before_after"] else []),
        "## (b) K1 and K2 on the CPU against their CUDA twins",
        "",
        "On CPU, K1 (fixed-radius neighbours) is a grid query with compiled loops on large events",
        "and SciPy's `cKDTree.query` on small ones (the same edges), and K2 (connected components)",
        "is `scipy.sparse.csgraph.connected_components`. Their Numba CUDA twins are",
        "compared with them on the same inputs by `make gpu-check` on a GPU machine; "
        + (
            "its last results follow."
            if results.get("gpu")
            else "no GPU results are recorded, so there is no GPU table."
        ),
        "",
    ]
    if results.get("gpu"):
        lines += render_gpu(results["gpu"])
    lines += [
        "## (c) Local vs served throughput (μ = 200, default model)",
        "",
        "`acts-gnn benchmark <μ = 200 events> --local --spawn --instances 1,2 --concurrency 1,2,4`:",
        "the served points run `acts-gnn serve` on the same machine (CPU), so server and client",
        "share the cores.",
        "",
        markdown_table(c["points"]).rstrip(),
        "",
        "Goal for that ratio: ≥ 0.97. Points with more requests in flight than",
        "instances wait in the server's queue (its column); serialisation is the client's share.",
        "",
        *render_gpu_serve(results.get("gpu_serve")),
        "## (d) What serving costs per event (served `null_tracking` vs the pipeline)",
        "",
        "`null_tracking` answers every space point with -1 at once: its latency is the service",
        "itself (serialisation, gRPC, Triton, PyTriton's proxy), 20 requests per size, concurrency 1.",
        "",
        "| events | space points | served null p50 | client serialisation | server compute (null) | "
        "local pipeline | overhead / pipeline |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in d:
        share = row["p50_s"] / row["pipeline_s"] if math.isfinite(row["pipeline_s"]) else math.nan
        lines.append(
            f"| {row['sample']} | {row['spacepoints']:,.0f} | {_s(row['p50_s'])} | "
            f"{_s(row['serialise_s'])} | {_s(row['server_compute_s'])} | "
            + ("–" if not math.isfinite(row["pipeline_s"]) else _s(row["pipeline_s"]))
            + " | "
            + ("–" if not math.isfinite(share) else f"{share * 100:.1f}%")
            + " |"
        )
    n = next(iter(e.values()))["n_events"]
    lines += [
        "",
        f"## (e) Physics of the default model ({n} held-out μ = 200 events, seed 3000)",
        "",
        "Targets: pT > 1 GeV, |η| < 4, ≥ 3 space points, primary; double-majority matching.",
        "",
        "| track building | min size | efficiency | fake rate | duplicate rate | TrackML score |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, report in e.items():
        for s in report["selections"]:
            lines.append(
                f"| {name} | ≥ {s['min_track_spacepoints']} | {_pct(s['efficiency'])} | "
                f"{_pct(s['fake_rate'])} | {_pct(s['duplicate_rate'])} | "
                f"{report['trackml_score']:.3f} |"
            )
    lines += [
        "",
        "The README's physics table uses 10 held-out events; this one the first "
        f"{n} of them, so it differs within the statistical spread.",
        "",
    ]
    f = results.get("f")
    if f:
        ckf, gnn = f["rows"]["ACTS seeding + CKF"], f["rows"]["acts-gnn (default)"]
        lines += [
            f"## (f) Beside ACTS's own seeding + CKF ({n} μ = 200 events, one thread each)",
            "",
            "`acts_gnn.acts.ckf` (pyacts): the same simulation, pixel space points for the seeds, "
            "grid triplet",
            "seeding opened to |η| < 4, the CKF over all measurements, greedy ambiguity "
            "resolution; its",
            "tracks become candidate labels (a shared measurement goes to the longer track) and "
            "are scored",
            "with the same definitions. CPU seconds per event: ACTS's reconstruction algorithms "
            "(not the",
            "simulation); acts-gnn's whole pipeline (compiled engine) on one thread.",
            "",
            "| finder | efficiency | fake rate | duplicate rate | efficiency pT > 5 GeV | "
            "efficiency \\|η\\| < 1 | CPU s / event |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for name, row in f["rows"].items():
            sel = row["selection"]
            lines.append(
                f"| {name} | {_pct(sel['efficiency'])} | {_pct(sel['fake_rate'])} | "
                f"{_pct(sel['duplicate_rate'])} | {_pct(row['pt_above_5'])} | "
                f"{_pct(row['barrel'])} | {row['cpu_s']:.2f} |"
            )
        lines += [
            "",
            f"acts-gnn CPU seconds / CKF CPU seconds: **{gnn['cpu_s'] / ckf['cpu_s']:.2f}**.",
            "",
        ]
    g = results.get("g")
    if g:
        lines += [
            f"## (g) Beside busy processes ({g['events']} μ = 200 events per fresh process)",
            "",
            "`acts-gnn reconstruct` (its default threads and OpenMP waits) alone, then beside",
            "one and two busy single-threaded Python processes (`benchmarks/contention.py`).",
            f"With C CPUs (here {g['cpus']}) a fair share beside B busy processes is C / (C + B)",
            "of the machine: the fair slowdown is (C + B) / C. The slowdown is of the events",
            "after each process's first; the first, which also loads the compiled kernels from",
            "Numba's cache, is shown apart.",
            "",
            "| busy processes | s per event (after the first) | first event s | slowdown | "
            "fair slowdown | slowdown ÷ fair |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for r in g["rows"]:
            lines.append(
                f"| {r['busy']} | {r['seconds']:.2f} | {r['first_s']:.2f} | "
                f"×{r['slowdown']:.2f} | ×{r['fair']:.2f} | **{r['vs_fair']:.2f}** |"
            )
        lines.append("")
    return "\n".join(lines)


def render_before_after(ba: dict) -> list[str]:
    """Markdown lines of (a′): per-stage seconds before and after, and the physics of both."""
    keys = [*STAGES, "total"]
    lines = [
        "### (a′) Before and after: the torch engine against the compiled one",
        "",
        "The shipped default model; *before*: its embedding, filter and GNN run as the torch",
        'modules (`Pipeline(engine="torch")`, the CPU engine until now); *after*: the',
        "compiled kernels of `acts_gnn.gnn.compiled` (the default on the CPU). The same μ = 200",
        "events, run alternately in one process. Mean seconds (and edges) per event.",
        "",
        "| | K1 edges | edges after filter | " + " | ".join(keys) + " |",
        "| --- | --- | --- |" + " --- |" * len(keys),
    ]
    for name, row in ba["rows"].items():
        graph, filtered = ba["edges"][name]
        lines.append(
            f"| {name} | {graph:,.0f} | {filtered:,.0f} | "
            + " | ".join(_s(row[k]) for k in keys)
            + " |"
        )
    ratios = [("after", "before")] + [("bf16", "after")] * ("bf16" in ba["rows"])
    for top, bottom in ratios:
        graph_ratio = [
            a / b if b else math.nan
            for a, b in zip(ba["edges"][top], ba["edges"][bottom], strict=True)
        ]
        upper, lower = ba["rows"][top], ba["rows"][bottom]
        lines.append(
            f"| {top} / {bottom} | "
            + " | ".join(f"{r:.2f}" for r in graph_ratio)
            + " | "
            + " | ".join(f"{upper[k] / lower[k]:.2f}" if lower[k] > 0 else "–" for k in keys)
            + " |"
        )
    if "bf16" in ba["rows"]:
        lines += [
            "",
            "*bf16*: the compiled kernels with the filter's and the GNN's products of hidden",
            "states in bf16 (`--precision bf16`, AVX-512's `vdpbf16ps`: inputs and weights",
            "rounded to bf16, sums in float32), which this CPU has.",
        ]
    lines += [
        "",
        "| | efficiency | fake rate | duplicate rate |",
        "| --- | --- | --- | --- |",
    ]
    for name, report in ba["physics"].items():
        sel = report["selections"][0]
        lines.append(
            f"| {name} (≥ 3 sp) | {_pct(sel['efficiency'])} | {_pct(sel['fake_rate'])} | "
            f"{_pct(sel['duplicate_rate'])} |"
        )
    return [*lines, ""]


def render_gpu(gpu: dict) -> list[str]:
    """Markdown lines for a ``gpu_check.json`` (see benchmarks/gpu_check.py)."""
    info = gpu["info"]
    lines = [
        f"GPU check of {gpu.get('date', '?')}: {info['device']}, Python {info['python']}, torch "
        f"{info['torch']}, numpy {gpu.get('numpy', '?')}. CPU columns: the same machine's CPU. "
        f"Kernel tests: {(gpu.get('gpu_tests') or {}).get('summary', 'not run')}.",
        "",
    ]
    if gpu.get("note"):
        lines += [f"**Note.** {gpu['note']}", ""]
    lines += [
        "| points | K1 CPU s | K1 CUDA s | K1 torch cdist s | K1 CUDA = CPU | K2 CPU s | K2 CUDA s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in gpu["kernels"]:
        lines.append(
            f"| {row['n']:,} | {row['k1_cpu_s']:.4f} | {row['k1_cuda_s']:.4f} | "
            f"{row.get('k1_torch_cdist_s', float('nan')):.4f} | {row.get('k1_equal_cpu', '')} | "
            f"{row['k2_cpu_s']:.4f} | {row['k2_cuda_s']:.4f} |"
        )
    if gpu.get("pipeline"):
        lines += [
            "",
            "The pipeline on μ = 200 events on the GPU (seconds; efficiency and fake rate of its "
            "tracks, the CPU's in brackets, where the run scored them):",
            "",
            "| event | precision | space points | K1 edges | filtered | "
            + " | ".join(STAGES)
            + " | total | efficiency | fake rate | labels = CPU |",
            "| --- | --- | --- | --- | --- | "
            + " | ".join("---" for _ in STAGES)
            + " | --- | --- | --- | --- |",
        ]
        for row in gpu["pipeline"]:
            lines.append(
                f"| {row['event']} | {row.get('precision', 'fp32')} | {row['n_spacepoints']:,} | "
                f"{row['n_edges_graph']:,} | {row['n_edges_filtered']:,} | "
                + " | ".join(f"{row.get(s, float('nan')):.3f}" for s in STAGES)
                + f" | **{row['total_s']:.3f}** | {_versus(row, 'efficiency')} | "
                f"{_versus(row, 'fake_rate')} | {row.get('labels_equal_cpu', '–')} |"
            )
    return [*lines, ""]


def _versus(row: dict, key: str) -> str:
    """``row[key]`` (the CPU's ``cpu_<key>`` in brackets) as percentages, or – if not scored."""
    if key not in row:
        return "–"
    return f"{100 * row[key]:.2f}% ({100 * row['cpu_' + key]:.2f}%)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=REPO / ".bench")
    parser.add_argument("--output", type=Path, default=REPO / "BENCHMARKS.md")
    parser.add_argument(
        "--gpu-json", type=Path, default=REPO / "benchmarks" / "results" / "gpu_check_h200.json"
    )
    parser.add_argument(
        "--gpu-serve-json",
        type=Path,
        default=REPO / "benchmarks" / "results" / "gpu_serve_h200.json",
    )
    parser.add_argument("--served-events", type=int, default=3)
    parser.add_argument(
        "--no-ckf", action="store_true", help="leave out (f), ACTS's CKF (needs pyacts)"
    )
    args = parser.parse_args()
    start = time.perf_counter()
    args.work.mkdir(parents=True, exist_ok=True)
    events = simulate(args.work)
    rows, labels = stages_vs_pileup(events)
    a = {
        "rows": rows,
        "exponent_total": exponent(rows, lambda r: r["total_s"]),
        "exponent_stages": {s: exponent(rows, lambda r, s=s: r["stages_s"][s]) for s in STAGES},
    }
    mu200 = events[200]
    a["before_after"] = before_after(mu200)
    components = make_finder("gnn_components")
    components_labels = {}
    for event in mu200:
        log(f"(e) components only on event {event.event_id}")
        components_labels[event.event_id] = components.reconstruct(event).labels
    e = physics(
        mu200,
        {k[1]: v for k, v in labels.items() if k[0] == 200},
        components_labels,
        components.bundle.pipeline,
    )
    f = ckf_side_by_side(mu200, args.work) if not args.no_ckf else None
    g = beside_busy_processes(args.work)
    points = local_vs_served(mu200, args.served_events)
    c = {"points": points, "ratio": served_to_local_ratio(points)}
    from acts_gnn.io.example import example_dir

    (example,) = list(open_events([example_dir()]))
    d = overhead(events, rows, example)
    results = {
        "machine": machine(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "a": a,
        "c": c,
        "d": d,
        "e": e,
        "f": f,
        "g": g,
        "gpu": json.loads(args.gpu_json.read_text()) if args.gpu_json.exists() else None,
        "gpu_serve": (
            json.loads(args.gpu_serve_json.read_text()) if args.gpu_serve_json.exists() else None
        ),
        "run_s": time.perf_counter() - start,
    }
    raw = {**results, "c": {"points": [p.summary() for p in points], "ratio": c["ratio"]}}
    (args.work / "bench.json").write_text(json.dumps(raw, indent=1, default=str))
    text = render(results)
    previous = args.output.read_text() if args.output.exists() else ""
    if "<!-- soak -->" in previous:  # make soak's section survives a make bench
        block = previous[previous.index("<!-- soak -->") : previous.index("<!-- /soak -->")]
        text = text.rstrip("\n") + "\n\n" + block + "<!-- /soak -->\n"
    args.output.write_text(text)
    log(f"wrote {args.output} in {results['run_s'] / 60:.1f} min")


if __name__ == "__main__":
    main()
