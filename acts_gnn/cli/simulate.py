"""``acts-gnn simulate``: pile-up events with real ACTS (Fatras), written as ACTS CSV.

Layer: cli.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from acts_gnn.cli._common import given_on_command_line
from acts_gnn.cli._console import make_console, native_output_to_stderr


def command(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("--output", "-o", help="Directory for the events.")],
    events: Annotated[int, typer.Option(help="Number of events.")] = 1,
    pileup: Annotated[float, typer.Option(help="Mean number of pile-up collisions μ.")] = 200.0,
    seed: Annotated[
        int, typer.Option(help="Random seed; the same seed gives identical files.")
    ] = 1,
    signal: Annotated[
        int, typer.Option(help="Hard particles (μ/π, pT 1–100 GeV) added per event.")
    ] = 25,
    jets: Annotated[
        int,
        typer.Option(
            help="Collimated jets (50–300 GeV, |η| < 2.5) added per event on the first vertex: "
            "dense cores as in ttbar.",
        ),
    ] = 0,
    jet_particles: Annotated[
        float, typer.Option(help="Mean number of charged particles per jet.")
    ] = 20.0,
    jet_decays: Annotated[
        float,
        typer.Option(
            help="Fraction of the jets whose hardest 2 + Poisson(2) constituents start together "
            "from a b hadron's decay point on the jet axis (flight βγ·cτ, cτ = 0.47 mm): the "
            "collinear displaced tracks of b-jet cores.",
        ),
    ] = 0.0,
    hard_vertices: Annotated[
        int,
        typer.Option(
            help="Spread the --signal particles and --jets over this many vertices (i mod N) "
            "instead of the first: a training-data knob, so that high-pT tracks come from every "
            "z of the luminous region.",
        ),
    ] = 1,
    displaced: Annotated[
        float,
        typer.Option(
            help="Fraction of the particles that start 1–260 mm away from their vertex in r, "
            "as decay products in flight and conversions do (TrackML: 0.07 of the pT > 1 GeV "
            "particles): displaced tracks, which the pile-up model alone never makes.",
        ),
    ] = 0.0,
    noise: Annotated[
        float, typer.Option(help="Fraction of noise space points to add (TrackML: ~0.17).")
    ] = 0.0,
    stop: Annotated[
        float,
        typer.Option(
            help="Fraction of the particles that stop early, as if they had interacted "
            "(Fatras makes no hadronic interactions): each keeps its space points up to a "
            "random one along its path. A training-data knob: tracks that end early.",
        ),
    ] = 0.0,
    regions: Annotated[
        float,
        typer.Option(
            help="Fraction of the events that keep one detector region only (the barrel, or "
            "one side's endcaps), as when a region is read out alone: tracks that start or "
            "end at its edge. A training-data knob.",
        ),
    ] = 0.0,
    particles_from: Annotated[
        Path | None,
        typer.Option(
            help="Simulate another generator's particles instead of the pile-up model: a "
            "folder of TrackML particle tables (eventNNN-particles.csv[.gz]), one per event in "
            "file-name order — e.g. ../shared/data/trackml/particles (Pythia8 ttbar + μ = 200 "
            "with Geant4's secondaries). The pile-up model's settings (--pileup, --signal, "
            "--jets, --displaced, --hard-vertices) are then refused.",
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            help="Processes simulating at once, each a run of consecutive events (the files "
            "are the same for any number). Default: one per CPU this process may use, at most "
            "one per event.",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            help="Replace the event files already in the output directory (removed only once "
            "the new events are simulated)."
        ),
    ] = False,
    compare_trackml: Annotated[
        Path | None,
        typer.Option(
            help="After simulating, compare with this TrackML folder (with particles/ and "
            "full_events/) and write histograms into OUTPUT/comparison.",
        ),
    ] = None,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="No progress or messages (files are still written)."),
    ] = False,
) -> None:
    """Simulate pile-up events: minimum-bias model (or --particles-from another generator's
    particle tables) → Fatras in 2 T → smeared hits → space points.

    Writes the current ACTS CSV layout (particles, hits, measurements, measurement-simhit map,
    space points), readable by every acts-gnn command. Needs pyacts (pip install
    'acts-gnn[acts]').
    """
    trackml = _refuse_before_simulating(ctx, particles_from, compare_trackml)
    from acts_gnn.acts.pileup import PileupModel
    from acts_gnn.acts.simulate import SimulationConfig, event_files, simulate
    from acts_gnn.acts.tables import table_paths
    from acts_gnn.cli._progress import event_progress
    from acts_gnn.cpus import available_cpus

    config = SimulationConfig(
        events=events,
        seed=seed,
        model=PileupModel(
            pileup=pileup,
            signal_particles=signal,
            jets=jets,
            jet_particles_mean=jet_particles,
            hard_vertices=hard_vertices,
            displaced_fraction=displaced,
            jet_decay_fraction=jet_decays,
        ),
        noise_fraction=noise,
        stop_fraction=stop,
        region_fraction=regions,
        particle_tables=tuple(table_paths(particles_from)) if particles_from else (),
    )
    console = make_console(stderr=True, quiet=quiet)
    what = f"simulate {particles_from.name}" if particles_from else f"simulate μ={pileup:g}"
    earlier = set(event_files(output)) if output.is_dir() else set()
    with event_progress(console, events, what) as advance, native_output_to_stderr():
        jobs = available_cpus() if jobs is None else jobs
        written = simulate(config, output, on_event=advance, jobs=jobs, overwrite=force)
    console.print(_wrote(written, events, output, len(earlier - set(written))))
    if compare_trackml is not None:
        from acts_gnn.acts.compare import compare_with_trackml

        comparison = compare_with_trackml(output, trackml)
        make_console(quiet=quiet).print(comparison.table())
        for path in comparison.plot(output / "comparison"):
            console.print(f"wrote {path}")


def _wrote(written: list, events: int, output: Path, removed: int) -> str:
    """What the run wrote, and the files of an earlier run's events it removed (--force)."""
    text = f"wrote {len(written)} files ({events} event{'s' * (events != 1)}) to {output}"
    if removed:
        text += (
            f"; removed {removed} file{'s' * (removed != 1)} of events an earlier run wrote there"
        )
    return text


def _refuse_before_simulating(ctx, particles_from, compare_trackml):
    """Refuse --pileup and --signal given with --particles-from, whose tables replace the
    pile-up model (the library refuses its other settings; these two have defaults); read the
    --compare-trackml folder (its sample, or None), so that a mistyped folder or a malformed file
    stops the run before any event is written."""
    from acts_gnn.errors import ConfigError

    given = given_on_command_line(ctx, ("pileup", "signal")) if particles_from is not None else []
    if given:
        raise ConfigError(
            f"{', '.join(given)}: settings of the pile-up model, which --particles-from replaces"
        )
    if compare_trackml is None:
        return None
    from acts_gnn.acts.compare import read_trackml_sample

    return read_trackml_sample(compare_trackml)
