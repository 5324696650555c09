"""acts-gnn and ACTS's seeding + CKF on the same events, by pT, |η| and production radius.

    python benchmarks/beside_ckf.py EVENTS_DIR --seed S --events N [simulate's options]
        [--bundle DIR] [--out FILE.md]

EVENTS_DIR holds events written by ``acts-gnn simulate`` with the options given here (as for
``benchmarks/ckf_anchor.py``, which runs the CKF on the same events and checks them). The GNN
runs with the default thread count; the CKF single-threaded, as ACTS's examples run it. Both are
scored with acts-gnn's own definitions (targets pT > 1 GeV, |η| < 4, production radius < 260 mm,
≥ 3 space points; candidates ≥ 3 space points, double majority), overall and per bin of pT,
|η| and production radius. The Markdown table goes to ``--out`` and to stdout.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from acts_gnn.cpus import machine  # noqa: E402
from acts_gnn.errors import ActsGnnError  # noqa: E402
from acts_gnn.gnn.pipeline import Pipeline  # noqa: E402
from acts_gnn.io.source import open_events  # noqa: E402
from acts_gnn.metrics.matching import match_event  # noqa: E402
from benchmarks.ckf_anchor import add_simulation_options, ckf_anchor, simulation_config  # noqa: E402

#: (row name, which targets: f(pt, |η|, production radius))
BINS = (
    ("pT 1–2 GeV", lambda pt, eta, r: (pt >= 1) & (pt < 2)),
    ("pT 2–5 GeV", lambda pt, eta, r: (pt >= 2) & (pt < 5)),
    ("pT 5–10 GeV", lambda pt, eta, r: (pt >= 5) & (pt < 10)),
    ("pT ≥ 10 GeV", lambda pt, eta, r: pt >= 10),
    ("\\|η\\| < 1", lambda pt, eta, r: eta < 1),
    ("\\|η\\| 1–2.5", lambda pt, eta, r: (eta >= 1) & (eta < 2.5)),
    ("\\|η\\| 2.5–4", lambda pt, eta, r: eta >= 2.5),
    ("production radius < 1 mm", lambda pt, eta, r: r < 1),
    ("production radius 1–10 mm", lambda pt, eta, r: (r >= 1) & (r < 10)),
    ("production radius 10–260 mm", lambda pt, eta, r: r >= 10),
)


def score(events: list, labels: dict[int, np.ndarray]) -> dict:
    """Efficiency, fake and duplicate rates, and the efficiency of every bin of :data:`BINS`
    (found, targets)."""
    found = {name: [0, 0] for name, _ in BINS}
    totals = dict.fromkeys(("targets", "found", "candidates", "fakes", "duplicates"), 0)
    for event in events:
        match = match_event(event.event_id, event.spacepoints, event.truth, labels[event.event_id])
        particles = event.truth.particles
        rows = particles.index_of(match.target_ids)
        radius = np.hypot(particles.vx[rows], particles.vy[rows])
        for name, keep in BINS:
            chosen = keep(match.target_pt, np.abs(match.target_eta), radius)
            found[name][0] += int(match.target_matched[chosen].sum())
            found[name][1] += int(chosen.sum())
        totals["targets"] += match.n_targets
        totals["found"] += match.n_matched_targets
        totals["candidates"] += match.n_tracks
        totals["fakes"] += match.n_tracks - match.n_matched_tracks
        totals["duplicates"] += match.n_duplicates
    return {"totals": totals, "bins": found}


def table(scores: dict[str, dict], seconds: dict[str, str]) -> str:
    """The Markdown table: one column per finder."""
    names = list(scores)

    def share(a: int, b: int) -> str:
        return f"{100 * a / b:.1f}% ({a:,}/{b:,})" if b else "–"

    lines = ["| | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names)]
    t = {name: scores[name]["totals"] for name in names}
    rows = [
        ("efficiency", [share(t[n]["found"], t[n]["targets"]) for n in names]),
        ("fake rate", [share(t[n]["fakes"], t[n]["candidates"]) for n in names]),
        ("duplicate rate", [share(t[n]["duplicates"], t[n]["candidates"]) for n in names]),
    ]
    rows += [
        (bin_name, [share(*scores[n]["bins"][bin_name]) for n in names]) for bin_name, _ in BINS
    ]
    rows.append(("CPU time per event", [seconds[n] for n in names]))
    lines += [f"| {row} | " + " | ".join(values) + " |" for row, values in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_simulation_options(parser)
    parser.add_argument("--bundle", type=Path, help="model bundle (default: the shipped one)")
    parser.add_argument("--out", type=Path, help="also write the Markdown here")
    args = parser.parse_args()
    try:
        config = simulation_config(args)
        events = list(open_events([args.events_dir]))
        pipeline = Pipeline(args.bundle)
        gnn_labels, gnn_s = {}, []
        for event in events:
            start = time.perf_counter()
            gnn_labels[event.event_id] = pipeline.run(event.features()).labels
            gnn_s.append(time.perf_counter() - start)
            print(f"acts-gnn: event {event.event_id} {gnn_s[-1]:.2f} s", file=sys.stderr)
        summary, _report, ckf_labels = ckf_anchor(args.events_dir, config)
    except ActsGnnError as exc:
        raise SystemExit(f"beside_ckf: {exc}") from None
    bundle = args.bundle or "shipped default"
    scores = {
        f"acts-gnn ({bundle})": score(events, gnn_labels),
        "ACTS seeding + CKF": score(events, ckf_labels),
    }
    seconds = dict(
        zip(
            scores,
            (
                f"{np.mean(gnn_s[1:] or gnn_s):.2f} s wall (default threads; first event left out)",
                f"{summary['cpu_s_per_event']:.2f} CPU s (1 thread)",
            ),
            strict=True,
        )
    )
    text = (
        "# acts-gnn beside ACTS's seeding + CKF\n\n"
        f"`python benchmarks/beside_ckf.py {shlex.join(sys.argv[1:])}` on {machine()}, "
        f"{time.strftime('%Y-%m-%d')}.\n\n"
        f"Events: {args.events_dir} ({len(events)} events). Targets: pT > 1 GeV, |η| < 4, "
        "production radius < 260 mm, ≥ 3 space points; candidates ≥ 3 space points, double "
        "majority (as `acts-gnn evaluate`). Each cell: efficiency (found / targets), or the "
        "rate (of the candidates).\n\n" + table(scores, seconds) + "\n"
    )
    print(text)
    if args.out is not None:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
