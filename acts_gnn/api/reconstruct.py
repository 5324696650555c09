"""``reconstruct``: which events, which finder (local or served), where the results go.

Layer: api.

A :class:`ReconstructRequest` holds everything one run needs; :func:`prepare` checks it before
anything heavy loads (inputs found, outputs writable, options consistent) and returns a
:class:`Reconstruction` whose ``run`` reads, finds and writes (all-or-nothing, see
:mod:`acts_gnn.reco.job`). The CLI's ``acts-gnn reconstruct`` builds the request from its
options and shows progress between the two calls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from acts_gnn.errors import ConfigError
from acts_gnn.finders import TrackFinder, finder_entry, make_finder
from acts_gnn.io.readers import known_without_truth
from acts_gnn.io.source import EventSource
from acts_gnn.reco.job import (
    ReconstructionOutputs,
    ReconstructionSummary,
    run_reconstruction,
    run_record,
)
from acts_gnn.triton.client import RetryPolicy

__all__ = [
    "FinderRequest",
    "InputRequest",
    "ReconstructRequest",
    "Reconstruction",
    "ReconstructionOutputs",
    "RetryPolicy",
    "prepare",
]


@dataclass(frozen=True)
class InputRequest:
    """Event files, prefixes or directories, and how to read them (see ``open_events``)."""

    paths: tuple[Path, ...]
    format: str | None = None
    root_preset: str = "spacepoints"
    root_tree: str | None = None
    root_branches: Mapping[str, str] = field(default_factory=dict)

    def open(self) -> EventSource:
        """The events, found but not read (raises InputFormatError / ConfigError)."""
        from acts_gnn.io.source import open_events

        return open_events(
            self.paths,
            self.format,
            root_preset=self.root_preset,
            root_tree=self.root_tree,
            root_branches=dict(self.root_branches),
        )


@dataclass(frozen=True)
class FinderRequest:
    """The track finder: a local backend, or a served model on ``urls`` (failover order).

    ``fallback_local``: with ``urls``, the local backend answers when no server does. A field
    left ``None`` takes its default; one given where it has no effect is refused by
    :meth:`check` (the served model's options without ``urls``; the local finder's with
    ``urls`` and no ``fallback_local``), so that no option is silently ignored.
    """

    backend: str | None = None
    bundle: Path | None = None
    device: str | None = None
    max_neighbours: int | None = None
    precision: str | None = None
    urls: tuple[str, ...] = ()
    model: str | None = None
    protocol: str | None = None
    timeout_s: float | None = None
    retry: RetryPolicy | None = None
    fallback_local: bool = False
    tls_root_cert: Path | None = None

    @property
    def remote(self) -> bool:
        """Whether the events go to servers."""
        return bool(self.urls)

    @property
    def uses_gnn(self) -> bool:
        """Whether the tracks come from a GNN pipeline (the served model's, or the backend's);
        False for a served model this client does not know (a server may host any)."""
        try:
            if self.urls:
                return finder_entry(self.model or "gnn_tracking", served=True).uses_bundle
            return finder_entry(self.backend or "gnn").uses_bundle
        except ConfigError:
            return False

    @property
    def runs_here(self) -> bool:
        """Whether a local finder may run in this process (and wants its CPU threads)."""
        return not self.urls or self.fallback_local

    def check(self) -> None:
        """Options that only make sense together (raises ConfigError)."""
        if not self.urls:
            served = {
                "--model": self.model,
                "--protocol": self.protocol,
                "--timeout-s": self.timeout_s,
                "--retries/--backoff": self.retry,
                "--tls-root-cert": self.tls_root_cert,
            }
            given = [name for name, value in served.items() if value is not None]
            if given:
                raise ConfigError(f"{_listed(given)} {_verb(given, 'needs')} --url")
            if self.fallback_local:
                raise ConfigError(
                    "--fallback-local needs --url (without one every event runs here)"
                )
        settings = {  # the GNN finders' settings
            "--bundle": self.bundle,
            "--device": self.device,
            "--max-neighbours": self.max_neighbours,
            "--precision": self.precision,
        }
        if self.runs_here and (self.backend is not None or self.urls):
            backend = self.local_backend
            given = [name for name, value in settings.items() if value is not None]
            if given and not finder_entry(backend).uses_bundle:
                which = f"--backend {backend}" if self.backend else f"the fallback, {backend},"
                raise ConfigError(
                    f"{_listed(given)} {_verb(given, 'sets')} a GNN finder, and {which} takes "
                    "no settings"
                )
        if self.urls and not self.fallback_local:
            local = {"--backend": self.backend, **settings}
            given = [name for name, value in local.items() if value is not None]
            if given:
                raise ConfigError(
                    f"{_listed(given)} {_verb(given, 'chooses')} the finder run here, but with "
                    "--url the served model finds the tracks (add --fallback-local to run it "
                    "when no server answers)"
                )

    @property
    def local_backend(self) -> str:
        """The finder run here: ``--backend`` (default ``gnn``); with ``--fallback-local`` and
        no ``--backend``, the served model's twin here (``unrolling_tracking`` → ``unrolling``),
        so that an event the servers miss is found as they find it.

        Raises:
            ConfigError: a fallback for a served model with no twin here (or one this client
                does not know), and no ``--backend``.
        """
        if self.backend is not None or not self.urls:
            return "gnn" if self.backend is None else self.backend
        model = self.model or "gnn_tracking"
        try:
            entry = finder_entry(model, served=True)
        except ConfigError:
            entry = None
        if entry is None or not entry.local:
            raise ConfigError(
                f"--fallback-local: the served model {model} has no twin here; choose the "
                "finder run in its place with --backend"
            )
        return entry.name

    def make(self) -> TrackFinder:
        """The finder (loads the model or connects the client)."""
        local = (
            make_finder(
                self.local_backend,
                self.bundle,
                self.device,
                max_neighbours=self.max_neighbours,
                precision=self.precision,
            )
            if self.runs_here
            else None
        )
        if not self.urls:
            assert local is not None
            return local
        from acts_gnn.triton.client import RemotePipeline

        return RemotePipeline(
            self.urls,
            self.model or "gnn_tracking",
            protocol=self.protocol or "grpc",
            timeout_s=60.0 if self.timeout_s is None else self.timeout_s,
            retry=self.retry or RetryPolicy(),
            fallback=local,
            tls_root_cert=self.tls_root_cert,
        )


def _listed(options: list[str]) -> str:
    """``["--a", "--b", "--c"]`` as "--a, --b and --c"."""
    return options[0] if len(options) == 1 else f"{', '.join(options[:-1])} and {options[-1]}"


def _verb(options: list[str], singular: str) -> str:
    """``singular`` ("needs") for one option, its plural ("need") for several."""
    return singular if len(options) == 1 else singular.removesuffix("s")


@dataclass(frozen=True)
class ReconstructRequest:
    """One ``reconstruct`` run: inputs, finder, outputs, CPU threads and events in flight."""

    inputs: InputRequest
    outputs: ReconstructionOutputs
    finder: FinderRequest = field(default_factory=FinderRequest)
    threads: int | None = None
    concurrency: int = 1


@dataclass(frozen=True)
class Reconstruction:
    """A checked request with its events found and its finder made, ready to run."""

    request: ReconstructRequest
    source: EventSource
    finder: TrackFinder
    threads: int = 1  # CPU threads of the finder run here

    def run(self, on_event: Callable[[], None] | None = None) -> ReconstructionSummary:
        """Reconstruct every event and write the outputs (all-or-nothing)."""
        threads = self.threads if self.request.finder.runs_here else None
        return run_reconstruction(
            self.source,
            self.finder,
            self.request.outputs,
            on_event=on_event,
            concurrency=self.request.concurrency,
            run=run_record(self.finder, threads),
        )

    def threads_warning(self) -> str | None:
        """Said before the run when the threads of the finder run here outnumber the CPUs."""
        if not self.request.finder.runs_here:
            return None
        from acts_gnn.cpus import oversubscribed

        return oversubscribed(self.threads)

    def inputs_warning(self) -> str | None:
        """Said before a GNN run when the first ACTS CSV event's space points are far fewer than
        its measurements (ACTS's own space-point files often hold the pixel points only): the
        models were trained on one space point per measurement, and find few tracks in the
        rest."""
        from acts_gnn.io.acts_csv import spacepoint_coverage

        if not self.request.finder.uses_gnn:
            return None
        ref = next((r for r in self.source.refs if r.format == "acts-csv"), None)
        counts = spacepoint_coverage(ref.files) if ref is not None else None
        if counts is None or counts[0] >= 0.9 * counts[1]:
            return None
        return (
            f"{ref.files['spacepoint']}: {counts[0]} space points for {counts[1]} measurements; "
            "the models were trained on one space point per measurement (pixel and strip "
            "alike) and find few tracks in fewer: give the -measurements.csv files as inputs "
            "(DIR/event*-measurements.csv) to use them all"
        )

    def server_warnings(self) -> list[str]:
        """What the servers' failures made of the run so far (none for a local finder): events
        run here instead (``--fallback-local``), answers from another URL than the one a request
        went to first (failover)."""
        attempts = getattr(self.finder, "attempts", None)
        if not attempts:
            return []
        warnings = []
        if attempts["fallback"]:
            warnings.append(
                f"{attempts['fallback']} event(s) ran here, not on a server (--fallback-local): "
                f"{self.finder.last_failure}"
            )
        if attempts["failover"]:
            warnings.append(
                f"{attempts['failover']} request(s) answered by another --url than the one "
                "they went to first (failover)"
            )
        return warnings


def prepare(request: ReconstructRequest) -> Reconstruction:
    """Check ``request``, find its events and make its finder; nothing is written yet.

    Inputs and outputs are checked before anything heavy (torch, a model, a server) loads.

    Raises:
        ConfigError: nothing to write, or options that do not go together.
        InputFormatError: an input holds no readable events, or two events share a number.
        OutputRefusedError: an output exists (without overwrite) or cannot be made.
    """
    from acts_gnn.cpus import resolve_threads, use_threads
    from acts_gnn.io.atomic import refuse_inputs_as_outputs

    outputs = request.outputs
    if not any(
        (outputs.tracks_root, outputs.tracks_csv_dir, outputs.timing_json, outputs.performance_json)
    ):
        raise ConfigError("nothing to write: give --output, --csv-dir, --timing or --performance")
    request.finder.check()
    if request.concurrency != 1 and not request.finder.remote:
        raise ConfigError("--concurrency needs --url (local backends run one event at a time)")
    source = request.inputs.open().check_distinct_ids().check_tables()
    if outputs.performance_json is not None and all(map(known_without_truth, source.refs)):
        raise ConfigError(  # before, the run went on and then wrote no report, with exit 0
            "--performance needs truth, and no input has it: beside ACTS CSV space points "
            "-measurement-simhit-map.csv and -hits.csv, beside TrackML hits -truth.csv, in a "
            "ROOT tree a particle branch (--branch particle_id=NAME) or the barcodes "
            "(--root-preset hits)"
        )
    outputs.check()
    refuse_inputs_as_outputs(outputs.named(), source.files())
    if request.threads is not None and not request.finder.runs_here:
        raise ConfigError(
            "--threads sets the finder run here, but with --url the served model finds the "
            "tracks (add --fallback-local to run it when no server answers)"
        )
    threads = resolve_threads(request.threads)  # checked even when nothing runs here
    if request.finder.runs_here:
        use_threads(threads)
    return Reconstruction(request, source, request.finder.make(), threads)
