"""``acts-gnn reconstruct``: find track candidates in event files and write them.

Layer: cli.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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


def command(
    inputs: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="INPUTS",
            help="Event files, event prefixes (dir/event000001000), directories or ROOT files.",
            show_default=False,
        ),
    ] = None,
    example: Annotated[
        bool, typer.Option(help="Use the example event shipped with acts-gnn as input.")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Tracks ROOT file to write (TTrees tracks, timing)."),
    ] = None,
    csv_dir: Annotated[
        Path | None,
        typer.Option(help="Directory for ACTS proto-track CSV files (one per event)."),
    ] = None,
    timing: Annotated[Path | None, typer.Option(help="Timing report JSON to write.")] = None,
    performance: Annotated[
        Path | None,
        typer.Option(help="Performance report JSON to write (inputs with truth only)."),
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option(
            help="Track finder: 'gnn' (the default: the pipeline with its bundle's track "
            "building, walkthrough for the shipped model), 'gnn_walk' (walkthrough), "
            "'gnn_components' (connected components only), 'unrolling' (classical baseline) or "
            "'truth' (groups space points by true particle); served names (gnn_tracking, …) "
            "and $ACTS_GNN_FINDERS plug-ins too."
        ),
    ] = None,
    bundle: Annotated[
        Path | None, typer.Option(help="Model bundle directory (default: the shipped model).")
    ] = None,
    max_neighbours: Annotated[
        int | None,
        typer.Option(
            help="GNN backends: K1 neighbours per space point (default: the bundle's, 128 for the "
            "shipped model, as it was trained; 64 takes about 0.8 of the time and finds 0.2 "
            "point fewer targets at μ = 200, 0.9 fewer in jets)."
        ),
    ] = None,
    precision: PrecisionOption = None,
    url: Annotated[
        list[str] | None,
        typer.Option(help="Triton server HOST:PORT (several: failover); runs remotely."),
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="With --url: served model name (default: gnn_tracking).")
    ] = None,
    protocol: Annotated[
        str | None, typer.Option(help="With --url: grpc or http (default: grpc).")
    ] = None,
    timeout_s: Annotated[
        float | None, typer.Option(help="With --url: per-request timeout in s (default: 60).")
    ] = None,
    retries: Annotated[
        int | None,
        typer.Option(
            help="With --url: further rounds over all servers when none answered (timeouts and "
            "unreachable servers are tried again; refused requests are not) (default: 2)."
        ),
    ] = None,
    backoff_s: Annotated[
        float | None,
        typer.Option(
            "--backoff",
            help="With --url: seconds before the first retry round, doubled each round up to "
            "30 s (default: 0.5).",
        ),
    ] = None,
    fallback_local: Annotated[
        bool,
        typer.Option(
            help="With --url: run an event locally when no server answers it or a server "
            "refuses it (over its --max-spacepoints); never for an unknown model or the "
            "wrong protocol. It runs the served model's twin here (gnn_tracking: gnn), or "
            "--backend."
        ),
    ] = False,
    tls_root_cert: Annotated[
        Path | None,
        typer.Option(help="With --url: trust this PEM certificate and use gRPC over TLS."),
    ] = None,
    concurrency: Annotated[
        int,
        typer.Option(
            help="With --url: events in flight at once (requests overlap on the servers; "
            "output order stays the input order)."
        ),
    ] = 1,
    device: Annotated[
        str | None,
        typer.Option(
            help="cpu, cuda, cuda:N or auto (default: $ACTS_GNN_DEVICE, else auto: CUDA where "
            "torch sees a GPU)."
        ),
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(
            help="CPU threads for local track finding (default: $ACTS_GNN_THREADS, else the "
            "CPUs this process may use: its affinity mask and cgroup CPU quota)."
        ),
    ] = None,
    input_format: FormatOption = None,
    root_preset: RootPresetOption = "spacepoints",
    tree: TreeOption = None,
    branch: BranchOption = None,
    force: Annotated[bool, typer.Option(help="Replace existing output files.")] = False,
    resume: Annotated[
        bool,
        typer.Option(
            help="Skip events whose proto-track CSV is already in --csv-dir (a previous, "
            "interrupted run); their tracks still go to -o and the performance report."
        ),
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="No progress, tables or messages (files are still written)."
        ),
    ] = False,
) -> None:
    """Find track candidates in every event and write tracks, timing and performance.

    With truth in the input, the tracking-performance table is printed as well.
    """
    from acts_gnn.api import reconstruct as api
    from acts_gnn.cpus import keep_freed_memory

    keep_freed_memory()  # event after event: each reuses the memory of the one before

    request = api.ReconstructRequest(
        inputs=api.InputRequest(
            paths=tuple(inputs_or_example(inputs, example)),
            **layout_options(input_format, root_preset, tree, branch),
        ),
        outputs=api.ReconstructionOutputs(
            tracks_root=output,
            tracks_csv_dir=csv_dir,
            timing_json=timing,
            performance_json=performance,
            overwrite=force,
            resume=resume,
        ),
        finder=api.FinderRequest(
            backend=backend,
            bundle=bundle,
            device=device,
            max_neighbours=max_neighbours,
            precision=precision,
            urls=tuple(url or ()),
            model=model,
            protocol=protocol,
            timeout_s=timeout_s,
            retry=_retry_policy(api.RetryPolicy, retries, backoff_s),
            fallback_local=fallback_local,
            tls_root_cert=tls_root_cert,
        ),
        threads=threads,
        concurrency=concurrency,
    )
    _report(request, api.prepare(request), quiet)


def _retry_policy(policy, retries: int | None, backoff_s: float | None):
    """The retry policy the options give, or None when neither was given (the default)."""
    if retries is None and backoff_s is None:
        return None
    default = policy()
    return policy(
        default.retries if retries is None else retries,
        default.backoff_s if backoff_s is None else backoff_s,
    )


def _report(request, job, quiet: bool) -> None:
    """Run the prepared job with a progress bar, then print its tables and what it wrote."""
    from acts_gnn.cli._progress import event_progress
    from acts_gnn.gnn.pipeline import Pipeline

    console = make_console(stderr=True, quiet=quiet)
    for text in (job.threads_warning(), job.inputs_warning()):
        if text is not None:
            typer.echo(f"acts-gnn: warning: {text}", err=True)
    if isinstance(job.finder, Pipeline) and job.finder.compiles_first:
        console.print(
            "first use after installing: the first event compiles the CPU kernels once (about "
            "40 s on 2 cores); later runs load them from Numba's cache"
        )
    with event_progress(console, len(job.source), f"reconstruct ({job.finder.name})") as advance:
        summary = job.run(on_event=advance)
    if summary.resumed:
        csv_dir = request.outputs.tracks_csv_dir
        console.print(f"resumed: {summary.resumed} event(s) already in {csv_dir} were skipped")
    results = make_console(quiet=quiet)  # the tables on stdout, as evaluate's; the rest stderr
    if summary.timing.timings:
        results.print(summary.timing.table())
    if summary.performance is not None:
        results.print(summary.performance.table())
    for path in summary.written:
        console.print(f"wrote {path}")
    if summary.removed:  # --force: the folder now holds this run's events only (said with -q)
        csv_dir = request.outputs.tracks_csv_dir
        removed = f"removed {summary.removed} earlier run's event file(s) from {csv_dir}"
        typer.echo(removed, err=True)
    warnings = job.server_warnings()
    warning = summary.performance_warning(request.outputs.performance_json is not None)
    # said even with --quiet: an output asked for is missing or partial, a server failed
    for text in [*warnings, *([warning] if warning is not None else [])]:
        typer.echo(f"acts-gnn: warning: {text}", err=True)
