"""Where the pipeline loses targets and makes fakes, stage by stage (acts_gnn.metrics.breakdown).

    python benchmarks/loss_breakdown.py data/test [--bundle DIR] [--out FILE.md]

Runs the pipeline on every event of the input (with truth), keeps the K1 graph, the filtered
graph, the edges above the GNN cut, the builder's pieces and the final candidates, and writes
Markdown tables: missed targets by the stage that lost them (overall, and against pT, |η|, local
density and production radius), the true pairs the K1 graph misses (outside the radius, or
inside it but beyond the k cap), and fakes by cause.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from acts_gnn.gnn.pipeline import Pipeline
from acts_gnn.gnn.truth_graph import true_edges
from acts_gnn.io.source import open_events
from acts_gnn.metrics.breakdown import (
    DENSITY_DELTA_R,
    FAKE_CAUSES,
    FAKE_MAJORITY,
    LOSS_CAUSES,
    EventLosses,
    account_event,
)

STAGES = ("graph", "filter", "gnn_cut")
STAGE_TEXT = {
    "graph": "K1 graph",
    "filter": "filter",
    "gnn_cut": "GNN cut",
    "merged": "track building: merged",
    "stitching": "stitching",
    "quality": "quality selection",
}
FAKE_TEXT = {
    "fragment": "a fragment (pure, ≤ half of its particle)",
    "gnn_edges": "impure: false edges above the GNN cut",
    "stitching": "impure: stitching",
}
BINS = {
    "pT [GeV]": ("pt", [1, 2, 5, 10, np.inf]),
    "|η|": ("abs_eta", [0, 1, 2, 3, 4]),
    f"other particles within ΔR < {DENSITY_DELTA_R}": ("density", [0, 1, 3, 6, np.inf]),
    "production radius [mm]": ("vertex_r_mm", [0, 1, 10, 50, 260]),
}


def k1_misses(event, graph: np.ndarray, latent: np.ndarray, radius: float) -> tuple[int, int, int]:
    """(true consecutive target pairs, missing from K1 beyond the radius, missing within it)."""
    pairs = true_edges(event, 1.0)
    if pairs.shape[1] == 0:
        return 0, 0, 0
    n = len(event)
    lo, hi = np.minimum(pairs[0], pairs[1]), np.maximum(pairs[0], pairs[1])
    glo, ghi = np.minimum(graph[0], graph[1]), np.maximum(graph[0], graph[1])
    inside = np.isin(lo * n + hi, glo * n + ghi)
    distance = np.linalg.norm(latent[lo] - latent[hi], axis=1)
    beyond = ~inside & (distance >= radius)
    capped = ~inside & (distance < radius)
    return int(pairs.shape[1]), int(beyond.sum()), int(capped.sum())


def _pct(part: float, whole: float) -> str:
    return "—" if whole == 0 else f"{100 * part / whole:.1f}%"


def header(command: str) -> str:
    """The title, the command that made the tables, the machine and the date."""
    from datetime import UTC, datetime

    from acts_gnn.cpus import machine

    date = datetime.now(UTC).strftime("%Y-%m-%d")
    return (
        "# Where targets are lost and fakes are made\n\n"
        f"`{command}` on {machine()}, {date}.\n\n"
    )


def render(accounts: list[EventLosses], k1: np.ndarray, bundle: str, source: str) -> str:
    lost = np.concatenate([a.lost_at for a in accounts])
    values = {
        "pt": np.concatenate([a.pt for a in accounts]),
        "abs_eta": np.abs(np.concatenate([a.eta for a in accounts])),
        "density": np.concatenate([a.density for a in accounts]).astype(float),
        "vertex_r_mm": np.concatenate([a.vertex_r_mm for a in accounts]),
    }
    rescued = int(sum(a.rescued.sum() for a in accounts))
    causes = STAGES + LOSS_CAUSES
    n = lost.size
    lines = [
        f"Events: {source} ({len(accounts)} events, {n:,} targets); bundle: {bundle}. "
        "Targets: pT > 1 GeV, |η| < 4, vertex within 260 mm, ≥ 3 space points; candidates ≥ 3 "
        "space points, double majority (as `acts-gnn evaluate`). A missed target is charged to "
        "the first stage after which the edges joining its own points no longer make a matched "
        "candidate, or to the candidate-quality selection when the candidates before it matched "
        "it (see acts_gnn/metrics/breakdown.py).",
        "",
        "| | targets | found | " + " | ".join(f"lost: {STAGE_TEXT[c]}" for c in causes) + " |",
        "| --- | --- | --- | " + " | ".join("---" for _ in causes) + " |",
        f"| all | {n:,} | {_pct((lost == 'found').sum(), n)} | "
        + " | ".join(_pct((lost == c).sum(), n) for c in causes)
        + " |",
    ]
    for title, (key, edges) in BINS.items():
        v = values[key]
        for low, high in itertools.pairwise(edges):
            sel = (v >= low) & (v < high)
            label = f"{title} {low:g}–{high:g}" if np.isfinite(high) else f"{title} ≥ {low:g}"
            label = label.replace("|", "\\|")  # a bare | would split the Markdown cell
            m = int(sel.sum())
            lines.append(
                f"| {label} | {m:,} | {_pct((lost[sel] == 'found').sum(), m)} | "
                + " | ".join(_pct((lost[sel] == c).sum(), m) for c in causes)
                + " |"
            )
    lines += [
        "",
        f"Found although not reachable after the GNN cut (stitching or the rescue pass took edges below it): "
        f"{rescued} targets ({_pct(rescued, n)}).",
        "",
        f"K1 graph: of {k1[0]:,} consecutive space-point pairs of particles with pT > 1 GeV, "
        f"{_pct(k1[1], k1[0])} lie beyond the radius and {_pct(k1[2], k1[0])} within it but "
        "beyond the k cap (each point keeps its `max_neighbours` nearest).",
        "",
    ]
    cause = np.concatenate([a.fake_cause for a in accounts])
    major = np.concatenate([a.fake_majority for a in accounts])
    candidates = sum(a.n_candidates for a in accounts)
    dropped = sum(a.fakes_dropped for a in accounts)
    lines += [
        f"Fakes: {cause.size:,} of {candidates:,} candidates ({_pct(cause.size, candidates)}); "
        f"the candidate-quality selection dropped {dropped:,} more "
        f"({_pct(dropped, cause.size + dropped)} of the fakes before it).",
        "",
        "| made by | " + " | ".join(f"largest share: {m}" for m in FAKE_MAJORITY) + " | all |",
        "| --- | " + " | ".join("---" for _ in FAKE_MAJORITY) + " | --- |",
    ]
    for c in FAKE_CAUSES:
        text = FAKE_TEXT[c]
        row = [_pct(((cause == c) & (major == m)).sum(), cause.size) for m in FAKE_MAJORITY]
        lines.append(
            f"| {text} | " + " | ".join(row) + f" | {_pct((cause == c).sum(), cause.size)} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events", help="event folder or file with truth")
    parser.add_argument("--bundle", default=None, help="model bundle (default: the shipped one)")
    parser.add_argument("--out", default="benchmarks/results/loss_breakdown.md")
    parser.add_argument("--max-events", type=int, default=None)
    args = parser.parse_args()

    import torch

    pipeline = Pipeline(args.bundle, device="cpu")
    cfg = pipeline.config
    accounts = []
    k1 = np.zeros(3, np.int64)
    for i, event in enumerate(open_events([args.events])):
        if args.max_events is not None and i >= args.max_events:
            break
        t0 = time.perf_counter()
        features = event.features()
        scored = pipeline.run_scores(features, keep_graph=True)
        with torch.inference_mode():
            latent = pipeline.bundle.embedding(torch.from_numpy(features)).numpy()
        above = scored.edges[:, scored.scores > cfg.gnn_cut]
        stage_edges = {"graph": scored.graph_edges, "filter": scored.edges, "gnn_cut": above}
        # the candidates before the quality selection: a target they matched and the final
        # ones do not is charged to the selection
        unselected = None
        if scored.quality is not None:
            unselected = replace(scored, quality=None).labels_at()
        final = scored.labels_at()
        accounts.append(
            account_event(event, stage_edges, scored.pieces_at(), final, before_quality=unselected)
        )
        k1 += k1_misses(event, scored.graph_edges, latent, cfg.radius)
        print(f"event {event.event_id}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    bundle = args.bundle or "shipped default"
    command = " ".join(["python benchmarks/loss_breakdown.py", *sys.argv[1:]])
    text = header(command) + render(accounts, k1, bundle, args.events)
    Path(args.out).write_text(text)
    Path(args.out).with_suffix(".json").write_text(
        json.dumps(
            {
                "source": args.events,
                "bundle": bundle,
                "targets": {
                    c: int(sum((a.lost_at == c).sum() for a in accounts))
                    for c in ("found", *STAGES, *LOSS_CAUSES)
                },
                "fakes": {
                    "final": int(sum(a.fake_cause.size for a in accounts)),
                    "dropped_by_quality": int(sum(a.fakes_dropped for a in accounts)),
                },
                "k1_pairs": {"pairs": int(k1[0]), "beyond_radius": int(k1[1]), "k_cap": int(k1[2])},
            },
            indent=1,
        )
        + "\n"
    )
    print(text)


if __name__ == "__main__":
    main()
