"""benchmarks/gpu_serve.py: the served GPU sweep's report, its packed serving environment, and
the script itself end to end on the CPU."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib.metadata import requires, version
from pathlib import Path

import pytest

from benchmarks.gpu_serve import GPU_ANCHORS, render

REPO = Path(__file__).resolve().parents[2]

#: what PyTriton and tritonclient need that the GPU machine's image already holds (its package
#: list, ../.library/device/KINDS.md); everything else must be packed by `make gpu-prepare-serve`
IMAGE_PROVIDES = {
    "ml-dtypes",
    "urllib3",
    "typing-inspect",
    "wrapt",
    "typer",
    "aiohttp",
    "packaging",
}


def _point(mode, instances, concurrency, events_per_s, gpu=None, memory=None):
    return {
        "mode": mode,
        "instances": instances,
        "concurrency": concurrency,
        "events_per_s": events_per_s,
        "latency_p50_s": 0.0405,
        "latency_p99_s": 0.0912,
        "server": {"queue_s": 0.002, "compute_s": 0.038} if mode == "served" else {},
        "utilisation": {"gpu_utilisation": gpu, "gpu_memory_bytes": memory},
    }


def test_render_without_results_says_so_and_keeps_the_anchors():
    lines = render(None)
    assert lines[0] == "## (c′) Served on a GPU (`make gpu-serve`)"
    assert "Not measured yet: no GPU machine has run `make gpu-serve`." in lines
    assert (
        "| acts-aas (ACTS GNN as a service) | one A100 | μ = 200 | 1.14 ev/s (1 instance) → "
        "1.65 ev/s (4 instances) |" in lines
    )
    assert sum(line.startswith("| ") for line in lines) == 2 + len(GPU_ANCHORS)  # head, rule


def test_render_of_a_run():
    serve = {
        "date": "2026-12-04",
        "machine": "Xeon, 16 cores, GPU NVIDIA H200",
        "info": {"python": "3.12.3", "torch": "2.11.0+cu130"},
        "events": [100_000, 110_000, 120_000],
        "events_per_point": 24,
        "precision": "bf16",
        "labels": {"events": 3, "equal": 3},
        "failures": [{"instances": 4, "error": "the spawned acts-gnn serve did not start"}],
        "points": [
            _point("local", None, 1, 20.0, gpu=0.5, memory=3 * 2**30),
            _point("served", 2, 8, 30.5, gpu=0.93, memory=6.5 * 2**30),
        ],
        "served_to_local_ratio": 1.525,
    }
    lines = render(serve)
    assert (
        "Run of 2026-12-04 on Xeon, 16 cores, GPU NVIDIA H200 (Python 3.12.3, torch "
        "2.11.0+cu130); 3 events of 110,000 space points on average, 24 requests per point, bf16. "
        "Served labels equal the in-process ones on 3 of 3 events." in lines
    )
    assert "**×4 did not start:** the spawned acts-gnn serve did not start" in lines
    assert "| local | – | 1 | **20.00** | 40.5 | 91.2 | – | – | 50% | 3.0 |" in lines
    assert "| served | 2 | 8 | **30.50** | 40.5 | 91.2 | 2.0 | 38.0 | 93% | 6.5 |" in lines
    assert "Served / in-process throughput (best points): **1.525**" in lines
    # a run whose servers never started
    serve.update(points=serve["points"][:1], served_to_local_ratio=None)
    serve["points"][0]["utilisation"] = {}
    lines = render(serve)
    assert "| local | – | 1 | **20.00** | 40.5 | 91.2 | – | – | – | – |" in lines
    assert "No served point was measured." in lines


def _makefile_list(name: str) -> list[str]:
    text = (REPO / "Makefile").read_text()
    match = re.search(rf"^{name} = ((?:.*\\\n)*.*)$", text, re.MULTILINE)
    assert match, f"{name} is not in the Makefile"
    return match.group(1).replace("\\\n", " ").split()


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_packed_serving_environment_covers_pytriton_and_its_client():
    packed = {_normal(n) for n in _makefile_list("GPU_SERVE_DISTS")}
    for dist in packed:  # gpu-prepare-serve pins each to this venv's version
        assert version(dist)
    needed = set()
    for dist, extras in (("nvidia-pytriton", set()), ("tritonclient", {"grpc", "http"})):
        for requirement in requires(dist) or []:
            name, _, marker = requirement.partition(";")
            extra = re.search(r"extra == ['\"]([\w-]+)['\"]", marker)
            if extra is None or extra.group(1) in extras:
                needed.add(_normal(re.split(r"[\s<>=!~\[(]", name.strip())[0]))
    assert needed - packed - IMAGE_PROVIDES == set()
    assert {"nvidia-pytriton", "tritonclient", "numpy", "pyzmq"} <= packed


@pytest.mark.triton
def test_the_sweep_runs_end_to_end_on_the_cpu(tmp_path):
    pytest.importorskip("pytriton", reason="nvidia-pytriton is not installed (acts-gnn[server])")
    from acts_gnn.io.cache import build_cache
    from acts_gnn.io.example import example_dir
    from acts_gnn.io.source import open_events

    build_cache(open_events([example_dir()]), tmp_path / "events")
    out = tmp_path / "out"
    run = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "gpu_serve.py"),
            str(out),
            "--events",
            str(tmp_path / "events"),
            "--device",
            "cpu",
            "--instances",
            "1",
            "--concurrency",
            "1,2",
            "--events-per-point",
            "2",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads((out / "gpu_serve.json").read_text())
    assert result["labels"] == {"events": 1, "equal": 1} and result["failures"] == []
    assert [(p["mode"], p["instances"], p["concurrency"]) for p in result["points"]] == [
        ("local", None, 1),
        ("served", 1, 1),
        ("served", 1, 2),
    ]
    for point in result["points"][1:]:
        assert point["server"]["requests"] == 2  # the warm-up is not counted
    assert result["info"]["stub_numpy"].startswith(result["info"]["numpy"])
    assert {p.name for p in (out / "serve").iterdir()} == {
        "benchmark.json",
        "benchmark.md",
        "throughput.png",
        "latency.png",
        "stages.png",
    }
    assert "served labels equal the in-process ones on 1 of 1 events" in run.stdout
    log = (out / "servers.log").read_text()  # the server's own output, kept for diagnosis
    assert log.startswith("=== acts-gnn serve --instances 1 ===\n") and "ready:" in log
    assert {p.name for p in out.iterdir()} == {"gpu_serve.json", "servers.log", "serve"}
