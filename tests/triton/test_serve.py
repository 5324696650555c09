"""A real ``acts-gnn serve`` (PyTriton's tritonserver) on free local ports."""

from __future__ import annotations

import time

import numpy as np
import pytest

pytestmark = pytest.mark.triton
pytest.importorskip("pytriton", reason="nvidia-pytriton is not installed (acts-gnn[server])")
grpc = pytest.importorskip("tritonclient.grpc")

from acts_gnn.finders import make_finder  # noqa: E402
from acts_gnn.io.example import example_dir  # noqa: E402
from acts_gnn.io.source import open_events  # noqa: E402
from acts_gnn.triton.client import RemotePipeline  # noqa: E402
from tests.triton.serving import ServeProcess, free_ports  # noqa: E402

MAX_SPACEPOINTS = 10_000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    served = ServeProcess(
        tmp_path_factory.mktemp("triton"),
        "--instances",
        "2",
        "--max-spacepoints",
        str(MAX_SPACEPOINTS),
    ).wait_ready()
    yield served.grpc_url, served.metrics_url, served.http_url, served
    assert served.terminate() == 0
    assert "stopped" in served.log()


@pytest.fixture(scope="module")
def event():
    (e,) = list(open_events([example_dir()]))
    return e


@pytest.mark.parametrize(
    ("model", "backend"),
    [
        ("gnn_tracking", "gnn"),
        ("gnn_tracking_walk", "gnn_walk"),
        ("unrolling_tracking", "unrolling"),
    ],
)
def test_remote_labels_equal_local(server, event, model, backend):
    remote = RemotePipeline([server[0]], model).reconstruct(event)
    local = make_finder(backend).reconstruct(event)
    np.testing.assert_array_equal(remote.labels, local.labels)
    assert remote.timing.n_edges_graph == local.timing.n_edges_graph
    assert set(remote.timing.stages_s) == set(local.timing.stages_s)


def test_http_protocol(server, event):
    remote = RemotePipeline([server[2]], "gnn_tracking", protocol="http")
    result = remote.reconstruct(event)
    np.testing.assert_array_equal(result.labels, make_finder("gnn").reconstruct(event).labels)
    assert result.timing.n_edges_graph > 0 and "filter" in result.timing.stages_s


def _request(url, array, dtype="FP32", model="gnn_tracking"):
    client = grpc.InferenceServerClient(url)
    tensor = grpc.InferInput("FEATURES", list(array.shape), dtype)
    tensor.set_data_from_numpy(array)
    return client.infer(model, [tensor])  # only FEATURES, as ACTS's C++ client sends


def test_raw_features_only_request(server, event):
    labels = _request(server[0], event.features()).as_numpy("LABELS")
    assert labels.dtype == np.int64 and labels.shape == (len(event),)


@pytest.mark.parametrize(
    ("array", "dtype", "model", "message"),
    [
        (
            np.ones((3, 3)),
            "FP64",
            "gnn_tracking",
            "data-type is 'FP64', but model 'gnn_tracking' expects 'FP32'",
        ),
        (np.ones((3, 4), np.float32), "FP32", "gnn_tracking", "Expected [-1,3], got [3,4]"),
        # PyTriton's proxy refuses an empty tensor before our check runs, with its own message
        (np.zeros((0, 3), np.float32), "FP32", "gnn_tracking", "cannot cast view with zeros"),
        (np.array([[0.1, 0.2, np.nan]], np.float32), "FP32", "gnn_tracking", "row 0 is not finite"),
        (
            np.array([[0.1, 0.2, 0.3], [0.1, 0.2, -3e4]], np.float32),
            "FP32",
            "gnn_tracking",
            "row 1 is beyond 1000 (a position over a kilometre away)",
        ),
        (
            np.full((MAX_SPACEPOINTS + 1, 3), 0.1, np.float32),
            "FP32",
            "gnn_tracking",
            f"more than this server's cap of {MAX_SPACEPOINTS}",
        ),
        (np.ones((3, 3), np.float32), "FP32", "no_such_model", "unknown model"),
    ],
)
def test_bad_requests_are_refused_and_the_server_goes_on(
    server, event, array, dtype, model, message
):
    with pytest.raises(Exception) as info:
        _request(server[0], array, dtype, model)
    assert message in str(info.value)
    assert _request(server[0], event.features()[:50]).as_numpy("LABELS").shape == (50,)


