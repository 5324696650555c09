#!/usr/bin/env python3
"""An ACTS full chain with acts-gnn as its track finder, locally or on a Triton server.

Fatras simulation → digitisation → space points → ``GnnTrackFinding`` → ACTS seeding and
parameter estimation → ACTS Kalman fit → ACTS truth matching and performance — then ACTS's
efficiency and fake rate printed next to acts-gnn's own evaluation of the same proto-tracks
(the definitions differ: see ``acts_gnn/acts/chain.py``).

    python examples/acts_full_chain.py --pileup 5 --signal 20
    python examples/acts_full_chain.py --url localhost:8001 --model gnn_tracking_walk
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from acts_gnn.acts.chain import ChainConfig, run_chain
from acts_gnn.errors import ActsGnnError


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1)
    parser.add_argument("--pileup", type=float, default=5.0, help="mean pile-up vertices")
    parser.add_argument("--signal", type=int, default=20, help="extra particle-gun particles")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--model", default="gnn_tracking", help="served backend name")
    parser.add_argument("--url", action="append", default=[], help="Triton server host:port")
    parser.add_argument("--bundle", type=Path, default=None, help="model bundle (local runs)")
    parser.add_argument("--device", default=None, help="cpu or cuda (local runs; default cpu)")
    parser.add_argument("--min-size", type=int, default=3)
    parser.add_argument(
        "--double-matching",
        action="store_true",
        help="ACTS matching also asks for half of the particle's measurements (as acts-gnn)",
    )
    args = parser.parse_args()
    try:
        result = _run(args)
    except ActsGnnError as error:  # a dead server, a bad bundle: one line, as the CLI says it
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    _print(args, result)
    return 0


def _run(args: argparse.Namespace):
    return run_chain(
        ChainConfig(
            events=args.events,
            pileup=args.pileup,
            signal=args.signal,
            seed=args.seed,
            model=args.model,
            url=tuple(args.url),
            bundle=args.bundle,
            device=args.device,
            min_size=args.min_size,
            double_matching=args.double_matching,
        )
    )


def _print(args: argparse.Namespace, result) -> None:
    where = ", ".join(args.url) if args.url else "local"
    print(
        f"\nACTS full chain, {args.model} ({where}), {args.events} event(s), {result.wall_s:.1f} s"
    )
    print(
        f"space points {result.n_spacepoints:,}; proto-tracks {result.n_prototracks} "
        f"({result.finder_seconds:.2f} s in GnnTrackFinding); seeded {result.n_seeded}; "
        f"Kalman-fitted {result.n_fitted}; ACTS-selected particles {result.n_selected_particles}"
    )
    print(f"\n{'':<28}{'efficiency':>11}{'fake rate':>11}{'duplicates':>11}")
    for name, stats in (
        ("ACTS, proto-tracks", result.acts_finder),
        ("ACTS, Kalman tracks", result.acts_kalman),
    ):
        print(
            f"{name:<28}{stats['efficiencyParticles']:>11.3f}{stats['fakeRatioTracks']:>11.3f}"
            f"{stats['duplicateRatioTracks']:>11.3f}"
        )
    ours = result.acts_gnn
    print(
        f"{'acts-gnn evaluate, proto':<28}{ours['efficiency']:>11.3f}{ours['fake_rate']:>11.3f}"
        f"{ours['duplicate_rate']:>11.3f}   (TrackML score {ours['trackml_score']:.3f})"
    )


if __name__ == "__main__":
    raise SystemExit(main())
