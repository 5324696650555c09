"""One benchmark point: a track finder, a set of events, a concurrency level.

Layer: bench.

A point first reconstructs ``warmup`` events (not counted) — for a served finder ``warmup``
rounds of one request per model instance sent at once, since each instance compiles its kernels
on its first request and requests sent one by one may all reach one instance — then ``n_events``
events with ``concurrency`` requests in flight (threads; the events are cycled when fewer were
loaded). It records every event's latency and stage times, the wall time, the client-side
serialisation time of the request tensor, and — for a served finder — the server's own queue and
compute time from Triton's statistics API and the utilisation from its metrics endpoint. For a
local finder, CPU utilisation is this process's CPU time over wall time and cores. GPU
utilisation and memory come from NVML where Triton's metrics have none (and for local points),
when this machine has a GPU and ``nvidia-ml-py``.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

import numpy as np

from acts_gnn.bench.probe import MetricsSampler, NvmlSampler, ServerStatistics
from acts_gnn.errors import ConfigError
from acts_gnn.event import Event
from acts_gnn.finders import TrackFinder
from acts_gnn.result import STAGES

__all__ = ["PointResult", "Served", "run_point", "serialise_seconds"]


@dataclass(frozen=True)
class Served:
    """Where a served finder runs: its gRPC and metrics endpoints, model and instance count."""

    grpc_url: str
    model: str
    metrics_url: str | None = None
    instances: int | None = None
    access_token: str | None = None


@dataclass(frozen=True)
class PointResult:
    """Everything measured at one point."""

    mode: str
    finder: str
    instances: int | None
    concurrency: int
    n_events: int
    wall_s: float
    latencies_s: tuple[float, ...]
    mean_spacepoints: float
    serialise_s: float
    server: dict[str, float] = field(default_factory=dict)
    utilisation: dict[str, float] = field(default_factory=dict)
    stages_s: dict[str, float] = field(default_factory=dict)

    @property
    def events_per_s(self) -> float:
        return self.n_events / self.wall_s if self.wall_s > 0 else math.nan

    def latency_s(self, percentile: float) -> float:
        """A latency percentile in seconds."""
        return float(np.percentile(self.latencies_s, percentile)) if self.latencies_s else math.nan

    def summary(self) -> dict[str, object]:
        """The point as one flat record (JSON, tables, plots)."""
        record = {k: v for k, v in asdict(self).items() if k != "latencies_s"}
        record.update(
            events_per_s=self.events_per_s,
            latency_p50_s=self.latency_s(50),
            latency_p95_s=self.latency_s(95),
            latency_p99_s=self.latency_s(99),
        )
        return record


def serialise_seconds(events: Sequence[Event], protocol: str = "grpc") -> float:
    """Mean seconds to build one event's ``FEATURES`` request tensor, as the client does."""
    from acts_gnn._extras import require

    module = require(f"tritonclient.{protocol}", "server")
    times = []
    for event in events:
        start = time.perf_counter()
        features = np.ascontiguousarray(event.features(), dtype=np.float32)
        tensor = module.InferInput("FEATURES", list(features.shape), "FP32")
        tensor.set_data_from_numpy(features)
        times.append(time.perf_counter() - start)
    return float(np.mean(times)) if times else math.nan


def _warm_up(finder: TrackFinder, events: Sequence[Event], rounds: int, instances: int) -> None:
    """``rounds`` rounds of ``instances`` events sent at once (one per model instance)."""
    if instances == 1:
        for i in range(rounds):
            finder.reconstruct(events[i % len(events)])
        return
    with ThreadPoolExecutor(instances, thread_name_prefix="acts-gnn-warm-up") as pool:
        for _ in range(rounds):
            list(pool.map(finder.reconstruct, [events[i % len(events)] for i in range(instances)]))


def run_point(
    finder: TrackFinder,
    events: Sequence[Event],
    *,
    concurrency: int,
    n_events: int,
    warmup: int = 1,
    served: Served | None = None,
    on_event: Callable[[], None] | None = None,
) -> PointResult:
    """Measure one point (see the module docstring).

    Raises:
        ConfigError: no events, or ``concurrency``/``n_events`` below one.
    """
    if not events:
        raise ConfigError("no events to benchmark")
    if concurrency < 1 or n_events < 1:
        raise ConfigError(
            f"concurrency and events must be at least 1, got {concurrency} and {n_events}"
        )
    instances = served.instances if served and served.instances else 1
    statistics = (
        ServerStatistics(served.grpc_url, served.model, served.access_token) if served else None
    )
    # the server counts a request as it releases it, which can come after the client has its
    # answer: the point's first reading waits until the warm-up's requests are all counted
    untouched = statistics.read() if statistics else None
    _warm_up(finder, events, warmup, instances)
    sampler = MetricsSampler(served.metrics_url) if served and served.metrics_url else None
    gpus = NvmlSampler.open()
    before = statistics.settled(untouched, warmup * instances) if statistics else None
    for running in (sampler, gpus):
        if running:
            running.start()
    latencies: list[float] = []
    stage_sums = dict.fromkeys(STAGES, 0.0)
    stage_counts = dict.fromkeys(STAGES, 0)
    lock = threading.Lock()

    def one(index: int) -> None:
        event = events[index % len(events)]
        start = time.perf_counter()
        result = finder.reconstruct(event)
        elapsed = time.perf_counter() - start
        with lock:
            latencies.append(elapsed)
            for stage, seconds in result.timing.stages_s.items():
                if stage in stage_sums and math.isfinite(seconds):
                    stage_sums[stage] += seconds
                    stage_counts[stage] += 1
        if on_event is not None:
            on_event()

    cpu_start = os.times()
    start = time.perf_counter()
    if concurrency == 1:
        for index in range(n_events):
            one(index)
    else:
        with ThreadPoolExecutor(concurrency, thread_name_prefix="acts-gnn-bench") as pool:
            for future in [pool.submit(one, index) for index in range(n_events)]:
                future.result()
    wall = time.perf_counter() - start
    cpu_end = os.times()

    utilisation = sampler.stop() if sampler else {}
    if served is None:
        cpu = (cpu_end.user - cpu_start.user) + (cpu_end.system - cpu_start.system)
        utilisation = {"cpu_utilisation": cpu / wall / (os.cpu_count() or 1)}
    if gpus:
        for key, value in gpus.stop().items():
            if math.isnan(utilisation.get(key, math.nan)):
                utilisation[key] = value
    server = (
        statistics.settled(before, n_events).per_request_since(before)
        if statistics and before
        else {}
    )
    stages = {s: stage_sums[s] / stage_counts[s] for s in STAGES if stage_counts[s]}
    used = [events[i % len(events)] for i in range(n_events)]
    return PointResult(
        mode="served" if served else "local",
        finder=finder.name,
        instances=served.instances if served else None,
        concurrency=concurrency,
        n_events=n_events,
        wall_s=wall,
        latencies_s=tuple(latencies),
        mean_spacepoints=float(np.mean([len(e) for e in used])),
        serialise_s=serialise_seconds(events) if served else math.nan,
        server=server,
        utilisation=utilisation,
        stages_s=stages,
    )
