"""What a Triton server says about itself during a benchmark point.

Layer: bench.

* :class:`ServerStatistics` reads Triton's statistics API (per model: successful requests, queue
  and compute nanoseconds) so a point can report the server's own queue and compute time per
  request as the difference of two readings;
* :class:`MetricsSampler` scrapes the Prometheus endpoint in a background thread while a point
  runs and averages CPU and GPU utilisation and GPU memory (absent on a machine without a GPU);
* :class:`NvmlSampler` reads the GPUs' utilisation and memory through NVML, where Triton's metrics
  carry no GPU figures and for local points.
"""

from __future__ import annotations

import math
import threading
import urllib.request
from dataclasses import dataclass

from acts_gnn._extras import require
from acts_gnn.errors import ConfigError

__all__ = [
    "MetricsSampler",
    "NvmlSampler",
    "ServerStatistics",
    "StatisticsReading",
    "parse_metrics",
]


@dataclass(frozen=True)
class StatisticsReading:
    """Cumulative counters of one model (Triton's ``inference_stats``)."""

    requests: int
    queue_ns: int
    compute_input_ns: int
    compute_infer_ns: int
    compute_output_ns: int

    def per_request_since(self, earlier: StatisticsReading) -> dict[str, float]:
        """Mean seconds per request between ``earlier`` and this reading (NaN without requests)."""
        n = self.requests - earlier.requests
        if n <= 0:
            return {"requests": 0, "queue_s": math.nan, "compute_s": math.nan}
        compute = (
            self.compute_input_ns
            + self.compute_infer_ns
            + self.compute_output_ns
            - earlier.compute_input_ns
            - earlier.compute_infer_ns
            - earlier.compute_output_ns
        )
        return {
            "requests": n,
            "queue_s": (self.queue_ns - earlier.queue_ns) / n / 1e9,
            "compute_s": compute / n / 1e9,
        }


#: how long a statistics reading may take (s)
_STATISTICS_TIMEOUT_S = 30.0


class ServerStatistics:
    """Triton's statistics API for one model on one gRPC endpoint."""

    def __init__(self, url: str, model: str, access_token: str | None = None) -> None:
        from acts_gnn.triton.contract import access_headers

        grpc = require("tritonclient.grpc", "server")
        self.client = grpc.InferenceServerClient(url)
        self.url = url
        self.model = model
        self.headers = access_headers(access_token, "grpc")

    def read(self) -> StatisticsReading:
        """The model's cumulative counters now (summed over its versions).

        Raises:
            ConfigError: the server keeps its statistics to holders of its access token, and
                none (or another) was given.
            RemoteInferenceError: the server cannot be reached, or has no such model (the
                subclass of :func:`acts_gnn.triton.client.classify_failure`).
        """
        from tritonclient.utils import InferenceServerException

        from acts_gnn.triton.client import classify_failure

        try:
            stats = self.client.get_inference_statistics(
                model_name=self.model,
                headers=self.headers,
                as_json=True,
                client_timeout=_STATISTICS_TIMEOUT_S,
            )
        except InferenceServerException as exc:
            if "access-token" not in str(exc):
                failure, _ = classify_failure(exc, self.url, self.model, _STATISTICS_TIMEOUT_S)
                raise failure from exc
            raise ConfigError(
                f"{self.url}: the server shows its statistics only with its access token: give "
                "--access-token (or set ACTS_GNN_ACCESS_TOKEN) as its acts-gnn serve was given"
            ) from exc
        totals = dict.fromkeys(("requests", "queue", "input", "infer", "output"), 0)
        for model in stats.get("model_stats", []):
            inference = model.get("inference_stats", {})
            totals["requests"] += int(inference.get("success", {}).get("count", 0))
            for key, field in (
                ("queue", "queue"),
                ("input", "compute_input"),
                ("infer", "compute_infer"),
                ("output", "compute_output"),
            ):
                totals[key] += int(inference.get(field, {}).get("ns", 0))
        return StatisticsReading(
            totals["requests"], totals["queue"], totals["input"], totals["infer"], totals["output"]
        )

    def settled(
        self, earlier: StatisticsReading, expected: int, timeout_s: float = 5.0
    ) -> StatisticsReading:
        """A reading once the model counted ``expected`` requests more than ``earlier``, or the
        last one after ``timeout_s``: Triton records a request's statistics as it releases it,
        which can come just after the client has its answer (seen on a loaded machine)."""
        import time

        deadline = time.monotonic() + timeout_s
        while True:
            reading = self.read()
            if reading.requests - earlier.requests >= expected or time.monotonic() > deadline:
                return reading
            time.sleep(0.05)


