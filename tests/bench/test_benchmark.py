"""The benchmark harness: counts, arithmetic, outputs, and a spawned-server sweep."""

from __future__ import annotations

import json
import math
import sys
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest

from acts_gnn.bench import harness
from acts_gnn.bench.harness import PointResult, run_point
from acts_gnn.bench.probe import NvmlSampler, StatisticsReading, parse_metrics
from acts_gnn.bench.report import (
    markdown_table,
    served_to_local_ratio,
    write_perf_data,
    write_reports,
)
from acts_gnn.bench.sweep import SweepConfig, run_sweep
from acts_gnn.errors import ConfigError
from acts_gnn.finders import TruthTrackFinder
from tests.conftest import make_event


@pytest.fixture
def events():
    return [make_event([1, 1, 2, 2, 0] * (i + 1), {1: 1.0, 2: 2.0}, event_id=i) for i in range(3)]


@pytest.mark.parametrize("concurrency", [1, 3])
def test_a_local_point_counts_every_event(events, concurrency):
    finder = TruthTrackFinder()
    seen = []
    point = run_point(
        finder,
        events,
        concurrency=concurrency,
        n_events=7,
        warmup=2,
        on_event=lambda: seen.append(1),
    )
    assert len(seen) == 7 and len(point.latencies_s) == 7 and point.n_events == 7
    assert point.events_per_s == pytest.approx(7 / point.wall_s)
    # events cycle: sizes 5, 10, 15, 5, 10, 15, 5
    assert point.mean_spacepoints == pytest.approx(65 / 7)
    assert set(point.stages_s) == {"track_building"}
    assert point.mode == "local" and math.isnan(point.serialise_s) and point.server == {}
    assert 0 <= point.utilisation["cpu_utilisation"]


class _Finder:
    """Counts its calls and, for a served warm-up, meets the other instances' calls."""

    name = "counting"

    def __init__(self, barrier=None):
        self.calls = 0
        self.barrier = barrier
        self.lock = threading.Lock()

    def reconstruct(self, event):
        with self.lock:
            self.calls += 1
        if self.barrier is not None:
            self.barrier.wait(timeout=10)  # raises unless `parties` calls are in flight at once
        return TruthTrackFinder().reconstruct(event)


def test_a_served_warm_up_sends_one_request_per_instance_at_once(events):
    finder = _Finder(threading.Barrier(3))
    harness._warm_up(finder, events, rounds=2, instances=3)
    assert finder.calls == 6
    finder = _Finder()
    harness._warm_up(finder, events, rounds=2, instances=1)
    assert finder.calls == 2


class _FakeNvml:
    """pynvml's calls used by NvmlSampler, over two GPUs."""

    class NVMLError(Exception):
        pass

    def __init__(self, gpus=2):
        self.gpus = gpus

    def nvmlInit(self):
        if self.gpus is None:
            raise self.NVMLError("Driver Not Loaded")

    def nvmlDeviceGetCount(self):
        return self.gpus

    def nvmlDeviceGetHandleByIndex(self, index):
        return index

    def nvmlDeviceGetUtilizationRates(self, handle):
        return types.SimpleNamespace(gpu=(50, 70)[handle])

    def nvmlDeviceGetMemoryInfo(self, handle):
        return types.SimpleNamespace(used=(1_000, 2_000)[handle])


