"""Chaos run: four ``acts-gnn serve`` processes behind nginx or Envoy, killed with SIGKILL and
restarted at random while a reconstruction sends ≥ 1,000 small events through the balancer.

Usage (repository root; needs the ``server`` extra and the balancer)::

    python benchmarks/chaos.py [nginx] [envoy] [--events 1000] [--concurrency 8] [--every 3]
        [--seed 0] [--output benchmarks/results/chaos.md]

For each engine: four servers (``--model gnn_tracking``, one instance, one thread each) on fixed
ports behind the balancer; a baseline run of the same events without kills (its latency); then
the chaos run: every ``--every`` seconds a chaos loop (seeded) kills a random live server with
SIGKILL (its process group: the server and its ``tritonserver``) — never the last one that
serves — or restarts a dead one on its ports (it serves again once loaded), so the count of
serving servers goes down to one and up again. The client is
the library behind ``acts-gnn reconstruct --url LB --concurrency 8 --csv-dir``; every event's
proto-track CSV must be written exactly once and equal the local result. Reported: kills,
restarts, the fewest servers alive, the client's failed attempts, retry rounds and fallbacks,
and the latency beside the baseline's. Finally a ``serve --balancer 4`` parent is killed with
SIGKILL and nothing of it may be left running.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from acts_gnn.api.reconstruct import (  # noqa: E402
    FinderRequest,
    InputRequest,
    ReconstructRequest,
    prepare,
)
from acts_gnn.io.example import example_dir  # noqa: E402
from acts_gnn.reco.job import ReconstructionOutputs  # noqa: E402
from acts_gnn.triton.balancer import EnvoyBalancer, NginxBalancer  # noqa: E402
from acts_gnn.triton.client import RetryPolicy  # noqa: E402
from acts_gnn.triton.spawn import free_ports  # noqa: E402
from tests.triton.serving import (  # noqa: E402
    ServeProcess,
    descendants,
    running_command,
)

MODEL = "gnn_tracking"
SERVE_OPTIONS = ("--model", MODEL, "--instances", "1", "--threads", "1")


def _events(directory: Path, count: int) -> None:
    """``count`` copies of the example event (hard links: no space), ids 0 … count − 1."""
    directory.mkdir(parents=True)
    for path in example_dir().glob("event000000000-*.csv"):
        suffix = path.name.removeprefix("event000000000")
        for event_id in range(count):
            target = directory / f"event{event_id:09d}{suffix}"
            try:
                os.link(path, target)
            except OSError:
                shutil.copy(path, target)


class Cluster:
    """Four servers on fixed ports; kill and restart them by index."""

    def __init__(self, root: Path, count: int) -> None:
        self.root = root
        self.ports = [tuple(free_ports(3)) for _ in range(count)]
        self.servers: list[ServeProcess | None] = [None] * count
        self.starts = [0] * count
        for k in range(count):
            self.start(k)
        for server in self.servers:
            assert server is not None
            server.wait_ready(timeout_s=600)

    def start(self, k: int) -> None:
        self.starts[k] += 1
        workspace = self.root / f"server{k}-{self.starts[k]}"
        workspace.mkdir(parents=True)
        self.servers[k] = ServeProcess(workspace, *SERVE_OPTIONS, ports=self.ports[k])

    def alive(self) -> list[int]:
        """Servers whose process runs (a restarted one may still be loading)."""
        return [k for k, s in enumerate(self.servers) if s is not None and s.process.poll() is None]

    def ready(self) -> list[int]:
        """Servers that run and have said ``ready:`` (they serve)."""
        return [k for k in self.alive() if "ready:" in self.servers[k].log()]  # type: ignore[union-attr]

    def kill(self, k: int) -> None:
        server = self.servers[k]
        assert server is not None
        server.kill()  # SIGKILL to its process group: the server and its tritonserver

    def upstreams(self) -> list[str]:
        return [f"127.0.0.1:{grpc}" for grpc, _, _ in self.ports]

    def stop(self) -> None:
        for server in self.servers:
            if server is not None:
                server.kill()


def _reconstruct(events: Path, url: str, out: Path, concurrency: int):
    """The library call of ``acts-gnn reconstruct EVENTS --url URL --csv-dir OUT``."""
    request = ReconstructRequest(
        inputs=InputRequest((events,)),
        outputs=ReconstructionOutputs(tracks_csv_dir=out / "csv", timing_json=out / "timing.json"),
        finder=FinderRequest(urls=(url,), model=MODEL, retry=RetryPolicy(6, 0.5), timeout_s=120),
        concurrency=concurrency,
    )
    run = prepare(request)
    start = time.perf_counter()
    run.run()
    return run.finder, time.perf_counter() - start


def _latencies(out: Path) -> np.ndarray:
    import json

    timing = json.loads((out / "timing.json").read_text())
    return np.array([e["total_s"] for e in timing["events"]])


def _check(out: Path, count: int, expected: str) -> tuple[int, int]:
    """(events written, events equal to the local result); exactly once by file name."""
    files = sorted((out / "csv").iterdir())
    names = [p.name for p in files]
    assert names == [f"event{i:09d}-prototracks.csv" for i in range(count)], "missing or extra"
    return len(files), sum(p.read_text() == expected for p in files)


def chaos(engine: str, args: argparse.Namespace, root: Path, expected: str) -> dict:
    events = root / "events"
    if not events.is_dir():
        _events(events, args.events)
    rng = random.Random(args.seed)
    cluster = Cluster(root / engine, 4)
    balancer_class = NginxBalancer if engine == "nginx" else EnvoyBalancer
    (port,) = free_ports(1)
    log: list[str] = []
    try:
        with balancer_class(cluster.upstreams(), "127.0.0.1", port, root / engine / "lb"):
            url = f"127.0.0.1:{port}"
            print(f"[{engine}] baseline run ({args.events} events) …", flush=True)
            _, base_wall = _reconstruct(events, url, root / engine / "base", args.concurrency)
            base = _latencies(root / engine / "base")
            stop = threading.Event()
            counts = {"kills": 0, "restarts": 0, "fewest_alive": 4}

            def loop() -> None:
                start = time.perf_counter()
                while not stop.wait(args.every):
                    ready = cluster.ready()
                    dead = [k for k in range(4) if k not in cluster.alive()]
                    # never the last server that serves; a restarted one counts once it is ready
                    if len(ready) > 1 and (not dead or rng.random() < 0.6):
                        k = rng.choice(ready)
                        cluster.kill(k)
                        counts["kills"] += 1
                        action = f"killed server {k}"
                    elif dead:
                        k = rng.choice(dead)
                        cluster.start(k)
                        counts["restarts"] += 1
                        action = f"restarted server {k}"
                    else:
                        continue  # one serves, the others are still loading
                    now = len(cluster.ready())
                    counts["fewest_alive"] = min(counts["fewest_alive"], now)
                    log.append(
                        f"{time.perf_counter() - start:6.1f} s  {action}  ({now} serving, "
                        f"{len(cluster.alive()) - now} loading)"
                    )
                    print(f"[{engine}] {log[-1]}", flush=True)

            print(f"[{engine}] chaos run …", flush=True)
            chaos_thread = threading.Thread(target=loop, daemon=True)
            chaos_thread.start()
            try:
                finder, wall = _reconstruct(events, url, root / engine / "chaos", args.concurrency)
            finally:
                stop.set()
                chaos_thread.join()
            latency = _latencies(root / engine / "chaos")
            written, equal = _check(root / engine / "chaos", args.events, expected)
    finally:
        cluster.stop()
    return {
        "engine": engine,
        "events": args.events,
        "written": written,
        "equal": equal,
        **counts,
        "failed_attempts": finder.attempts["failed"],
        "retry_rounds": finder.attempts["retry_rounds"],
        "fallbacks": finder.attempts["fallback"],
        "wall_s": wall,
        "base_wall_s": base_wall,
        "p50": float(np.percentile(latency, 50)),
        "p99": float(np.percentile(latency, 99)),
        "base_p50": float(np.percentile(base, 50)),
        "base_p99": float(np.percentile(base, 99)),
        "log": log,
    }


def parent_killed(engine: str, root: Path) -> tuple[float, list[str]]:
    """``serve --balancer 4`` SIGKILLed once ready: seconds until all of its processes were gone
    (their graceful stop included), and those still running after 60 s."""
    workspace = root / f"parent-{engine}"
    workspace.mkdir(parents=True)
    served = ServeProcess(workspace, "--balancer", "4", "--balancer-engine", engine, *SERVE_OPTIONS)
    served.wait_ready(timeout_s=600)
    family = descendants(served.process.pid)
    os.kill(served.process.pid, signal.SIGKILL)
    served.process.wait()
    start = time.perf_counter()
    while (left := [f"{pid}: {c}" for pid in family if (c := running_command(pid))]) and (
        time.perf_counter() - start < 60
    ):
        time.sleep(0.2)
    return time.perf_counter() - start, left


def markdown(results: list[dict], leftovers: dict[str, tuple[float, list[str]]]) -> str:
    lines = [
        "# Chaos run: four servers, random SIGKILLs and restarts",
        "",
        "`python benchmarks/chaos.py` on this machine (2 cores; servers, balancer and client "
        "share them). Each engine: a baseline run without kills, then the chaos run.",
        "",
        "| engine | events | written once | equal to local | kills | restarts | fewest serving "
        "| failed attempts | retry rounds | fallbacks | p50 / p99 s (baseline) | wall s "
        "(baseline) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r['engine']} | {r['events']} | {r['written']} | {r['equal']} | {r['kills']} "
            f"| {r['restarts']} | {r['fewest_alive']} | {r['failed_attempts']} "
            f"| {r['retry_rounds']} | {r['fallbacks']} | {r['p50']:.2f} / {r['p99']:.2f} "
            f"({r['base_p50']:.2f} / {r['base_p99']:.2f}) | {r['wall_s']:.0f} "
            f"({r['base_wall_s']:.0f}) |"
        )
    lines.append("")
    for engine, (seconds, left) in leftovers.items():
        lines.append(
            f"`serve --balancer 4 --balancer-engine {engine}` killed with SIGKILL: "
            + (
                f"{len(left)} processes still running after 60 s: {left}"
                if left
                else f"nothing left running {seconds:.1f} s later (the servers' own stop)."
            )
        )
    for r in results:
        lines += ["", f"Chaos log, {r['engine']}:", "", "```", *r["log"], "```"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("engines", nargs="*", default=["nginx", "envoy"])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--every", type=float, default=3.0, help="seconds between chaos actions")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks/results/chaos.md")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="acts-gnn-chaos-"))
    try:
        expected_dir = root / "expected"
        _reconstruct_local(expected_dir)
        expected = (expected_dir / "event000000000-prototracks.csv").read_text()
        results, leftovers = [], {}
        args.output.parent.mkdir(parents=True, exist_ok=True)
        for engine in args.engines:
            results.append(chaos(engine, args, root, expected))
            leftovers[engine] = parent_killed(engine, root)
            args.output.write_text(markdown(results, leftovers))  # each engine as it ends
        print(args.output.read_text())
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _reconstruct_local(out: Path) -> None:
    """The example event reconstructed here, in this process (the answer every event must get)."""
    request = ReconstructRequest(
        inputs=InputRequest((example_dir(),)),
        outputs=ReconstructionOutputs(tracks_csv_dir=out),
        finder=FinderRequest(backend="gnn"),
    )
    prepare(request).run()


if __name__ == "__main__":
    main()
