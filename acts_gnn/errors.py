"""The one exception hierarchy of acts-gnn.

Layer: bottom (imported by everything, imports nothing of the project).

Every error a user can cause derives from :class:`ActsGnnError`; the CLI turns it into a single
line on stderr and a non-zero exit code, never a traceback. Messages say what was wrong, where,
and what was expected or how to fix it.

Exit codes (the same for every command; the README has this table):

* 0 — done.
* 1 — the work failed while running: an output could not be written (disk full, permission
  lost), a GPU kernel's check failed, Triton could not load the models.
* 2 — the command cannot run as given; nothing was done: a bad option, an input that is missing
  or malformed, a broken model bundle, a missing optional package, an output that exists (without
  ``--force``) or cannot be created, a model the server does not have, a server's port of the
  other protocol, a request the server refuses as given (an event over its space-point cap).
* 3 — a Triton server could not be reached or did not answer in time (worth retrying later).
* 130 — interrupted (Ctrl-C); 143 and 129 — stopped by SIGTERM and SIGHUP (the command line
  handles them as Ctrl-C).
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ActsGnnError",
    "BundleError",
    "ConfigError",
    "EventDataError",
    "InputFormatError",
    "MissingExtraError",
    "ModelUnavailableError",
    "OutputError",
    "OutputRefusedError",
    "RemoteInferenceError",
    "RemoteTimeoutError",
    "RequestRefusedError",
    "ServerStartError",
    "UnknownModelError",
    "WrongProtocolError",
]


def _printable(text: str, limit: int = 300) -> str:
    """``text`` as one line of printable characters: a tab as ``\\t`` (a tab-separated file
    shows its delimiter), other bytes of a binary file as ``?``."""
    text = text.replace("\t", "\\t").replace("\n", " ")
    cleaned = " ".join("".join(c if c.isprintable() else "?" for c in text).split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


class ActsGnnError(Exception):
    """Root of every error acts-gnn raises on purpose."""

    #: process exit code the CLI uses for this kind of error
    exit_code: int = 1


class InputFormatError(ActsGnnError):
    """An input file is missing, unreadable or not in the expected format.

    The message always names the file; ``where`` is a column, row or tree (may be empty) and
    ``expected`` says what the reader wanted to see there.
    """

    exit_code = 2

    def __init__(self, path: str | Path, where: str, expected: str) -> None:
        self.path = str(path)
        self.where = _printable(where)
        self.expected = _printable(expected)
        location = f"{self.path}: {self.where}" if self.where else self.path
        super().__init__(f"{location}: {self.expected}")


class ConfigError(ActsGnnError):
    """A command-line option or configuration value is invalid."""

    exit_code = 2


class EventDataError(ActsGnnError, ValueError):
    """Arrays that do not make an event (:class:`~acts_gnn.event.Event` and its parts built from
    a caller's arrays): lengths that differ, values that are not numbers of the kind asked for.
    A :class:`ValueError` too, which the readers turn into their own message about a file."""

    exit_code = 2


class OutputError(ActsGnnError):
    """An output could not be written while the work ran (permissions, disk full, …)."""


class OutputRefusedError(OutputError):
    """An output is refused before any work: it exists (without ``--force``) or its path cannot
    be created."""

    exit_code = 2


class BundleError(ActsGnnError):
    """A model bundle is missing, incomplete or of an unsupported schema version."""

    exit_code = 2


#: extra of acts-gnn → what pip installs for it (as pyproject.toml's optional dependencies say)
_EXTRA_PACKAGES = {
    "server": "nvidia-pytriton",
    "acts": "pyacts",
    "cuda": "numba-cuda",
    "dev": "pytest hypothesis",
}


class MissingExtraError(ActsGnnError):
    """An optional dependency is not installed; the message gives the install command."""

    exit_code = 2

    def __init__(self, module: str, extra: str) -> None:
        self.module = module
        self.extra = extra
        package = _EXTRA_PACKAGES.get(extra, module)
        super().__init__(
            f"this feature needs the Python package {module!r}: install it with  pip install "
            f"{package}  (or the extra of acts-gnn: pip install '.[{extra}]' in its repository)"
        )


class KernelError(ActsGnnError):
    """A GPU kernel did not reach its result (a check inside the kernel's driver failed)."""


class ServerStartError(ActsGnnError):
    """``acts-gnn serve`` could not bring its models up on Triton."""


class RemoteInferenceError(ActsGnnError):
    """A request to a Triton server failed; the message names the URL and the model."""

    exit_code = 3

    def __init__(self, url: str, model: str, reason: str) -> None:
        self.url = url
        self.model = model
        self.reason = reason
        super().__init__(f"{url} (model {model!r}): {reason}")


class RemoteTimeoutError(RemoteInferenceError):
    """A request to a Triton server did not answer within its deadline."""


class ModelUnavailableError(RemoteInferenceError):
    """The server is reachable but does not serve the requested model (or it is not ready)."""


class UnknownModelError(ModelUnavailableError):
    """The server answers that it has no model of that name: ``--model`` (or the server) is
    wrong, and trying again will not help."""

    exit_code = 2


class RequestRefusedError(RemoteInferenceError):
    """The server refused the request itself (an event over its ``--max-spacepoints`` cap,
    features its contract does not take): trying again will not help."""

    exit_code = 2


class WrongProtocolError(RemoteInferenceError):
    """The server's port speaks the other protocol (gRPC asked over HTTP): ``--protocol`` or
    the port is wrong."""

    exit_code = 2
