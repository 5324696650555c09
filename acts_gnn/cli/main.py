"""Entry point of the ``acts-gnn`` command: builds the typer app and turns errors into one line.

Layer: cli.
"""

from __future__ import annotations

import os
import signal
import sys

import typer
from typer.core import TyperCommand, TyperGroup

from acts_gnn.cli import benchmark, evaluate, export_repo, reconstruct, serve, simulate, train
from acts_gnn.cli._console import silence_stdout

__all__ = ["app", "main"]


def _plain_metavars(params: list) -> list:
    """A flag (``--force``, ``--help``) takes no value: show no ``<bool>`` beside it; an option
    given once per value (``--train A --train B``) says so, and an argument that takes several
    values (``INPUTS``) shows ``<path>...``, not ``<list[Path]>``."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
        elif getattr(param, "multiple", False) and param.metavar is None:
            param.metavar = f"<{_item_type(param)}> (repeatable)"
        elif getattr(param, "param_type_name", "") == "argument" and param.nargs != 1:
            shown = f"<{_item_type(param)}>..."
            param.display_type_rich = lambda ctx, shown=shown: shown
    return params


def _item_type(param) -> str:
    """The type of one value of a parameter that takes several: ``path`` for ``list[Path]``."""
    bare = param.bare_type() if hasattr(param, "bare_type") else "list[value]"
    return bare.removeprefix("list[").removesuffix("]").lower()


def _raise_one_line(error: Exception, ctx, args: list[str]) -> None:
    """Raise a usage error of the command line's parser (an option's value that is not a number,
    an unknown option, a missing argument) as the one-line :class:`~acts_gnn.errors.ConfigError`
    every other refusal is, instead of the parser's usage block; other errors as they are.

    Recognised by class name: typer vendors its parser in some versions and uses click's in
    others. A command called with no arguments still prints its help.
    """
    from acts_gnn.errors import ConfigError

    names = {kind.__name__ for kind in type(error).__mro__}
    if "UsageError" not in names or "NoArgsIsHelpError" in names:
        raise error
    message = error.format_message()
    given = _value_given(getattr(error, "param", None), args)
    if "BadParameter" in names and given is not None:  # the parser's words do not repeat it
        kind = "a whole number" if "integer" in message else None
        kind = kind or ("a number" if "number" in message or "float" in message else None)
        if kind is not None:
            message = message.split(": ", 1)[0] + f": expected {kind}, got {given!r}"
    raise ConfigError(f"{message} (see {ctx.command_path} --help)") from error


def _value_given(param, args: list[str]) -> str | None:
    """What ``args`` gave the option ``param`` (its last value), if it can be told."""
    names = getattr(param, "opts", None) or []
    value = None
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                value = args[i + 1]
            elif arg.startswith(f"{name}="):
                value = arg.split("=", 1)[1]
    return value


class _OneLineUsageErrors:
    """What both kinds of command share: flags without a value placeholder, and the parser's
    usage errors as one line (:func:`_raise_one_line`)."""

    def get_params(self, ctx):
        return _plain_metavars(super().get_params(ctx))

    def parse_args(self, ctx, args):
        given = list(args)  # the parser consumes them
        if not isinstance(self, TyperGroup):  # a group's arguments are its command's
            _refuse_empty_paths(self.get_params(ctx), given)
        try:
            return super().parse_args(ctx, args)
        except Exception as error:
            _raise_one_line(error, ctx, given)


def _refuse_empty_paths(params: list, args: list[str]) -> None:
    """Refuse an empty path (``-o ""``, ``--csv-dir=``, an empty input): the parser takes it as
    the current directory, so an unset variable (``-o "$OUT"``) wrote there.

    Raises:
        ConfigError: an option taking a path, or an argument (every one is a path), given "".
    """
    from acts_gnn.errors import ConfigError

    paths = {}  # option name → whether it takes a path
    for param in params:
        if getattr(param, "param_type_name", "") == "option" and not param.is_flag:
            for name in param.opts:
                paths[name] = _item_type(param) == "path"
    for i, arg in enumerate(args):
        if arg == "--":
            return
        name, equals, value = arg.partition("=")
        empty_value = equals and not value and paths.get(name)
        if empty_value or (arg == "" and i and paths.get(args[i - 1])):
            option = name if empty_value else args[i - 1]
            raise ConfigError(f"{option}: an empty path (an unset variable?); give a path")
        if arg == "" and not (i and args[i - 1] in paths):
            raise ConfigError("an empty path among the arguments (an unset variable?); give a path")


class _Command(_OneLineUsageErrors, TyperCommand):
    pass


class _Group(_OneLineUsageErrors, TyperGroup):
    def resolve_command(self, ctx, args):
        try:
            return super().resolve_command(ctx, args)
        except Exception as error:  # "No such command"
            _raise_one_line(error, ctx, list(args))


def _version(show: bool) -> None:
    if show:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"acts-gnn {version('acts-gnn')}")
        except PackageNotFoundError:
            typer.echo("acts-gnn (not installed: version unknown)")
        raise typer.Exit()


app = typer.Typer(
    name="acts-gnn",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # help texts are plain text: "[mm]" or "[ms]" must never be read as rich markup
    rich_markup_mode=None,
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """GNN track finding for ACTS: read hit files, find track candidates locally or on a Triton
    server, write tracks and timing, and score them against truth."""


# each command's line in ``acts-gnn --help`` (whole: the first sentences of the commands' own
# help were cut mid-phrase there)
for _name, _module, _needs_args, _summary in (
    ("reconstruct", reconstruct, True, "Find track candidates; write tracks and timing."),
    ("evaluate", evaluate, True, "Score tracks against truth: efficiency, fakes."),
    ("simulate", simulate, True, "Simulate events with ACTS (Fatras) into CSV."),
    ("train", train, True, "Train the models and write a model bundle."),
    ("serve", serve, False, "Serve track finding on a Triton server."),
    ("export-repo", export_repo, True, "Write a model repository for Triton's container."),
    ("benchmark", benchmark, True, "Measure throughput and latency, local or served."),
):
    app.command(_name, no_args_is_help=_needs_args, cls=_Command, short_help=_summary)(
        _module.command
    )


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code; library errors become one ``acts-gnn: error:`` line.

    Exit codes: 0 done, 1 failed while running (or an internal error: one line, its traceback
    under ``ACTS_GNN_TRACEBACK``), 2 usage or input error (nothing done), 3 a server could not
    be reached, 130 interrupted (Ctrl-C), 143 and 129 stopped by SIGTERM and SIGHUP (see
    :mod:`acts_gnn.errors`).
    """
    from acts_gnn.cpus import avoid_numpy_huge_pages, passive_openmp_waits

    passive_openmp_waits()  # before any command imports torch
    avoid_numpy_huge_pages()  # and numpy
    previous = _stop_as_interrupt()
    try:
        return _run(argv)
    finally:  # as they were, for a caller of main() in its own process
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _run(argv: list[str] | None) -> int:
    """The command, its errors and interrupts turned into one line and an exit code."""
    from acts_gnn.errors import ActsGnnError

    try:
        app(args=argv, prog_name="acts-gnn")
    except SystemExit as exc:
        code = exc.code
        code = code if isinstance(code, int) else (0 if code is None else 1)
        if code == 130:  # typer's own handling of Ctrl-C (and of the stops made one)
            return _interrupted(_interrupt_of(exc) or KeyboardInterrupt())
        return code
    except ActsGnnError as exc:
        typer.echo(f"acts-gnn: error: {exc}", err=True)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        return _interrupted(exc)
    except SystemError as exc:
        interrupt = _interrupt_of(exc)
        if interrupt is not None:
            return _interrupted(interrupt)
        if os.environ.get(TRACEBACK_VARIABLE):
            raise
        return _internal_error(exc)
    except OSError as exc:  # what no layer expected: a disk that filled up while writing
        where = f"{exc.filename}: " if exc.filename else ""
        if isinstance(exc, BrokenPipeError) and not where:  # typer's echo, not the console's
            silence_stdout()  # its reader left: what it still buffers would fail again at exit
            where = "the standard output: "
        typer.echo(f"acts-gnn: error: {where}{exc.strerror or exc}", err=True)
        return 1
    except Exception as exc:  # a bug: one line for the user, the traceback on request
        if os.environ.get(TRACEBACK_VARIABLE):
            raise
        return _internal_error(exc)
    return 0