def parse_metrics(text: str) -> dict[str, float]:
    """CPU and GPU utilisation (fractions) and GPU memory (bytes) from a Prometheus page.

    GPU utilisation is averaged and memory summed over the GPUs; a metric that is absent is NaN.
    """
    values: dict[str, list[float]] = {
        "nv_cpu_utilization": [],
        "nv_gpu_utilization": [],
        "nv_gpu_memory_used_bytes": [],
    }
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in values:
            try:
                values[name].append(float(line.rsplit(" ", 1)[1]))
            except ValueError:
                continue

    def mean(xs: list[float]) -> float:
        return sum(xs) / len(xs) if xs else math.nan

    return {
        "cpu_utilisation": mean(values["nv_cpu_utilization"]),
        "gpu_utilisation": mean(values["nv_gpu_utilization"]),
        "gpu_memory_bytes": sum(values["nv_gpu_memory_used_bytes"])
        if values["nv_gpu_memory_used_bytes"]
        else math.nan,
    }


class _Sampler:
    """Reads every ``period_s`` in a background thread between ``start()`` and ``stop()``."""

    keys: tuple[str, ...] = ()

    def __init__(self, period_s: float = 0.5) -> None:
        self.period_s = period_s
        self.samples: list[dict[str, float]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _read(self) -> dict[str, float] | None:
        raise NotImplementedError

    def _sample(self) -> None:
        reading = self._read()
        if reading is not None:
            self.samples.append(reading)

    def _loop(self) -> None:
        while not self._stop.wait(self.period_s):
            self._sample()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="metrics-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> dict[str, float]:
        """Stop sampling; the mean of each quantity over the samples (NaN when none)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
        result = {}
        for key in self.keys:
            xs = [s[key] for s in self.samples if not math.isnan(s[key])]
            result[key] = sum(xs) / len(xs) if xs else math.nan
        return result


class MetricsSampler(_Sampler):
    """Samples a metrics endpoint every ``period_s`` between ``start()`` and ``stop()``."""

    keys = ("cpu_utilisation", "gpu_utilisation", "gpu_memory_bytes")

    def __init__(self, metrics_url: str, period_s: float = 0.5) -> None:
        super().__init__(period_s)
        self.url = f"http://{metrics_url.removeprefix('http://')}/metrics"

    def _read(self) -> dict[str, float] | None:
        try:
            with urllib.request.urlopen(self.url, timeout=5) as response:
                return parse_metrics(response.read().decode())
        except OSError:
            return None  # a missed sample is not an error of the benchmark


class NvmlSampler(_Sampler):
    """Samples every GPU's utilisation and used memory through NVML (``nvidia-ml-py``).

    The GPU figures of a point where Triton's metrics carry none (its DCGM could not start, as
    in a sandboxed container) and of a local point. NVML's utilisation is the fraction of the
    last sample period in which a kernel ran — the quantity Triton's ``nv_gpu_utilization``
    reports. :func:`open` returns None without NVML or without a GPU.
    """

    keys = ("gpu_utilisation", "gpu_memory_bytes")

    def __init__(self, nvml, handles, period_s: float = 0.2) -> None:
        super().__init__(period_s)
        self._nvml = nvml
        self._handles = handles

    @classmethod
    def open(cls, period_s: float = 0.2) -> NvmlSampler | None:
        try:
            import pynvml
        except ImportError:  # nvidia-ml-py is not installed: nothing to sample
            return None
        try:
            pynvml.nvmlInit()
            count = pynvml.nvmlDeviceGetCount()
            handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        except pynvml.NVMLError:  # no driver or no GPU: nothing to sample
            return None
        return cls(pynvml, handles, period_s) if handles else None

    def _read(self) -> dict[str, float] | None:
        try:
            busy = [self._nvml.nvmlDeviceGetUtilizationRates(h).gpu for h in self._handles]
            used = [self._nvml.nvmlDeviceGetMemoryInfo(h).used for h in self._handles]
        except self._nvml.NVMLError:  # a missed sample is not an error of the benchmark
            return None
        return {
            "gpu_utilisation": sum(busy) / len(busy) / 100.0,
            "gpu_memory_bytes": float(sum(used)),
        }