def test_nvml_sampler_means_the_gpus(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", _FakeNvml())
    sampler = NvmlSampler.open(period_s=0.01)
    sampler.start()
    time.sleep(0.05)
    # the mean of the samples, each (50% + 70%) / 2 and 1,000 + 2,000 bytes
    assert sampler.stop() == pytest.approx({"gpu_utilisation": 0.6, "gpu_memory_bytes": 3_000.0})
    assert len(sampler.samples) >= 2
    for missing in (_FakeNvml(gpus=None), _FakeNvml(gpus=0)):
        monkeypatch.setitem(sys.modules, "pynvml", missing)
        assert NvmlSampler.open() is None
    monkeypatch.setitem(sys.modules, "pynvml", None)  # not installed
    assert NvmlSampler.open() is None


def test_a_local_point_reports_the_gpus_through_nvml(events, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", _FakeNvml())
    point = run_point(TruthTrackFinder(), events, concurrency=1, n_events=3, warmup=0)
    assert point.utilisation["gpu_utilisation"] == pytest.approx(0.6)
    assert point.utilisation["gpu_memory_bytes"] == 3_000.0
    assert 0 <= point.utilisation["cpu_utilisation"]


def test_the_sweep_hands_its_precision_to_the_spawned_servers(events, monkeypatch):
    from acts_gnn.triton import spawn

    seen = {}

    class Stop(Exception):
        pass

    def fake_server(models, instances, **options):
        seen.update(options, models=models, instances=instances)
        raise Stop

    monkeypatch.setattr(spawn, "SpawnedServer", fake_server)
    config = SweepConfig(spawn=True, instances=(2,), device="cuda", precision="tf32")
    with pytest.raises(Stop):
        run_sweep(config, events)
    assert seen == {
        "models": ["gnn_tracking"],
        "instances": 2,
        "device": "cuda",
        "bundle": None,
        "extra_options": ("--precision", "tf32"),
    }


def test_refusals(events):
    with pytest.raises(ConfigError, match="no events to benchmark"):
        run_point(TruthTrackFinder(), [], concurrency=1, n_events=1)
    with pytest.raises(ConfigError, match="at least 1, got 0 and 1"):
        run_point(TruthTrackFinder(), events, concurrency=0, n_events=1)
    with pytest.raises(ConfigError, match="choose what to measure"):
        SweepConfig().check()
    with pytest.raises(ConfigError, match="'null_tracking' has no local twin"):
        SweepConfig(model="null_tracking", local=True).check()
    with pytest.raises(ConfigError) as refused:  # a running server has its own settings
        SweepConfig(urls=("localhost:8001",), device="cuda", bundle=Path("b")).check()
    assert str(refused.value) == (
        "--bundle, --device: settings of --local and --spawn; a --url server runs with its own"
    )
    with pytest.raises(ConfigError) as refused:  # the unrolling finder has no model
        SweepConfig(model="unrolling_tracking", local=True, precision="bf16").check()
    assert str(refused.value) == (
        "--precision: settings of a GNN model; --model unrolling_tracking takes none"
    )
    SweepConfig(urls=("localhost:8001",), local=True, device="cpu").check()  # for --local
    with pytest.raises(ConfigError) as refused:
        SweepConfig(local=True, instances=(2,)).check()
    assert str(refused.value) == (
        "--instances sets the model instances of the servers --spawn starts; give --spawn"
    )
    with pytest.raises(ConfigError) as refused:
        SweepConfig(local=True, concurrency=(8,)).check()
    assert str(refused.value) == (
        "--concurrency sets requests in flight to a server (--url or --spawn); --local runs one "
        "event at a time"
    )
    SweepConfig(local=True, concurrency=(1,)).check()  # what it runs anyway


def test_server_statistics_per_request():
    before = StatisticsReading(10, 1_000, 100, 2_000, 300)
    after = StatisticsReading(14, 5_000, 500, 10_000, 700)
    assert after.per_request_since(before) == {
        "requests": 4,
        "queue_s": 1_000 / 1e9,
        "compute_s": (400 + 8_000 + 400) / 4 / 1e9,
    }
    assert math.isnan(before.per_request_since(before)["queue_s"])


def test_parse_metrics():
    text = "\n".join(
        [
            "# HELP nv_cpu_utilization CPU utilization rate [0.0 - 1.0]",
            "nv_cpu_utilization 0.25",
            'nv_gpu_utilization{gpu_uuid="GPU-a"} 0.5',
            'nv_gpu_utilization{gpu_uuid="GPU-b"} 1',
            'nv_gpu_memory_used_bytes{gpu_uuid="GPU-a"} 1000',
            'nv_gpu_memory_used_bytes{gpu_uuid="GPU-b"} 24',
            'nv_inference_request_success{model="m",version="1"} 3',
        ]
    )
    assert parse_metrics(text) == {
        "cpu_utilisation": 0.25,
        "gpu_utilisation": 0.75,
        "gpu_memory_bytes": 1024.0,
    }
    assert math.isnan(parse_metrics("nv_cpu_utilization 0.1")["gpu_utilisation"])


def _point(mode, events_per_s, instances=None, concurrency=1):
    wall = 10 / events_per_s
    return PointResult(
        mode=mode,
        finder="f",
        instances=instances,
        concurrency=concurrency,
        n_events=10,
        wall_s=wall,
        latencies_s=tuple(np.linspace(0.1, 1.0, 10)),
        mean_spacepoints=1000,
        serialise_s=0.001 if mode == "served" else math.nan,
        server={"requests": 10, "queue_s": 0.002, "compute_s": 0.5} if mode == "served" else {},
        utilisation={"cpu_utilisation": 0.5},
        stages_s={"filter": 0.3, "gnn": 0.2},
    )


def test_reports(tmp_path, events):
    points = [_point("local", 2.0), _point("served", 1.0, 1, 1), _point("served", 1.9, 2, 4)]
    assert served_to_local_ratio(points) == pytest.approx(0.95)
    table = markdown_table(points)
    assert table.splitlines()[2].startswith("| local | f | – | 1 | 10 | 1,000 | 2.000 | 550.0 |")
    assert "| served | f | 2 | 4 | 10 | 1,000 | 1.900 | 550.0 |" in table
    assert "| 1.0 | 2.0 | 500.0 | 50% | – | – |" in table
    assert table.rstrip().endswith("Served-to-local throughput ratio (best points): **0.950**")
    files = write_reports(points, tmp_path / "out")
    assert [f.name for f in files] == [
        "benchmark.json",
        "benchmark.md",
        "throughput.png",
        "latency.png",
        "stages.png",
    ]
    assert all(f.stat().st_size > 0 for f in files)
    payload = json.loads((tmp_path / "out" / "benchmark.json").read_text())
    assert [p["events_per_s"] for p in payload["points"]] == pytest.approx([2.0, 1.0, 1.9])
    assert payload["points"][0]["serialise_s"] is None and payload["machine"]

    perf = json.loads(write_perf_data(events, tmp_path / "perf.json").read_text())
    assert [d["FEATURES"]["shape"] for d in perf["data"]] == [[5, 3], [10, 3], [15, 3]]
    np.testing.assert_allclose(
        np.array(perf["data"][1]["FEATURES"]["content"]).reshape(10, 3), events[1].features()
    )


@pytest.mark.triton
def test_cli_sweep_with_a_spawned_server(run_cli, tmp_path):
    pytest.importorskip("pytriton", reason="nvidia-pytriton is not installed (acts-gnn[server])")
    out = tmp_path / "bench"
    result = run_cli(
        "benchmark",
        "--example",
        "--local",
        "--spawn",
        "--model",
        "unrolling_tracking",
        "--instances",
        "1",
        "--concurrency",
        "1,2",
        "--events",
        "3",
        "--warmup",
        "1",
        "-o",
        out,
        "--export-perf-data",
        tmp_path / "perf.json",
    )
    assert result.exit_code == 0, result.stderr
    payload = json.loads((out / "benchmark.json").read_text())
    points = payload["points"]
    assert [(p["mode"], p["instances"], p["concurrency"]) for p in points] == [
        ("local", None, 1),
        ("served", 1, 1),
        ("served", 1, 2),
    ]
    for point in points:
        assert point["n_events"] == 3 and len(point["latencies_s"]) == 3
        assert point["events_per_s"] == pytest.approx(3 / point["wall_s"])
    for point in points[1:]:
        assert point["server"]["requests"] == 3  # the server counted exactly the events sent
        assert point["server"]["compute_s"] > 0 and point["serialise_s"] > 0
        assert 0 <= point["utilisation"]["cpu_utilisation"] <= 1
    assert payload["served_to_local_ratio"] == pytest.approx(
        max(p["events_per_s"] for p in points[1:]) / points[0]["events_per_s"]
    )
    assert {p.name for p in out.iterdir()} == {
        "benchmark.json",
        "benchmark.md",
        "throughput.png",
        "latency.png",
        "stages.png",
    }
    assert "| served | remote:unrolling_tracking | 1 | 2 | 3 |" in result.stdout
    assert json.loads((tmp_path / "perf.json").read_text())["data"][0]["FEATURES"]["shape"][1] == 3


def test_cli_refuses_existing_results_before_any_work(run_cli, tmp_path):
    out = tmp_path / "bench"
    out.mkdir()
    (out / "latency.png").write_bytes(b"mine")
    result = run_cli("benchmark", "--example", "--local", "--events", "1", "-o", out)
    assert (result.exit_code, result.stderr) == (
        2,
        f"acts-gnn: error: {out / 'latency.png'}: already exists (use --force to replace it)\n",
    )
    (tmp_path / "perf.json").write_text("mine")
    result = run_cli(
        "benchmark", "--example", "--local", "--events", "1", "-o", tmp_path / "new",
        "--export-perf-data", tmp_path / "perf.json",
    )  # fmt: skip
    assert result.exit_code == 2 and "perf.json: already exists" in result.stderr
    assert (out / "latency.png").read_bytes() == b"mine"
    assert not (tmp_path / "new").exists()


def test_cli_keeps_the_finished_points_when_interrupted(run_cli, tmp_path, monkeypatch):
    from acts_gnn.bench import sweep

    def interrupted_sweep(config, events, *, on_point_start, on_point):
        on_point(_point("local", 2.0))
        on_point(_point("served", 1.0, 1, 1))
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep, "run_sweep", interrupted_sweep)
    out = tmp_path / "bench"
    result = run_cli("benchmark", "--example", "--local", "--spawn", "-o", out, "-q")
    assert (result.exit_code, result.stderr.splitlines()[-1]) == (130, "acts-gnn: interrupted")
    payload = json.loads((out / "benchmark.json").read_text())
    assert payload["interrupted"] is True
    assert [(p["mode"], p["events_per_s"]) for p in payload["points"]] == [
        ("local", pytest.approx(2.0)),
        ("served", pytest.approx(1.0)),
    ]
    markdown = (out / "benchmark.md").read_text()
    assert markdown.startswith("**Interrupted** (Ctrl-C): the 2 point(s) that finished;")
    assert {p.name for p in out.iterdir()} == {
        "benchmark.json", "benchmark.md", "throughput.png", "latency.png", "stages.png",
    }  # fmt: skip


def test_a_ctrl_c_while_the_reports_are_written_waits_for_them(run_cli, tmp_path, monkeypatch):
    """Every point done, then Ctrl-C while the reports are written (1.7 s of plots): they were
    all lost."""
    import os
    import signal

    from acts_gnn.bench import report, sweep

    def sweep_done(config, events, *, on_point_start, on_point):
        on_point(_point("local", 2.0))

    write = report.write_reports

    def interrupted_while_writing(points, output_dir, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, in the middle of the writing
        return write(points, output_dir, **kwargs)

    monkeypatch.setattr(sweep, "run_sweep", sweep_done)
    monkeypatch.setattr(report, "write_reports", interrupted_while_writing)
    out = tmp_path / "bench"
    result = run_cli("benchmark", "--example", "--local", "-o", out, "-q")
    assert (result.exit_code, result.stderr.splitlines()[-1]) == (130, "acts-gnn: interrupted")
    payload = json.loads((out / "benchmark.json").read_text())
    assert [p["mode"] for p in payload["points"]] == ["local"]


def test_cli_interrupted_before_any_point_writes_nothing(run_cli, tmp_path, monkeypatch):
    from acts_gnn.bench import sweep

    def interrupted_sweep(config, events, *, on_point_start, on_point):
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep, "run_sweep", interrupted_sweep)
    result = run_cli("benchmark", "--example", "--local", "-o", tmp_path / "bench")
    assert result.exit_code == 130 and not (tmp_path / "bench").exists()
    assert result.stderr.splitlines()[-2:] == [  # said, not only "interrupted"
        "interrupted before a point finished: no report was written",
        "acts-gnn: interrupted",
    ]


def test_cli_interrupted_after_its_last_point_writes_a_whole_report(run_cli, tmp_path, monkeypatch):
    # a Ctrl-C while the spawned server stopped marked every point's report "Interrupted"
    from acts_gnn.bench import sweep

    def sweep_then_ctrl_c(config, events, *, on_point_start, on_point):
        on_point(_point("local", 2.0))
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep, "run_sweep", sweep_then_ctrl_c)
    out = tmp_path / "bench"
    result = run_cli("benchmark", "--example", "--local", "-o", out)
    assert result.exit_code == 130
    assert f"interrupted: all 1 finished point(s) are in {out / 'benchmark.json'}" in result.stderr
    assert json.loads((out / "benchmark.json").read_text())["interrupted"] is False
    assert "Interrupted" not in (out / "benchmark.md").read_text()


