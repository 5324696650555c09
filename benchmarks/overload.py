"""Overload: ten times more clients than model instances, with and without the balancer's limit.

Usage (repository root; needs the ``server`` extra and the balancer)::

    python benchmarks/overload.py [nginx] [envoy] [--clients 20] [--requests 15]
        [--limits 4,0] [--output benchmarks/results/overload.md]

For each engine and each limit: ``acts-gnn serve --balancer 2 --instances 1 --threads 1
--max-in-flight LIMIT`` (0: no limit), then ``--clients`` client threads at once, each sending
``--requests`` reconstructions of the example event one after the other through the balancer
(the client library of ``reconstruct --url``: retries with a backoff doubling from 0.25 s up to
4 s, 40 rounds at most). Two instances serve, so 20 clients are ten times what they can take.

Reported per run: requests answered and equal to the local result, the client's refused
attempts (its ``failed`` count: no server dies here, so every one is the balancer's refusal),
end-to-end latency p50 / p99 (refusals and backoff included) and the longest single wait, and
the memory (RSS) of the whole ``serve`` process tree sampled every 0.5 s: its plateau (the
median of the second half of the run) and its peak.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from acts_gnn.bench.soak import rss_bytes  # noqa: E402
from acts_gnn.finders import make_finder  # noqa: E402
from acts_gnn.io.example import example_dir  # noqa: E402
from acts_gnn.io.source import open_events  # noqa: E402
from acts_gnn.triton.client import RemotePipeline, RetryPolicy  # noqa: E402
from tests.triton.serving import ServeProcess, descendants  # noqa: E402

MODEL = "gnn_tracking"


def run(engine: str, limit: int, args: argparse.Namespace, root: Path, expected) -> dict:
    workspace = root / f"{engine}-{limit}"
    workspace.mkdir(parents=True)
    served = ServeProcess(
        workspace, "--balancer", "2", "--balancer-engine", engine, "--model", MODEL,
        "--instances", "1", "--threads", "1", "--max-in-flight", str(limit),
    )  # fmt: skip
    served.wait_ready(timeout_s=600)
    (event,) = open_events([example_dir()])
    policy = RetryPolicy(retries=40, backoff_s=0.25, max_backoff_s=4.0)
    latencies: list[float] = []
    errors: list[str] = []
    remotes = [
        RemotePipeline([served.grpc_url], MODEL, retry=policy, timeout_s=600)
        for _ in range(args.clients)
    ]
    equal = 0
    lock = threading.Lock()

    def client(remote: RemotePipeline) -> None:
        nonlocal equal
        for _ in range(args.requests):
            start = time.perf_counter()
            try:
                labels = remote.reconstruct(event).labels
            except Exception as exc:  # report, never hide: a lost request is a failed run
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
                continue
            with lock:
                latencies.append(time.perf_counter() - start)
                equal += int(np.array_equal(labels, expected))

    memory: list[tuple[float, int]] = []
    stop = threading.Event()

    def sample() -> None:
        start = time.perf_counter()
        while not stop.wait(0.5):
            family = descendants(served.process.pid) | {served.process.pid}
            memory.append((time.perf_counter() - start, rss_bytes(family)))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    idle = rss_bytes(descendants(served.process.pid) | {served.process.pid})
    threads = [threading.Thread(target=client, args=(r,)) for r in remotes]
    start = time.perf_counter()
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - start
    finally:
        stop.set()
        sampler.join()
        code = served.terminate()
    rss = [m for _, m in memory]
    plateau = statistics.median(rss[len(rss) // 2 :]) if rss else float("nan")
    refused = sum(r.attempts["failed"] for r in remotes)
    print(f"[{engine} limit {limit}] {len(latencies)} answered, {refused} refused, exit {code}")
    return {
        "engine": engine,
        "limit": limit,
        "requests": args.clients * args.requests,
        "answered": len(latencies),
        "equal": equal,
        "errors": errors[:3],
        "refused": refused,
        "fallbacks": sum(r.attempts["fallback"] for r in remotes),
        "wall_s": wall,
        "p50": float(np.percentile(latencies, 50)) if latencies else float("nan"),
        "p99": float(np.percentile(latencies, 99)) if latencies else float("nan"),
        "max": max(latencies, default=float("nan")),
        "idle_mb": idle / 2**20,
        "plateau_mb": plateau / 2**20,
        "peak_mb": max(rss, default=0) / 2**20,
        "exit": code,
    }


def markdown(results: list[dict], args: argparse.Namespace) -> str:
    lines = [
        "# Overload: ten times more clients than instances",
        "",
        f"`python benchmarks/overload.py` on this machine (2 cores; servers, balancer and "
        f"clients share them): `serve --balancer 2 --instances 1 --threads 1 --max-in-flight "
        f"LIMIT` ({MODEL}), {args.clients} clients sending {args.requests} example events "
        "(μ = 10) each, one after the other; client retries back off from 0.25 s, doubling up "
        "to 4 s. Latency is end to end (refusals and backoff included). Memory: the RSS of the "
        "whole `serve` process tree, every 0.5 s.",
        "",
        "| engine | limit | requests | answered | equal to local | refused attempts "
        "| p50 s | p99 s | longest s | wall s | RSS idle / plateau / peak MB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        limit = r["limit"] or "none"
        lines.append(
            f"| {r['engine']} | {limit} | {r['requests']} | {r['answered']} | {r['equal']} "
            f"| {r['refused']} | {r['p50']:.2f} | {r['p99']:.2f} | {r['max']:.2f} "
            f"| {r['wall_s']:.0f} | {r['idle_mb']:.0f} / {r['plateau_mb']:.0f} / "
            f"{r['peak_mb']:.0f} |"
        )
    for r in results:
        if r["errors"]:
            lines += ["", f"{r['engine']} limit {r['limit']}: errors {r['errors']}"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("engines", nargs="*", default=["nginx", "envoy"])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=15)
    parser.add_argument("--limits", default="4,0", help="--max-in-flight values (0: none)")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks/results/overload.md")
    args = parser.parse_args()
    (event,) = open_events([example_dir()])
    expected = make_finder("gnn").reconstruct(event).labels
    results = []
    with tempfile.TemporaryDirectory(prefix="acts-gnn-overload-") as root:
        for engine in args.engines:
            for limit in (int(x) for x in args.limits.split(",")):
                results.append(run(engine, limit, args, Path(root), expected))
                args.output.write_text(markdown(results, args))  # each run as it ends
    print(args.output.read_text())


if __name__ == "__main__":
    main()
