"""Where a CPU event's time goes: per stage and per operation, at μ = 20, 50, 100, 200.

    python benchmarks/profile_cpu.py [--work .bench] [--output benchmarks/results/profile_cpu.md]

One event per μ (the first of ``make bench``'s samples, simulated into ``--work`` once), after a
warm-up event, with the shipped model and the default thread count. Stage times come from the
pipeline's own timing; within each stage torch's profiler gives the operations by self CPU time
(the pipeline marks its stages as profiler ranges; the compiled kernels of the filter and the
GNN are ranges of their own). K1 is not torch: its line splits the neighbour query (the grid
query of large events, timed here with the same arguments; small events use SciPy's k-d tree
instead) from the rest. The markdown table goes to ``--output`` and to stdout.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from acts_gnn.cpus import (  # noqa: E402
    avoid_numpy_huge_pages,
    keep_freed_memory,
    passive_openmp_waits,
)

passive_openmp_waits()  # as the command line runs, before numpy and torch are imported
avoid_numpy_huge_pages()
keep_freed_memory()

import numpy as np  # noqa: E402

from acts_gnn.cpus import machine  # noqa: E402
from acts_gnn.event import model_features  # noqa: E402
from acts_gnn.finders import make_finder  # noqa: E402
from benchmarks.bench import SAMPLES, simulate  # noqa: E402

STAGES = ("embedding", "graph_building", "filter", "gnn")


def _ops_by_stage(prof) -> dict[str, dict[str, float]]:
    """Self CPU seconds of each torch operation inside each stage range."""
    events = prof.events()
    ranges = {e.name: e.time_range for e in events if e.name in STAGES}
    found: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for event in events:
        if event.name in STAGES or event.name.startswith("ProfilerStep"):
            continue
        for stage, span in ranges.items():
            if span.start <= event.time_range.start and event.time_range.end <= span.end:
                found[stage][event.name] += event.self_cpu_time_total / 1e6
                break
    return found


def _query_s(pipeline, features: np.ndarray) -> float:
    """Seconds of K1's neighbour query alone (the grid query of large events), on this event's
    latents."""
    import torch

    from acts_gnn.cpus import numba_threads
    from acts_gnn.cuda.frnn import grid_rows

    with torch.inference_mode():
        latent = pipeline.bundle.embedding(torch.from_numpy(features)).numpy()
    cfg = pipeline.config
    with numba_threads(torch.get_num_threads()):
        start = time.perf_counter()
        grid_rows(latent, cfg.radius, min(cfg.max_neighbours + 9, len(latent)))
        return time.perf_counter() - start


def profile(events: dict[int, list]) -> list[dict]:
    import torch
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    pipeline = make_finder("gnn")  # the shipped model's Pipeline
    pipeline.reconstruct(events[20][0])  # warm-up
    rows = []
    for mu in sorted(events):
        event = events[mu][0]
        features = model_features(event.spacepoints.x, event.spacepoints.y, event.spacepoints.z)
        print(f"[profile] μ = {mu}: {len(event):,} space points", file=sys.stderr, flush=True)
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            output = pipeline.run(features)
        ops = _ops_by_stage(prof)
        rows.append(
            {
                "mu": mu,
                "spacepoints": len(event),
                "edges_graph": output.n_edges_graph,
                "edges_filtered": output.n_edges_filtered,
                "stages_s": output.stages_s,
                "ops": {s: dict(ops.get(s, {})) for s in STAGES},
                "query_s": _query_s(pipeline, features),
                "threads": torch.get_num_threads(),
            }
        )
    return rows


def markdown(rows: list[dict]) -> str:
    lines = [
        "# CPU profile of the shipped model, per stage and operation",
        "",
        f"Machine: {machine()}; torch threads: {rows[0]['threads']}. One event per μ after a "
        "warm-up; `python benchmarks/profile_cpu.py`.",
        "",
        "| μ | space points | K1 edges | filtered edges | embedding | K1 (neighbour query) | filter "
        "| GNN | track building | total |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        s = row["stages_s"]
        total = sum(s.values())
        lines.append(
            f"| {row['mu']} | {row['spacepoints']:,} | {row['edges_graph']:,} | "
            f"{row['edges_filtered']:,} | {s['embedding']:.2f} s | {s['graph_building']:.2f} s "
            f"({row['query_s']:.2f} s) | {s['filter']:.2f} s | {s['gnn']:.2f} s | "
            f"{s['track_building']:.2f} s | {total:.2f} s |"
        )
    x = np.log([r["spacepoints"] for r in rows])
    for name, key in (
        ("total", lambda r: sum(r["stages_s"].values())),
        ("K1", lambda r: r["stages_s"]["graph_building"]),
        ("filter", lambda r: r["stages_s"]["filter"]),
        ("GNN", lambda r: r["stages_s"]["gnn"]),
        ("K1 edges", lambda r: r["edges_graph"]),
    ):
        slope = float(np.polyfit(x, np.log([max(key(r), 1e-9) for r in rows]), 1)[0])
        lines.append(f"\nScaling exponent of {name} against space points: {slope:.2f}")
    last = rows[-1]
    lines += ["", f"Operations at μ = {last['mu']} (self CPU time, share of the stage):", ""]
    lines += ["| stage | operation | seconds | share |", "| --- | --- | --- | --- |"]
    for stage in ("embedding", "filter", "gnn"):
        ops = last["ops"][stage]
        stage_s = sum(ops.values()) or 1.0
        for name, seconds in sorted(ops.items(), key=lambda kv: -kv[1])[:6]:
            lines.append(f"| {stage} | `{name}` | {seconds:.3f} | {seconds / stage_s:.0%} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=REPO / ".bench")
    parser.add_argument(
        "--output", type=Path, default=REPO / "benchmarks" / "results" / "profile_cpu.md"
    )
    args = parser.parse_args()
    events = simulate(args.work)
    events = {mu: sample[:1] for mu, sample in events.items()}
    text = markdown(profile(events))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    assert set(SAMPLES) == {20, 50, 100, 200}
    main()
