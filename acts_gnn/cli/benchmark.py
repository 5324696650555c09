"""``acts-gnn benchmark``: throughput, latency and utilisation, local vs served.

Layer: cli.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from acts_gnn.cli._common import (
    BranchOption,
    FormatOption,
    PrecisionOption,
    RootPresetOption,
    TreeOption,
    inputs_or_example,
    layout_options,
)
from acts_gnn.cli._console import make_console

if TYPE_CHECKING:
    from acts_gnn.bench.sweep import SweepConfig


def _integers(text: str, option: str) -> tuple[int, ...]:
    from acts_gnn.errors import ConfigError

    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"{option} takes comma-separated integers, got {text!r}") from None
    if not values:
        raise ConfigError(f"{option} needs at least one value")
    return values


def command(
    inputs: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="INPUTS",
            help="Event files, event prefixes, directories or ROOT files (as for reconstruct).",
            show_default=False,
        ),
    ] = None,
    example: Annotated[bool, typer.Option(help="Use the shipped example event.")] = False,
    local: Annotated[bool, typer.Option(help="Measure the local pipeline.")] = False,
    url: Annotated[
        list[str] | None, typer.Option(help="A running server's gRPC HOST:PORT.")
    ] = None,
    metrics_url: Annotated[
        list[str] | None,
        typer.Option(help="Its metrics HOST:PORT, one per --url (for utilisation)."),
    ] = None,
    access_token: Annotated[
        str | None,
        typer.Option(
            envvar="ACTS_GNN_ACCESS_TOKEN",
            show_envvar=True,
            help="The --url servers' access token, for their statistics (queue/compute time).",
        ),
    ] = None,
    spawn: Annotated[
        bool, typer.Option(help="Start an acts-gnn serve per --instances value and measure it.")
    ] = False,
    model: Annotated[
        str,
        typer.Option(
            help="Served model (gnn_tracking, gnn_tracking_walk, gnn_tracking_components, "
            "unrolling_tracking, or null_tracking = serving overhead only, served only); "
            "--local runs its local twin."
        ),
    ] = "gnn_tracking",
    instances: Annotated[str, typer.Option(help="Instance counts for --spawn, e.g. 1,2,4.")] = "1",
    concurrency: Annotated[
        str, typer.Option(help="Requests in flight for served points, e.g. 1,2,4,8.")
    ] = "1,2,4",
    events: Annotated[int, typer.Option(help="Events measured per point.")] = 10,
    warmup: Annotated[
        int,
        typer.Option(help="Warm-up rounds run first and not counted (one event per instance)."),
    ] = 1,
    device: Annotated[
        str | None,
        typer.Option(
            help="cpu, cuda, cuda:N or auto, for a GNN model's --local and --spawn points "
            "(default: $ACTS_GNN_DEVICE, else cpu)."
        ),
    ] = None,
    precision: PrecisionOption = None,
    bundle: Annotated[
        Path | None, typer.Option(help="Model bundle, local and spawned (default: shipped).")
    ] = None,
    output_dir: Annotated[
        Path,
        typer.Option("--output-dir", "-o", help="Where benchmark.json, .md and the plots go."),
    ] = Path("bench-results"),
    export_perf_data: Annotated[
        Path | None,
        typer.Option(help="Also write the events as perf_analyzer --input-data JSON."),
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Replace existing results (-o's files, --export-perf-data).")
    ] = False,
    input_format: FormatOption = None,
    root_preset: RootPresetOption = "spacepoints",
    tree: TreeOption = None,
    branch: BranchOption = None,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet",
            "-q",
            help="No live view or messages (files are still written, the results table printed).",
        ),
    ] = False,
) -> None:
    """Measure track-finding throughput and latency: local, on running servers, or spawned ones.

    Per point: events/s, latency p50/p95/p99, client serialisation, the server's queue and
    compute time, CPU/GPU utilisation and per-stage times; written as JSON, a Markdown table and
    plots.
    """
    from acts_gnn.bench.report import markdown_table, write_perf_data, write_reports
    from acts_gnn.bench.sweep import SweepConfig, load_sweep_events
    from acts_gnn.cpus import keep_freed_memory
    from acts_gnn.interrupts import interrupts_held

    _check_outputs(output_dir, export_perf_data, force)
    if local:  # its local point runs event after event in this process
        keep_freed_memory()
    config = SweepConfig(
        model=model,
        local=local,
        urls=tuple(url or ()),
        metrics_urls=tuple(metrics_url or ()),
        spawn=spawn,
        instances=_integers(instances, "--instances"),
        concurrency=_integers(concurrency, "--concurrency"),
        n_events=events,
        warmup=warmup,
        device=device,
        precision=precision,
        bundle=bundle,
        access_token=access_token or None,
    )
    loaded = load_sweep_events(
        config,
        inputs_or_example(inputs, example),
        **layout_options(input_format, root_preset, tree, branch),
    )
    console = make_console(stderr=True, quiet=quiet)
    if export_perf_data is not None:
        console.print(f"wrote {write_perf_data(loaded, export_perf_data)}")
    points = _measure(config, loaded, console, output_dir)
    with interrupts_held():  # a Ctrl-C now waits until the measured points are written
        written = write_reports(points, output_dir)
    for path in written:
        console.print(f"wrote {path}")
    typer.echo(markdown_table(points))


def _measure(config: SweepConfig, loaded: list, console: Any, output_dir: Path) -> list:
    """The sweep's points; on Ctrl-C, the points finished so far are written (their reports
    say the sweep was interrupted) before the interruption goes on (exit code 130, also when
    they cannot be written: a line says so)."""
    from acts_gnn.bench.report import write_reports
    from acts_gnn.bench.sweep import run_sweep
    from acts_gnn.cli._progress import point_progress
    from acts_gnn.errors import ActsGnnError
    from acts_gnn.interrupts import interrupts_held

    points: list = []
    try:
        with point_progress(console) as (start, note):

            def finished(point) -> None:
                points.append(point)
                note(_point_line(point))

            run_sweep(config, loaded, on_point_start=start, on_point=finished)
    except KeyboardInterrupt:
        every = len(points) == config.n_points  # stopped after the last (a server's stop)
        if not points:
            console.print("interrupted before a point finished: no report was written")
        else:
            try:
                with interrupts_held():  # a second Ctrl-C waits for them too
                    kept = write_reports(points, output_dir, interrupted=not every)
                which = "all" if every else "the"
                console.print(
                    f"interrupted: {which} {len(points)} finished point(s) are in {kept[0]}"
                )
            except (ActsGnnError, OSError) as exc:
                console.print(f"interrupted: the finished points could not be written ({exc})")
        raise
    return points


def _check_outputs(output_dir: Path, perf_data: Path | None, force: bool) -> None:
    """Refuse, before any work, results that exist (without ``force``) or cannot be written."""
    from acts_gnn.bench.report import REPORT_FILES
    from acts_gnn.io.atomic import check_output

    for path in [output_dir / name for name in REPORT_FILES] + [perf_data] * bool(perf_data):
        check_output(path, overwrite=force)


def _point_line(point) -> str:
    """One measured point, as printed when it is done."""
    return (
        f"{point.mode} {point.finder} instances={point.instances or '–'} "
        f"c={point.concurrency}: {point.events_per_s:.3f} events/s, "
        f"p50 {point.latency_s(50) * 1000:.0f} ms"
    )
