"""``make gpu-serve``: the served GPU sweep — ``acts-gnn serve`` over instances × concurrency on
μ = 200 events, beside the in-process pipeline on the same events and device.

Run on a machine with a CUDA GPU through ``make gpu-serve GPU_OUT=$OUT``, which first builds the
serving environment the GPU machine lacks (see the Makefile), or directly:

    python benchmarks/gpu_serve.py OUTDIR --events DIR_OF_NPZ [--instances 1,2,4]
        [--concurrency 1,2,4,8] [--events-per-point 24] [--device cuda] [--model gnn_tracking]
        [--precision fp32]

Steps, each printed as it ends:

1. the environment: Python, NumPy here and where Triton's Python stub imports it, torch and its
   GPU, the folder of libpython that the stub links;
2. the in-process point: the pipeline on ``--device`` in this process, one event at a time;
3. per instance count one spawned ``acts-gnn serve --device DEVICE``; with the first, every
   event's served labels are compared with the in-process ones (serving must not change a
   track), then every concurrency is measured: events/s, p50/p99 latency, the server's queue and
   compute time, GPU utilisation and memory (Triton's metrics, else NVML).

Writes ``OUTDIR/gpu_serve.json`` (everything; rewritten after every step, so a run stopped by
its time limit still returns what it measured), ``OUTDIR/servers.log`` (every server's output)
and ``OUTDIR/serve/`` (``benchmark.json``, the Markdown table and the throughput, latency and
stage plots); prints a short table last. A failed server start is recorded with its message and
the sweep goes on with the next instance count.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def environment() -> dict:
    """What this run stands on, for the record and for diagnosing a failed server start."""
    import torch

    from acts_gnn.triton.server import libpython_dir, stub_numpy

    version, folder = stub_numpy()  # what acts-gnn serve checks and sets up for the stub
    libdir = libpython_dir()
    soname = sysconfig.get_config_var("INSTSONAME") or ""
    return {
        "python": platform.python_version(),
        "executable": sys.executable,
        "numpy": np.__version__,
        "stub_numpy": f"{version} ({folder})",
        "libpython": soname,
        "libpython_found": bool(soname) and os.path.isfile(os.path.join(libdir, soname)),
        "libdir": libdir,
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        "cpus": os.cpu_count(),
        # Triton's Python backend passes tensors through shared memory
        "dev_shm_free_bytes": shutil.disk_usage("/dev/shm").free
        if os.path.isdir("/dev/shm")
        else None,
    }


def load_events(folder: Path, limit: int) -> list:
    from acts_gnn.io.cache import load_event_npz

    paths = sorted(folder.glob("event*.npz"))[:limit]
    if not paths:
        raise SystemExit(f"{folder}: no event*.npz files (make gpu-prepare writes .gpu/test)")
    return [load_event_npz(path) for path in paths]


class Record:
    """What the run has measured so far, rewritten to ``path`` after every step: a run stopped
    by its time limit still returns what it measured."""

    def __init__(self, path: Path, head: dict) -> None:
        self.path, self.head = path, head
        self.points: list = []
        self.labels: dict = {}
        self.failures: list[dict] = []
        self.start = time.perf_counter()

    def save(self) -> None:
        from acts_gnn.bench.report import served_to_local_ratio
        from acts_gnn.io.atomic import write_text_atomic

        result = {
            **self.head,
            "labels": self.labels,
            "failures": self.failures,
            "points": [point.summary() for point in self.points],
            "served_to_local_ratio": served_to_local_ratio(self.points),
            "run_s": time.perf_counter() - self.start,
        }
        text = json.dumps(result, indent=1, default=float).replace("NaN", "null")
        write_text_atomic(self.path, text + "\n")


def sweep(events: list, args: argparse.Namespace, record: Record) -> None:
    """The points (in-process first), the served-labels check and the failed server starts,
    into ``record``."""
    from acts_gnn.bench.harness import Served, run_point
    from acts_gnn.errors import ActsGnnError
    from acts_gnn.finders import make_finder
    from acts_gnn.triton.client import RemotePipeline
    from acts_gnn.triton.spawn import SpawnedServer

    local = make_finder(args.model, None, args.device, precision=args.precision)
    point = run_point(local, events, concurrency=1, n_events=args.events_per_point)
    record.points.append(point)
    record.save()
    print(f"in process: {point.events_per_s:.2f} events/s", flush=True)
    local_labels = [local.reconstruct(event).labels for event in events]
    for instances in args.instances:
        start = time.perf_counter()
        try:
            with SpawnedServer(
                [args.model],
                instances,
                device=args.device,
                extra_options=("--precision", args.precision),
                keep_log=args.outdir / "servers.log",
            ) as server:
                started_s = time.perf_counter() - start
                print(f"served ×{instances}: started in {started_s:.0f} s", flush=True)
                remote = RemotePipeline([server.grpc_url], args.model, timeout_s=600.0, retries=0)
                if not record.labels:
                    equal = [
                        bool(np.array_equal(remote.reconstruct(event).labels, expected))
                        for event, expected in zip(events, local_labels, strict=True)
                    ]
                    record.labels = {"events": len(equal), "equal": sum(equal)}
                    record.save()
                    print(
                        f"served labels equal the in-process ones on {sum(equal)} of "
                        f"{len(equal)} events",
                        flush=True,
                    )
                served = Served(
                    server.grpc_url, args.model, server.metrics_url, instances, server.access_token
                )
                for concurrency in args.concurrency:
                    point = run_point(
                        remote,
                        events,
                        concurrency=concurrency,
                        n_events=args.events_per_point,
                        served=served,
                    )
                    record.points.append(point)
                    record.save()
                    print(
                        f"served ×{instances} c={concurrency}: {point.events_per_s:.2f} "
                        f"events/s, GPU {_pct(point.utilisation.get('gpu_utilisation'))}",
                        flush=True,
                    )
        except ActsGnnError as exc:
            record.failures.append({"instances": instances, "error": str(exc)[:2000]})
            record.save()
            print(f"served ×{instances}: failed: {exc}", flush=True)


#: published throughput of GNN tracking pipelines, in process and served (the GPU issue's anchors)
GPU_ANCHORS = [
    ("ACORN's GNN pipeline, in process", "one A100", "TrackML pixel", "784 ms per event"),
    ("HEPTv2, in process", "as published", "TrackML", "15 ms per event"),
    (
        "acts-aas (ACTS GNN as a service)",
        "one A100",
        "μ = 200",
        "1.14 ev/s (1 instance) → 1.65 ev/s (4 instances)",
    ),
    (
        "Exa.TrkX as a service",
        "one A100",
        "~2k space points",
        "54 → 84 ev/s at 59 → 94% GPU utilisation",
    ),
]


def render(serve: dict | None) -> list[str]:
    """BENCHMARKS.md's section (c′) (``make bench`` calls this): a ``gpu_serve.json`` or, without
    one, what will be measured; the published anchors either way."""
    lines = [
        "## (c′) Served on a GPU (`make gpu-serve`)",
        "",
        "On a GPU machine `make gpu-serve` spawns `acts-gnn serve --device cuda` once per instance",
        "count (1, 2, 4) and measures concurrency 1, 2, 4, 8 on the carried μ = 200 events, beside",
        "the in-process pipeline on the same GPU; with the first server every event's served",
        "labels are compared with the in-process ones. GPU utilisation and memory are Triton's",
        "metrics, else NVML's. Goal: ≥ 20 events/s at the best point (aim 50), served /",
        "in-process ≥ 0.9.",
        "",
    ]
    if serve is None:
        lines += ["Not measured yet: no GPU machine has run `make gpu-serve`.", ""]
    else:
        info, labels = serve["info"], serve.get("labels") or {}
        lines += [
            f"Run of {serve['date']} on {serve['machine']} (Python {info['python']}, torch "
            f"{info['torch']}); {len(serve['events'])} events of "
            f"{sum(serve['events']) / len(serve['events']):,.0f} space points on average, "
            f"{serve['events_per_point']} requests per point, {serve.get('precision', 'fp32')}. "
            f"Served labels equal the "
            f"in-process ones on {labels.get('equal', 0)} of {labels.get('events', 0)} events.",
            "",
        ]
        for failure in serve.get("failures", []):
            lines += [f"**×{failure['instances']} did not start:** {failure['error']}", ""]
        lines += [
            "| mode | instances | concurrency | events/s | p50 ms | p99 ms | server queue ms | "
            "server compute ms | GPU | GPU memory GiB |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for p in serve["points"]:
            use, server = p.get("utilisation") or {}, p.get("server") or {}
            lines.append(
                f"| {p['mode']} | {p['instances'] or '–'} | {p['concurrency']} | "
                f"**{p['events_per_s']:.2f}** | {_ms(p['latency_p50_s'])} | "
                f"{_ms(p['latency_p99_s'])} | {_ms(server.get('queue_s'))} | "
                f"{_ms(server.get('compute_s'))} | {_pct(use.get('gpu_utilisation'))} | "
                + (
                    "–"
                    if use.get("gpu_memory_bytes") is None
                    else f"{use['gpu_memory_bytes'] / 2**30:.1f}"
                )
                + " |"
            )
        ratio = serve.get("served_to_local_ratio")
        lines += [
            "",
            f"Served / in-process throughput (best points): **{ratio:.3f}**"
            if ratio is not None
            else "No served point was measured.",
            "",
        ]
        if (REPO / "benchmarks" / "results" / "gpu_serve_throughput.png").exists():
            lines += [
                "![served throughput vs concurrency on the GPU]"
                "(benchmarks/results/gpu_serve_throughput.png)",
                "",
            ]
    lines += [
        "Published anchors (their numbers, not measured here):",
        "",
        "| pipeline | hardware | events | throughput |",
        "| --- | --- | --- | --- |",
        *(
            f"| {name} | {hardware} | {events} | {rate} |"
            for name, hardware, events, rate in GPU_ANCHORS
        ),
        "",
    ]
    return lines


def _ms(seconds: float | None) -> str:
    return "–" if seconds is None or not math.isfinite(seconds) else f"{1e3 * seconds:.1f}"


def _pct(fraction: float | None) -> str:
    return "–" if fraction is None or not math.isfinite(fraction) else f"{100 * fraction:.0f}%"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--events", type=Path, required=True, help="folder of μ = 200 .npz events")
    parser.add_argument("--max-events", type=int, default=3, help="distinct events used")
    parser.add_argument("--instances", default="1,2,4", help="model instances per server")
    parser.add_argument("--concurrency", default="1,2,4,8", help="requests in flight")
    parser.add_argument("--events-per-point", type=int, default=24)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--model", default="gnn_tracking", help="served model with a local twin")
    parser.add_argument("--precision", default="fp32", help="fp32, tf32 or bf16 (GNN models)")
    args = parser.parse_args()
    args.instances = [int(v) for v in args.instances.split(",")]
    args.concurrency = [int(v) for v in args.concurrency.split(",")]
    from acts_gnn.bench.report import markdown_table, write_reports
    from acts_gnn.cpus import machine

    args.outdir.mkdir(parents=True, exist_ok=True)
    info = environment()
    print(f"environment: {json.dumps(info)}", flush=True)
    events = load_events(args.events, args.max_events)
    head = {
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "machine": machine(),
        "info": info,
        "events": [len(event) for event in events],
        "events_per_point": args.events_per_point,
        "precision": args.precision,
    }
    record = Record(args.outdir / "gpu_serve.json", head)
    record.save()
    sweep(events, args, record)
    reports = write_reports(record.points, args.outdir / "serve")
    print(markdown_table(record.points))
    print(f"wrote {record.path} and {', '.join(p.name for p in reports)}")
    labels = record.labels
    served_all = not record.failures and labels.get("equal") == labels.get("events")
    return 0 if served_all else 1


if __name__ == "__main__":
    sys.exit(main())
