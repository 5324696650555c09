"""Option parsing shared by several commands.

Layer: cli.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from acts_gnn.errors import ConfigError

__all__ = [
    "BranchOption",
    "FormatOption",
    "PrecisionOption",
    "RootPresetOption",
    "TreeOption",
    "given_on_command_line",
    "inputs_or_example",
    "layout_options",
    "parse_mapping",
]

#: ``--precision`` of the commands that run the GNN models (reconstruct, serve, benchmark)
PrecisionOption = Annotated[
    str | None,
    typer.Option(
        help="GNN models: the filter's and the GNN's arithmetic — fp32 (default, as trained), "
        "tf32 (a GPU) or bf16 (a GPU; or a CPU with AVX-512 BF16: about 0.9 of fp32's time, "
        "held-out efficiency 0.04 point lower, fakes 0.02 point higher)."
    ),
]

#: ``--format``, ``--root-preset`` and ``--tree`` of the commands that read event files
#: (reconstruct, benchmark, train; evaluate words its own for truth inputs)
FormatOption = Annotated[
    str | None,
    typer.Option(
        "--format", help="Input format: acts-csv, trackml, root or npz (default: detect)."
    ),
]
RootPresetOption = Annotated[
    str, typer.Option(help="ROOT branch layout: spacepoints or hits (ACTS writers).")
]
TreeOption = Annotated[str | None, typer.Option(help="ROOT tree name, overriding the preset.")]

#: ``--branch`` of the commands that read ROOT event files (reconstruct, evaluate, benchmark,
#: train)
BranchOption = Annotated[
    list[str] | None,
    typer.Option(
        help="ROOT branch mapping KEY=BRANCH, e.g. x=tx; KEY: x, y, z, event_id, "
        "measurement_id, measurement_id_2, geometry_id, particle_id, tree, "
        "barcode_vertex_primary, barcode_vertex_secondary, barcode_particle, "
        "barcode_generation, barcode_sub_particle."
    ),
]


def parse_mapping(items: list[str] | None, option: str) -> dict[str, str]:
    """Turn ``["key=value", …]`` into a dict; a malformed item raises :class:`ConfigError`."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise ConfigError(f"{option} expects KEY=NAME, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def layout_options(
    input_format: str | None, root_preset: str, tree: str | None, branch: list[str] | None
) -> dict:
    """``--format``, ``--root-preset``, ``--tree`` and ``--branch`` as
    :func:`~acts_gnn.io.source.open_events`'s keyword arguments."""
    return {
        "format": input_format,
        "root_preset": root_preset,
        "root_tree": tree,
        "root_branches": parse_mapping(branch, "--branch"),
    }


def inputs_or_example(
    inputs: list[Path] | None,
    example: bool,
    missing: str = "no input: give event files or directories, or --example",
) -> list[Path]:
    """The given paths, plus the embedded example event with ``example``; none is an error,
    ``missing`` its message."""
    from acts_gnn.io.example import example_dir

    paths = list(inputs or [])
    if example:
        paths.append(example_dir())
    if not paths:
        raise ConfigError(missing)
    return paths


def given_on_command_line(ctx: typer.Context, names: tuple[str, ...]) -> list[str]:
    """The options among ``names`` (parameter names) that the command line gave, as
    ``--option-name``: those with a default cannot tell it by their value."""
    return [
        "--" + name.replace("_", "-")
        for name in names
        if getattr(ctx.get_parameter_source(name), "name", "") == "COMMANDLINE"
    ]
