"""Readiness a probe can trust, and nothing left behind: a real ``acts-gnn serve`` from start.

From the moment its process starts, HTTP ``GET /v2/health/ready`` and gRPC ``ServerReady`` are
asked as fast as they answer. No answer may say "ready" while a served model is not ready, and an
inference sent at the first "ready" must be answered. Started without ``--workspace`` in an empty
directory, the server leaves nothing there nor in the temporary directory after a clean stop.
"""

from __future__ import annotations

import os
import signal
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

pytestmark = pytest.mark.triton
pytest.importorskip("pytriton", reason="nvidia-pytriton is not installed (acts-gnn[server])")
grpcclient = pytest.importorskip("tritonclient.grpc")

from acts_gnn.finders import make_finder  # noqa: E402
from acts_gnn.io.example import example_dir  # noqa: E402
from acts_gnn.io.source import open_events  # noqa: E402
from acts_gnn.triton.client import RemotePipeline  # noqa: E402
from acts_gnn.triton.spawn import free_ports, start_serve  # noqa: E402

MODELS = ("gnn_tracking", "unrolling_tracking")


def _http_status(url: str) -> int | None:
    """The HTTP status of GET ``url``; None while nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def _grpc_ready(client) -> bool | None:
    """gRPC ServerReady; None while nothing answers."""
    try:
        return client.is_server_ready()
    except Exception:  # tritonclient raises InferenceServerException for a closed port
        return None


def _grpc_model_ready(client, model: str) -> bool | None:
    try:
        return client.is_model_ready(model)
    except Exception:  # the port does not answer yet
        return None


def _first_answer(ask, *args):
    """What ``ask(*args)`` first answers (None means no answer yet), within 10 s."""
    deadline = time.monotonic() + 10
    while (answer := ask(*args)) is None and time.monotonic() < deadline:
        time.sleep(0.005)
    return answer


def test_ready_means_every_model_ready_from_the_first_answer(tmp_path):
    grpc_port, http_port, metrics_port = free_ports(3)
    cwd, system_tmp = tmp_path / "cwd", tmp_path / "tmp"
    cwd.mkdir()
    system_tmp.mkdir()
    log = open(tmp_path / "serve.log", "w")
    process = start_serve(
        [option for model in MODELS for option in ("--model", model)],
        (grpc_port, http_port, metrics_port),
        None,  # serve's default workspace
        log,
        env={"TMPDIR": str(system_tmp)},
        cwd=cwd,
    )
    base = f"http://127.0.0.1:{http_port}/v2"
    client = grpcclient.InferenceServerClient(f"127.0.0.1:{grpc_port}")
    answers: list[tuple[str, object]] = []
    try:
        deadline = time.monotonic() + 240
        while True:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "not ready after 240 s"
            http, grpc = _http_status(f"{base}/health/ready"), _grpc_ready(client)
            answers += [("http", http), ("grpc", grpc)]
            if http == 200 or grpc:
                break
            time.sleep(0.01)
        # the first "ready" from either protocol: every model is ready now, on both protocols
        # (the two ports open one after the other: the first answer of the other must say so)
        models_http = {m: _first_answer(_http_status, f"{base}/models/{m}/ready") for m in MODELS}
        models_grpc = {m: _first_answer(_grpc_model_ready, client, m) for m in MODELS}
        assert models_http == dict.fromkeys(MODELS, 200)
        assert models_grpc == dict.fromkeys(MODELS, True)
        # an event sent at once is answered, and as locally
        (event,) = list(open_events([example_dir()]))
        remote = RemotePipeline([f"127.0.0.1:{grpc_port}"], "gnn_tracking").reconstruct(event)
        np.testing.assert_array_equal(remote.labels, make_finder("gnn").reconstruct(event).labels)
        # before the first "ready" nothing said ready: no answer at all, or "not ready"
        before = answers[:-2]
        assert all(value in (None, 400, False) for _kind, value in before), before
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=60)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            log.close()
            client.close()
    assert code == 0, (tmp_path / "serve.log").read_text()[-3000:]
    assert sorted(cwd.iterdir()) == []  # no ./acts-gnn-triton or run-NNNN folders
    assert sorted(system_tmp.iterdir()) == []  # the private workspace is gone too
