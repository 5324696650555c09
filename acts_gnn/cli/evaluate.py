"""``acts-gnn evaluate``: score track candidates against truth.

Layer: cli.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from acts_gnn.cli._common import BranchOption, inputs_or_example, layout_options
from acts_gnn.cli._console import make_console


def command(
    tracks: Annotated[
        Path,
        typer.Argument(
            metavar="TRACKS",
            help="Tracks ROOT file or directory of proto-track CSV files.",
            show_default=False,
        ),
    ],
    truth: Annotated[
        list[Path] | None,
        typer.Option(
            "--truth",
            "-t",
            help="The events the tracks were made from, with truth (files, prefixes, "
            "directories); one -t per input.",
            show_default=False,
        ),
    ] = None,
    example: Annotated[
        bool, typer.Option(help="Take the truth from the example event shipped with acts-gnn.")
    ] = False,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the performance report as JSON.")
    ] = None,
    plots: Annotated[
        Path | None, typer.Option(help="Directory for efficiency / fake-rate PNG plots.")
    ] = None,
    min_pt: Annotated[float, typer.Option(help="Target particles: minimum pT [GeV].")] = 1.0,
    max_eta: Annotated[float, typer.Option(help="Target particles: maximum |η|.")] = 4.0,
    max_vertex_r: Annotated[
        float, typer.Option(help="Target particles: maximum production radius [mm].")
    ] = 260.0,
    min_particle_sp: Annotated[
        int, typer.Option(help="Target particles: minimum number of space points.")
    ] = 3,
    min_track_sp: Annotated[
        list[int] | None,
        typer.Option(help="Minimum candidate sizes to report (default: 3 and 5)."),
    ] = None,
    input_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="Format of the truth inputs: acts-csv, trackml, root or npz (default: detect).",
        ),
    ] = None,
    root_preset: Annotated[
        str,
        typer.Option(help="ROOT branch layout of the inputs: spacepoints or hits (ACTS writers)."),
    ] = "spacepoints",
    tree: Annotated[
        str | None, typer.Option(help="ROOT tree name of the inputs, overriding the preset.")
    ] = None,
    branch: BranchOption = None,
    force: Annotated[
        bool, typer.Option(help="Replace an existing JSON report and existing plots.")
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="No progress, table or messages (files are still written)."
        ),
    ] = False,
) -> None:
    """Efficiency, fake rate, duplicate rate (double majority) and the TrackML score."""
    from acts_gnn.cli._progress import event_progress
    from acts_gnn.io.source import open_events
    from acts_gnn.metrics.evaluate import (
        evaluate_tracks,
        refuse_report_over_inputs,
        write_report_files,
    )
    from acts_gnn.metrics.matching import MatchingConfig

    inputs = inputs_or_example(  # refused first, before the outputs
        truth,
        example,
        missing="no truth: give the events the tracks were made from with --truth/-t "
        "(one -t per input), or --example",
    )
    _check_outputs(json_out, plots, force)
    config = MatchingConfig(
        min_pt_gev=min_pt,
        max_abs_eta=max_eta,
        max_vertex_r_mm=max_vertex_r,
        min_particle_spacepoints=min_particle_sp,
    )
    source = open_events(inputs, **layout_options(input_format, root_preset, tree, branch))
    source.check_tables()  # a malformed file among many: before the events before it
    refuse_report_over_inputs(json_out, tracks, source)
    console = make_console(stderr=True, quiet=quiet)  # the table on stdout, the rest stderr
    with event_progress(console, len(source), "evaluate") as advance:
        report = evaluate_tracks(tracks, source, config, tuple(min_track_sp or (3, 5)), advance)
    make_console(quiet=quiet).print(report.table())
    for path in write_report_files(report, json_out, plots):  # all or none
        console.print(f"wrote {path}")
    for warning in (report.no_targets_warning(), report.unscored_warning()):
        if warning is not None:  # said even with --quiet
            typer.echo(f"acts-gnn: warning: {warning}", err=True)


def _check_outputs(json_out: Path | None, plots: Path | None, force: bool) -> None:
    """Refuse, before any work, outputs that exist (without ``force``), cannot be written, or
    are one another (the report among the plots, or in place of their directory)."""
    from acts_gnn.errors import ConfigError
    from acts_gnn.io.atomic import check_output

    if json_out is not None:
        check_output(json_out, overwrite=force)
    if plots is None:  # a directory (made if missing)
        return
    from acts_gnn.metrics.plots import PLOT_FILES

    paths = [plots / name for name in PLOT_FILES]
    if json_out is not None and json_out.resolve() in {p.resolve() for p in (plots, *paths)}:
        raise ConfigError(f"--json {json_out} is --plots {plots} or one of its plots")
    for path in paths:
        check_output(path, overwrite=force)