def test_a_refused_request_is_one_line_of_the_servers_log(server):
    with pytest.raises(Exception) as info:
        _request(server[0], np.array([[0.1, 0.2, np.nan]], np.float32))
    # the client's message names the error once, without the backend's chain of causes
    assert str(info.value).count("row 0 is not finite") == 1
    expected = "acts-gnn: refused a request to gnn_tracking: FEATURES row 0 is not finite: [0.1"
    deadline = time.monotonic() + 10
    while expected not in server[3].log() and time.monotonic() < deadline:
        time.sleep(0.1)
    log = server[3].log()
    assert expected in log
    # PyTriton's own warning of it, a Python traceback over many lines, is left out, and so is
    # Triton's log line of the stub's error (with the same traceback, escaped)
    assert "Exception while performing inference" not in log
    assert not any(line.startswith("Traceback") for line in log.splitlines())
    # (counted, not by line: Triton's and serve's lines may interleave in one file)
    assert log.count("is not finite") == log.count(
        "acts-gnn: refused a request to gnn_tracking: FEATURES row 0 is not finite"
    )
    # the client's status says the request itself is wrong, with no traceback
    assert "INVALID_ARGUMENT" in str(info.value) and "Traceback" not in str(info.value)


def test_a_refused_request_is_http_400_with_its_one_line(server):
    import json
    import urllib.error
    import urllib.request

    body = {"inputs": [{"name": "FEATURES", "shape": [2, 3], "datatype": "FP32",
                        "data": [[1e38, 0.1, 0.1], [0.1, 0.2, 0.3]]}]}  # fmt: skip
    request = urllib.request.Request(
        f"http://{server[2]}/v2/models/gnn_tracking/infer", data=json.dumps(body).encode()
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 400  # was 500, with the backend's traceback in the body
    assert json.loads(refused.value.read()) == {
        "error": "PyTritonBadParameterError: FEATURES row 0 is beyond 1000 (a position over a "
        "kilometre away): [9.999999680285692e+37, 0.10000000149011612, 0.10000000149011612]"
    }


def test_failover_from_a_dead_url(server, event):
    dead = f"127.0.0.1:{free_ports(1)[0]}"
    remote = RemotePipeline([dead, server[0]], retries=0, timeout_s=30)
    assert remote.reconstruct(event).labels.shape == (len(event),)
    assert (remote.attempts["failed"], remote.attempts["failover"]) == (1, 1)


def test_metrics_count_requests(server, event):
    import urllib.request

    def successes() -> float:
        text = urllib.request.urlopen(f"http://{server[1]}/metrics", timeout=10).read().decode()
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("nv_inference_request_success{")
        )

    before = successes()
    RemotePipeline([server[0]]).reconstruct(event)
    deadline = time.monotonic() + 15  # Triton refreshes its metrics every couple of seconds
    while successes() < before + 1 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert successes() >= before + 1


def test_statistics_without_the_token_are_one_clear_refusal(server):
    # the benchmark reads queue and compute times from Triton's statistics, which a default
    # serve (a random access token) keeps to holders of its token
    from acts_gnn.bench.probe import ServerStatistics
    from acts_gnn.errors import ConfigError

    grpc_url = server[0]
    with pytest.raises(ConfigError) as refused:
        ServerStatistics(grpc_url, "gnn_tracking").read()
    assert str(refused.value) == (
        f"{grpc_url}: the server shows its statistics only with its access token: give "
        "--access-token (or set ACTS_GNN_ACCESS_TOKEN) as its acts-gnn serve was given"
    )
