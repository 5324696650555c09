"""Entry point of the ``acts-gnn`` command: builds the typer app and turns errors into one line.

Layer: cli.
"""

from __future__ import annotations

import sys

import typer

from acts_gnn.cli import benchmark, evaluate, export_repo, reconstruct, serve, simulate, train

__all__ = ["app", "main"]

app = typer.Typer(
    name="acts-gnn",
    help=(
        "GNN track finding for ACTS: read hit files, find track candidates locally or on a "
        "Triton server, write tracks and timing, and score them against truth."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)
app.command("reconstruct", no_args_is_help=True)(reconstruct.command)
app.command("evaluate", no_args_is_help=True)(evaluate.command)
app.command("simulate", no_args_is_help=True)(simulate.command)
app.command("train", no_args_is_help=True)(train.command)
app.command("serve")(serve.command)
app.command("export-repo", no_args_is_help=True)(export_repo.command)
app.command("benchmark", no_args_is_help=True)(benchmark.command)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code; library errors become one ``acts-gnn: error:`` line."""
    from acts_gnn.errors import ActsGnnError

    try:
        app(args=argv, prog_name="acts-gnn")
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except ActsGnnError as exc:
        typer.echo(f"acts-gnn: error: {exc}", err=True)
        return exc.exit_code
    return 0


def _console_main() -> None:
    sys.exit(main())


if __name__ == "__main__":
    _console_main()
