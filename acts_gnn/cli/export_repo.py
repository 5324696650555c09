"""``acts-gnn export-repo``: a model repository for a standard Triton server.

Layer: cli.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from acts_gnn.cli._console import make_console


def command(
    directory: Annotated[
        Path | None,
        typer.Argument(
            metavar="DIRECTORY",
            help="Repository directory to write (or -o DIRECTORY, as the other commands take "
            "their outputs).",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Repository directory to write (or DIRECTORY)."),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option(
            help="Backends to export: gnn_tracking, gnn_tracking_walk, "
            "gnn_tracking_components, unrolling_tracking, null_tracking (default: "
            "gnn_tracking, gnn_tracking_walk and unrolling_tracking)."
        ),
    ] = None,
    bundle: Annotated[Path | None, typer.Option(help="Model bundle (default: shipped).")] = None,
    device: Annotated[
        str,
        typer.Option(
            help="cpu or cuda (cuda: --instances on each GPU the server sees, each instance on "
            "its own GPU; the filter and GNN run fp32)."
        ),
    ] = "cpu",
    instances: Annotated[int, typer.Option(help="Model instances per backend.")] = 1,
    max_spacepoints: Annotated[
        int, typer.Option(help="Refuse requests with more space points than this.")
    ] = 1_000_000,
    max_neighbours: Annotated[
        int | None,
        typer.Option(help="GNN models: K1 neighbours per space point (default: the bundle's)."),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            help="Replace an existing repository (its wheels are kept; a directory that holds "
            "anything else is never replaced)."
        ),
    ] = False,
) -> None:
    """Write a Triton model repository (config.pbtxt, Python-backend model.py, bundle).

    Serve it with NVIDIA's Triton container after installing acts-gnn inside it (acts-gnn is
    on no package index: build a wheel with `python -m build --wheel` and pip install that):
    tritonserver --model-repository DIRECTORY
    """
    from acts_gnn.triton.export import export_repository

    directory = _directory(directory, output)
    files = export_repository(
        directory,
        tuple(model or ("gnn_tracking", "gnn_tracking_walk", "unrolling_tracking")),
        bundle=bundle,
        device=device,
        instances=instances,
        max_spacepoints=max_spacepoints,
        max_neighbours=max_neighbours,
        overwrite=force,
    )
    kept = [f for f in files if f.parent == Path(directory) and f.suffix == ".whl"]
    also = f"; kept {len(kept)} wheel(s) there" if kept else ""
    make_console(stderr=True).print(f"wrote {len(files) - len(kept)} files to {directory}{also}")


def _directory(directory: Path | None, output: Path | None) -> Path:
    """The repository directory, given as the argument or with -o (one of them)."""
    from acts_gnn.errors import ConfigError

    if directory is not None and output is not None:
        raise ConfigError(f"DIRECTORY {directory} and -o {output}: give the repository once")
    if directory is None and output is None:
        raise ConfigError("no repository directory: give DIRECTORY or -o DIRECTORY")
    return directory if directory is not None else output
