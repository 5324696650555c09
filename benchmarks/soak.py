"""``make soak``: the full soak — 10,000 requests, 10 % malformed, one server.

    python benchmarks/soak.py [--requests 10000] [--output BENCHMARKS.md]

Starts ``acts-gnn serve --model unrolling_tracking`` (the classical backend: real work per
request, quick enough for 10,000 of them on a CPU), sends small events (≈ 200 space points, cut
from the shipped example) and malformed tensors, and records lost requests, refused malformed ones
and the resident memory of the server's process group at requests 1,000 and 10,000. The result
replaces the soak section of BENCHMARKS.md (between its markers; ``make bench`` keeps it).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from acts_gnn.bench.soak import run_soak  # noqa: E402
from acts_gnn.cpus import machine  # noqa: E402
from acts_gnn.io.example import example_dir  # noqa: E402
from acts_gnn.io.source import open_events  # noqa: E402
from acts_gnn.triton.spawn import SpawnedServer  # noqa: E402

BEGIN, END = "<!-- soak -->", "<!-- /soak -->"
CAP = 2_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--output", type=Path, default=REPO / "BENCHMARKS.md")
    args = parser.parse_args()
    (example,) = list(open_events([example_dir()]))
    pool = [example.features()[i::40] for i in range(8)]
    first = min(1_000, args.requests)
    start = time.perf_counter()
    done = [0]

    def progress() -> None:
        done[0] += 1
        if done[0] % 1000 == 0:
            print(f"[soak] {done[0]} requests", file=sys.stderr, flush=True)

    with SpawnedServer(
        ["unrolling_tracking"], 1, extra_options=("--max-spacepoints", str(CAP))
    ) as server:
        result = run_soak(
            server.grpc_url,
            "unrolling_tracking",
            pool,
            requests=args.requests,
            bad_fraction=0.1,
            max_spacepoints=CAP,
            pgid=server.pid,
            checkpoints=(first, args.requests),
            on_request=progress,
        )
    wall = time.perf_counter() - start
    growth = result.rss_growth(first, args.requests)
    block = "\n".join(
        [
            BEGIN,
            "## Soak (`make soak`)",
            "",
            f"Machine: {machine()}. Date: {datetime.now(UTC):%Y-%m-%d}. "
            f"{args.requests:,} requests in {wall / 60:.1f} min to `acts-gnn serve --model "
            "unrolling_tracking` (one instance), 10 % malformed (FP64, [N, 4], NaN rows, over the "
            f"{CAP:,}-row cap), valid ones ≈ 200 space points.",
            "",
            "| valid sent | valid answered | lost | malformed sent | malformed refused | "
            f"server memory at {first:,} | at {args.requests:,} | growth |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
            f"| {result.valid_sent:,} | {result.valid_answered:,} | {result.lost} | "
            f"{result.malformed_sent:,} | {result.malformed_refused:,} | "
            f"{result.rss_bytes[first] / 2**20:,.0f} MiB | "
            f"{result.rss_bytes[args.requests] / 2**20:,.0f} MiB | {growth:+.2%} |",
            "",
            "Memory is the resident set of the server's whole process group (`acts-gnn serve`, "
            "`tritonserver`, the Python backend stubs). Goal: zero lost, growth under 5 %.",
            END,
        ]
    )
    text = args.output.read_text() if args.output.exists() else "# Benchmarks\n"
    if BEGIN in text:
        text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), block, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    args.output.write_text(text)
    print(block)
    if result.lost or result.accepted_malformed or growth >= 0.05:
        sys.exit(1)


if __name__ == "__main__":
    main()
