"""The benchmark sweep: local points, then served points over instance counts and concurrency.

Layer: bench.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acts_gnn.bench.harness import PointResult, Served, run_point
from acts_gnn.cuda.device import service_device
from acts_gnn.errors import ConfigError
from acts_gnn.event import Event
from acts_gnn.finders import any_gnn, finder_entry, refuse_gnn_settings

__all__ = ["SweepConfig", "load_sweep_events", "run_sweep"]


@dataclass(frozen=True)
class SweepConfig:
    """What to measure.

    ``local``: the local finder of ``model`` (at concurrency 1: one process using every core);
    ``urls``: running servers (their instance count is unknown, reported as such); ``spawn``:
    an ``acts-gnn serve`` of our own per entry of ``instances``. Served points run every entry
    of ``concurrency``.
    """

    model: str = "gnn_tracking"
    local: bool = False
    urls: Sequence[str] = ()
    metrics_urls: Sequence[str] = ()
    spawn: bool = False
    instances: Sequence[int] = (1,)
    concurrency: Sequence[int] = (1, 2, 4)
    n_events: int = 10
    warmup: int = 1
    #: the GNN settings of the local pipeline and the spawned servers (None: cpu, the bundle's
    #: precision, the shipped bundle)
    device: str | None = None
    precision: str | None = None
    bundle: Path | None = None
    timeout_s: float = 600.0
    access_token: str | None = None

    @property
    def n_points(self) -> int:
        """How many points the sweep measures (as :func:`run_sweep` runs them)."""
        served = len(self.urls) + (len(self.instances) if self.spawn else 0)
        return int(self.local) + served * len(self.concurrency)

    def check(self) -> None:
        """Raise :class:`ConfigError` for a sweep that cannot run."""
        if not (self.local or self.urls or self.spawn):
            raise ConfigError("choose what to measure: --local, --url URL or --spawn")
        if self.local and not _local_twin(self.model):
            raise ConfigError(f"model {self.model!r} has no local twin; drop --local")
        if min(self.concurrency, default=0) < 1 or min(self.instances, default=0) < 1:
            raise ConfigError("--concurrency and --instances values must be at least 1")
        if self.n_events < 1 or self.warmup < 0:
            raise ConfigError("--events must be at least 1 and --warmup at least 0")
        if self.metrics_urls and len(self.metrics_urls) != len(self.urls):
            raise ConfigError("give one --metrics-url per --url (or none)")
        if tuple(self.instances) != (1,) and not self.spawn:
            raise ConfigError(
                "--instances sets the model instances of the servers --spawn starts; give --spawn"
            )
        served = self.urls or self.spawn  # --local runs at concurrency 1 (its default's first)
        if tuple(self.concurrency) not in ((1, 2, 4), (1,)) and not served:
            raise ConfigError(
                "--concurrency sets requests in flight to a server (--url or --spawn); --local "
                "runs one event at a time"
            )
        settings = {"--bundle": self.bundle, "--device": self.device, "--precision": self.precision}
        given = ", ".join(name for name, value in settings.items() if value is not None)
        if given and not (self.local or self.spawn):
            raise ConfigError(
                f"{given}: settings of --local and --spawn; a --url server runs with its own"
            )
        refuse_gnn_settings(settings, [self.model], named=f"--model {self.model}")
        if self.metrics_urls:  # what no server can be at (they were never checked)
            from acts_gnn.triton.client import server_urls

            server_urls(list(self.metrics_urls))


def _local_twin(model: str) -> bool:
    """Whether the served ``model`` also runs in this process (the same registry entry)."""
    try:
        return finder_entry(model, served=True).local
    except ConfigError:
        return False


def load_sweep_events(
    config: SweepConfig, inputs: Sequence[str | Path], **layout: Any
) -> list[Event]:
    """Check ``config``, read the first ``n_events`` events of ``inputs`` (at least one; found
    with ``layout``, the keyword arguments of :func:`~acts_gnn.io.source.open_events`), and,
    for a local sweep, give this process's torch the CPUs it may use."""
    from acts_gnn.io.source import open_events

    config.check()
    source = open_events(inputs, **layout)  # a missing input is said before torch loads
    if config.local:  # the in-process pipeline runs on the CPUs this process may use
        from acts_gnn.cpus import resolve_threads, use_threads

        use_threads(resolve_threads())
    return [ref.load() for ref in source.refs[: max(config.n_events, 1)]]


def run_sweep(
    config: SweepConfig,
    events: Sequence[Event],
    *,
    on_point_start: Callable[[str, int], Callable[[], None]] = lambda _label, _n: lambda: None,
    on_point: Callable[[PointResult], None] = lambda _p: None,
) -> list[PointResult]:
    """Run every point of ``config`` on ``events``; the results in order.

    ``on_point_start(label, n_events)`` returns the per-event callback of that point (progress);
    ``on_point`` receives each finished point.
    """
    from acts_gnn.finders import make_finder
    from acts_gnn.triton.client import RemotePipeline

    config.check()
    points: list[PointResult] = []

    def measure(label: str, finder, concurrency: int, served: Served | None) -> None:
        advance = on_point_start(label, config.n_events)
        point = run_point(
            finder,
            events,
            concurrency=concurrency,
            n_events=config.n_events,
            warmup=config.warmup,
            served=served,
            on_event=advance,
        )
        points.append(point)
        on_point(point)

    if config.local:
        finder = make_finder(
            config.model,
            config.bundle,
            service_device(config.device, any_gnn([config.model])),
            precision=config.precision,
        )
        measure(f"local {finder.name}", finder, 1, None)

    for index, url in enumerate(config.urls):
        metrics = config.metrics_urls[index] if config.metrics_urls else None
        remote = RemotePipeline([url], config.model, timeout_s=config.timeout_s, retries=0)
        url = remote.urls[0]  # as the client takes it: no grpc:// or http://, a port
        for concurrency in config.concurrency:
            served = Served(url, config.model, metrics, access_token=config.access_token)
            measure(f"{url} c={concurrency}", remote, concurrency, served)

    if config.spawn:
        from acts_gnn.triton.spawn import SpawnedServer

        for instances in config.instances:
            precision = () if config.precision is None else ("--precision", config.precision)
            with SpawnedServer(
                [config.model],
                instances,
                device=service_device(config.device, any_gnn([config.model])),
                bundle=config.bundle,
                extra_options=precision,
            ) as server:
                remote = RemotePipeline(
                    [server.grpc_url], config.model, timeout_s=config.timeout_s, retries=0
                )
                served = Served(
                    server.grpc_url,
                    config.model,
                    server.metrics_url,
                    instances,
                    server.access_token,
                )
                for concurrency in config.concurrency:
                    measure(f"served ×{instances} c={concurrency}", remote, concurrency, served)
    return points
