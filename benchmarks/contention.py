"""A μ = 200 event beside busy processes: the slowdown against a fair share of the cores.

    python benchmarks/contention.py [--work .bench] [--events 2] [--output FILE]

Each condition runs ``acts-gnn reconstruct`` on the same μ = 200 events (``make bench``'s held-out
sample) in a fresh process: alone, beside one busy single-threaded process, beside two. With C
cores, a fair share beside B busy processes is C / (C + B) of the machine, so the fair slowdown is
(C + B) / C: ×1.5 beside one and ×2 beside two on two cores. Each condition is measured twice:
as ``acts-gnn`` runs by default (``OMP_WAIT_POLICY=PASSIVE``: threads that wait sleep instead of
spinning on a core another process needs) and with libgomp's own default, a waiting thread
spinning 300,000 times before it sleeps (``GOMP_SPINCOUNT=300000``, which wins over the policy).
The slowdown is of the track-finding time per event after each process's first (the timing
report's ``total_s``), as a ratio to the same setting alone; the first event, which also loads the
compiled kernels from Numba's cache, is reported apart (with a single event, it is all there is).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from acts_gnn.cpus import available_cpus, machine  # noqa: E402
from benchmarks.bench import SAMPLES, simulate  # noqa: E402

BUSY = "while True: pass"

#: the setting acts-gnn runs with (nothing added to its environment)
DEFAULT = "passive (acts-gnn's default)"
#: setting → environment added to the command
SETTINGS = {
    DEFAULT: {},
    "spin (libgomp's default, before)": {"GOMP_SPINCOUNT": "300000"},
}


def _cpu_s(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def _event_seconds(inputs: list[Path], env: dict[str, str]) -> list[float]:
    """Track-finding seconds of each event of one ``reconstruct`` run, in order."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "timing.json"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "acts_gnn.cli.main",
                "reconstruct",
                *map(str, inputs),
                "-q",
                "--timing",
                str(report),
            ],
            check=True,
            env=env,
        )
        return [event["total_s"] for event in json.loads(report.read_text())["events"]]


def measure(inputs: list[Path], settings: dict[str, dict[str, str]] = SETTINGS) -> list[dict]:
    """Each setting alone and beside one and two busy processes (rows as :func:`markdown`)."""
    cores = available_cpus()
    rows = []
    for policy, extra in settings.items():
        drop = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
        env = {k: v for k, v in os.environ.items() if k not in drop} | extra
        alone = None
        for busy in (0, 1, 2):
            hogs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(busy)]
            # what this process itself burns meanwhile: it only waits, so ~0 (a diagnostic)
            own = resource.getrusage(resource.RUSAGE_SELF)
            try:
                time.sleep(0.5 if busy else 0)
                events = _event_seconds(inputs, env)
            finally:
                for hog in hogs:
                    hog.kill()
                    hog.wait()
            later = events[1:] or events
            seconds = sum(later) / len(later)
            alone = seconds if busy == 0 else alone
            fair = (cores + busy) / cores
            rows.append(
                {
                    "policy": policy,
                    "busy": busy,
                    "seconds": seconds,
                    "first_s": events[0],
                    "own_cpu_s": _cpu_s(resource.getrusage(resource.RUSAGE_SELF)) - _cpu_s(own),
                    "slowdown": seconds / alone,
                    "fair": fair,
                    "vs_fair": seconds / alone / fair,
                }
            )
            print(f"[contention] {rows[-1]}", file=sys.stderr, flush=True)
    return rows


def markdown(rows: list[dict], n_events: int) -> str:
    lines = [
        "# A μ = 200 event beside busy processes",
        "",
        f"Machine: {machine()}; {available_cpus()} CPUs available; {n_events} μ = 200 events per "
        "run; `python benchmarks/contention.py`.",
        "",
        "| OpenMP waits | busy processes | s per event (after the first) | first event s | "
        "slowdown | fair slowdown | ÷ fair |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['policy']} | {r['busy']} | {r['seconds']:.2f} | {r['first_s']:.2f} | "
            f"×{r['slowdown']:.2f} | ×{r['fair']:.2f} | {r['vs_fair']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=REPO / ".bench")
    parser.add_argument("--events", type=int, default=3)
    parser.add_argument(
        "--output", type=Path, default=REPO / "benchmarks" / "results" / "contention.md"
    )
    args = parser.parse_args()
    simulate(args.work)
    _n, seed = SAMPLES[200]
    directory = args.work / f"mu200-seed{seed}"
    inputs = sorted(directory.glob("event*-spacepoint.csv"))[: args.events]
    text = markdown(measure(inputs), len(inputs))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