def test_cli_interrupted_is_130_even_when_its_points_cannot_be_written(
    run_cli, tmp_path, monkeypatch
):
    from acts_gnn.bench import report, sweep
    from acts_gnn.errors import OutputError

    def interrupted_sweep(config, events, *, on_point_start, on_point):
        on_point(_point("local", 2.0))
        raise KeyboardInterrupt

    def full_disk(*args, **kwargs):
        raise OutputError(f"{tmp_path / 'bench'}: cannot write (No space left on device)")

    monkeypatch.setattr(sweep, "run_sweep", interrupted_sweep)
    monkeypatch.setattr(report, "write_reports", full_disk)
    result = run_cli("benchmark", "--example", "--local", "-o", tmp_path / "bench")
    assert result.exit_code == 130
    assert result.stderr.splitlines()[-2:] == [
        "interrupted: the finished points could not be written "
        f"({tmp_path / 'bench'}: cannot write (No space left on device))",
        "acts-gnn: interrupted",
    ]


def test_root_inputs_take_the_layout_options_of_reconstruct(run_cli, tmp_path):
    import uproot

    path = tmp_path / "other.root"
    with uproot.recreate(path) as handle:
        handle.mktree("hits", {"x": np.float64})
        handle["hits"].extend({"x": np.zeros(3)})
    out = tmp_path / "bench"
    result = run_cli("benchmark", path, "--local", "-o", out, "-q")
    assert (result.exit_code, result.stderr) == (
        2,
        f"acts-gnn: error: {path}: tree 'spacepoints': missing; the file has: hits "
        "(choose with --tree)\n",
    )
    result = run_cli("benchmark", path, "--local", "-o", out, "-q", "--tree", "hits")
    assert (result.exit_code, result.stderr) == (
        2,
        f"acts-gnn: error: {path}: tree 'hits', branch 'event_id': missing; branches are x (map "
        "with --branch key=name)\n",
    )
    assert not out.exists()