#: set (to anything) to see the traceback of an internal error instead of its one line
TRACEBACK_VARIABLE = "ACTS_GNN_TRACEBACK"


def _internal_error(exc: BaseException) -> int:
    """Say that acts-gnn itself failed (not the input), and how to show where; exit code 1."""
    from acts_gnn.finders import PLUGINS_VARIABLE

    text = str(exc).strip().splitlines()
    what = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    plugins = os.environ.get(PLUGINS_VARIABLE, "").strip()
    whose = f"acts-gnn or a plug-in of {PLUGINS_VARIABLE} ({plugins})" if plugins else "acts-gnn"
    typer.echo(
        f"acts-gnn: internal error: {what} (a bug in {whose}, not in the input: please report "
        f"it with the output of the same command under {TRACEBACK_VARIABLE}=1)",
        err=True,
    )
    return 1


class _Stopped(KeyboardInterrupt):
    """A SIGTERM or SIGHUP (a batch system's stop or time limit, a closed terminal), raised as
    Ctrl-C is so that the same clean-up runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _stop_as_interrupt() -> dict:
    """SIGTERM and SIGHUP stop the command as Ctrl-C does (nothing half written is left), where
    the system's default would end the process on the spot. A signal the caller chose to
    ignore (``nohup``) stays ignored. Returns the handlers replaced."""

    def stop(signum: int, _frame: object) -> None:
        raise _Stopped(signum)

    return {
        signum: signal.signal(signum, stop)
        for signum in (signal.SIGTERM, signal.SIGHUP)
        if signal.getsignal(signum) is signal.SIG_DFL
    }


def _interrupted(interrupt: KeyboardInterrupt) -> int:
    """Say how the command was stopped; its exit code (128 + the signal's number)."""
    if isinstance(interrupt, _Stopped):
        typer.echo(f"acts-gnn: stopped by {interrupt}", err=True)
        return 128 + interrupt.signum
    typer.echo("acts-gnn: interrupted", err=True)
    return 128 + signal.SIGINT


def _interrupt_of(error: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C (or stop) ``error`` came of, if any: typer turns it into its exit 130, and
    compiled code that was loading when it came (Numba unpickling a cached kernel) into an
    error of its own, a SystemError; either has it as its cause or context."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def _console_main() -> None:
    sys.exit(main())


if __name__ == "__main__":
    _console_main()
