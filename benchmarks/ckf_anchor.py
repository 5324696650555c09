"""The classical anchor: ACTS's seeding + CKF + greedy ambiguity resolution, scored by acts-gnn.

    python benchmarks/ckf_anchor.py EVENTS_DIR --pileup 200 --seed 3000 --events 4 [--json FILE]

EVENTS_DIR holds events written by ``acts-gnn simulate -o EVENTS_DIR --pileup P --seed S
--events N`` (give the same options, and ``--signal``/``--jets``/``--jet-particles``/``--noise``/
``--particles-from`` where they were not the defaults). The events are simulated again with
those settings in one ACTS Sequencer that then runs ACTS's reconstruction
(:mod:`acts_gnn.acts.ckf`), single-threaded; the space points of every event are checked against
EVENTS_DIR (count, order, positions) before the tracks are scored with acts-gnn's own
definitions (``PerformanceAccumulator``, ``MatchingConfig`` defaults, minimum candidate sizes 3
and 5). Prints the efficiency, fake and duplicate rates and the CPU seconds per event of the
reconstruction algorithms. ``ckf_anchor`` is the same for ``bench.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from acts_gnn.acts.ckf import run_ckf  # noqa: E402
from acts_gnn.acts.pileup import PileupModel  # noqa: E402
from acts_gnn.acts.simulate import SimulationConfig  # noqa: E402
from acts_gnn.acts.tables import table_paths  # noqa: E402
from acts_gnn.errors import ActsGnnError, ConfigError  # noqa: E402
from acts_gnn.io.source import open_events  # noqa: E402
from acts_gnn.metrics.matching import MatchingConfig  # noqa: E402
from acts_gnn.metrics.performance import PerformanceAccumulator, PerformanceReport  # noqa: E402


def ckf_anchor(
    events_dir: Path, config: SimulationConfig, threads: int = 1
) -> tuple[dict, PerformanceReport, dict[int, np.ndarray]]:
    """Run the CKF on ``config``'s events, check them against ``events_dir`` and score them.

    Returns ``(summary, report, labels)``: a JSON-ready summary (rates, seconds), acts-gnn's
    performance report, and the labels per event id (aligned with the events of ``events_dir``).

    Raises:
        ConfigError: ``events_dir`` does not hold the events ``config`` makes.
    """
    on_disk = {event.event_id: event for event in open_events([events_dir])}
    start = time.perf_counter()
    found = run_ckf(config, threads=threads)
    wall_s = time.perf_counter() - start
    accumulator = PerformanceAccumulator(MatchingConfig(), (3, 5))
    for ckf in found:
        event = on_disk.get(ckf.event_id)
        if event is None:
            raise ConfigError(f"{events_dir}: no event {ckf.event_id}; simulate more --events")
        if len(event) != len(ckf.labels) or not all(
            np.array_equal(getattr(event.spacepoints, name), getattr(ckf.spacepoints, name))
            for name in ("measurement_id", "x", "y", "z")
        ):
            raise ConfigError(
                f"{events_dir}: event {ckf.event_id} has {len(event)} space points, the "
                f"simulation {len(ckf.labels)} (or they differ); give the options the events "
                "were simulated with"
            )
        accumulator.add(event, ckf.labels)
    report = accumulator.report()
    seconds = [ckf.seconds for ckf in found]
    summary = {
        "events": len(found),
        "pileup": config.model.pileup,
        "seed": config.seed,
        "threads": threads,
        "spacepoints_per_event": float(np.mean([len(ckf.labels) for ckf in found])),
        "tracks_per_event": float(np.mean([ckf.n_tracks for ckf in found])),
        "cpu_s_per_event": float(np.mean(seconds)),
        "cpu_s_per_event_max": float(np.max(seconds)),
        "wall_s_simulation_and_reconstruction": wall_s,
        "performance": json.loads(report.to_json()),  # NaN as null
    }
    return summary, report, {ckf.event_id: ckf.labels for ckf in found}


def add_simulation_options(parser: argparse.ArgumentParser) -> None:
    """The options of ``acts-gnn simulate`` that made the events, with its defaults."""
    parser.add_argument("events_dir", type=Path, help="events written by acts-gnn simulate")
    parser.add_argument("--pileup", type=float, default=200.0)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--signal", type=int, default=25)
    parser.add_argument("--jets", type=int, default=0)
    parser.add_argument("--jet-particles", type=float, default=20.0)
    parser.add_argument("--noise", type=float, default=0.0)
    parser.add_argument("--displaced", type=float, default=0.0)
    parser.add_argument("--jet-decays", type=float, default=0.0)
    parser.add_argument("--particles-from", type=Path, help="particle tables, as simulate's")


def simulation_config(args: argparse.Namespace) -> SimulationConfig:
    """The :class:`SimulationConfig` of :func:`add_simulation_options`' options.

    Raises:
        InputFormatError: ``--particles-from`` holds no particle table.
    """
    return SimulationConfig(
        events=args.events,
        seed=args.seed,
        model=PileupModel(
            pileup=args.pileup,
            signal_particles=args.signal,
            jets=args.jets,
            jet_particles_mean=args.jet_particles,
            displaced_fraction=args.displaced,
            jet_decay_fraction=args.jet_decays,
        ),
        noise_fraction=args.noise,
        particle_tables=tuple(table_paths(args.particles_from)) if args.particles_from else (),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_simulation_options(parser)
    parser.add_argument("--json", type=Path, help="also write the summary here")
    args = parser.parse_args()
    from rich.console import Console

    console = Console()
    try:
        summary, report, _labels = ckf_anchor(args.events_dir, simulation_config(args))
    except ActsGnnError as exc:
        console.print(f"ckf_anchor: {exc}", markup=False, style="red")
        raise SystemExit(exc.exit_code) from None
    console.print(report.table())
    s = summary
    console.print(
        f"ACTS seeding + CKF + greedy ambiguity resolution, 1 thread, μ = {args.pileup:g}: "
        f"{s['cpu_s_per_event']:.2f} CPU s per event (max {s['cpu_s_per_event_max']:.2f}; "
        f"reconstruction algorithms only), {s['tracks_per_event']:.0f} tracks and "
        f"{s['spacepoints_per_event']:.0f} space points per event; "
        f"{s['wall_s_simulation_and_reconstruction']:.1f} s wall for simulation + reconstruction",
        markup=False,
    )
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