def test_an_unreachable_server_is_one_line_and_3(run_cli, tmp_path):
    pytest.importorskip("tritonclient.grpc")
    from acts_gnn.triton.spawn import free_ports

    (port,) = free_ports(1)
    out = tmp_path / "bench"
    result = run_cli(
        "benchmark", "--example", "--url", f"127.0.0.1:{port}", "--concurrency", "1",
        "--events", "1", "-o", out, "-q",
    )  # fmt: skip
    assert result.exit_code == 3, result.stderr
    assert result.stderr.startswith(
        f"acts-gnn: error: 127.0.0.1:{port} (model 'gnn_tracking'): [StatusCode.UNAVAILABLE]"
    )
    assert len(result.stderr.splitlines()) == 1  # no traceback
    assert not out.exists()


def test_a_metrics_url_no_server_can_be_at_is_refused(run_cli, tmp_path):
    result = run_cli(
        "benchmark", "--example", "--url", "127.0.0.1:1", "--metrics-url", "localhost:99999",
        "-o", tmp_path / "bench",
    )  # fmt: skip
    assert (result.exit_code, result.stderr) == (
        2,
        "acts-gnn: error: url 'localhost:99999': the port must be 1 to 65535, got 99999\n",
    )


def test_a_sweep_counts_its_points_as_it_runs_them():
    from acts_gnn.bench.sweep import SweepConfig

    assert SweepConfig(local=True).n_points == 1
    assert SweepConfig(urls=("a:1", "b:2"), concurrency=(1, 2, 4)).n_points == 6
    spawned = SweepConfig(local=True, spawn=True, instances=(1, 2), concurrency=(1, 4))
    assert spawned.n_points == 1 + 2 * 2


def test_the_sweep_takes_acts_gnn_device_as_its_default(events, monkeypatch):
    # it ran on the CPU whatever ACTS_GNN_DEVICE said, unlike reconstruct and serve
    monkeypatch.setenv("ACTS_GNN_DEVICE", "tpu")
    with pytest.raises(ConfigError) as refused:
        run_sweep(SweepConfig(local=True, n_events=1, warmup=0), events)
    assert str(refused.value) == (
        "unknown device 'tpu' (from ACTS_GNN_DEVICE); use cpu, cuda, cuda:N or auto"
    )
    # a model that uses no device ignores it, as reconstruct does
    point = run_sweep(
        SweepConfig(model="unrolling_tracking", local=True, n_events=1, warmup=0), events
    )
    assert len(point) == 1
