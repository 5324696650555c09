"""RemotePipeline logic with a fake transport: retries, failover, fallback, error translation."""

from __future__ import annotations

import numpy as np
import pytest

from acts_gnn.errors import (
    ConfigError,
    ModelUnavailableError,
    RemoteInferenceError,
    RemoteTimeoutError,
    RequestRefusedError,
    UnknownModelError,
    WrongProtocolError,
)
from acts_gnn.finders import TruthTrackFinder
from acts_gnn.io.example import example_dir
from acts_gnn.io.source import open_events
from acts_gnn.triton import client as client_module
from acts_gnn.triton.client import RemotePipeline, _one_line, _Retriable, server_urls


@pytest.fixture(scope="module")
def event():
    (e,) = list(open_events([example_dir()]))
    return e


def _fake(pipeline, behaviour):
    calls = []

    def infer_once(url, features):
        calls.append(url)
        outcome = behaviour(url, len(calls))
        if isinstance(outcome, Exception):
            raise outcome
        return {"LABELS": np.arange(features.shape[0], dtype=np.int64)}

    pipeline._infer_once = infer_once
    return calls


def test_failover_to_the_second_server_and_stickiness(event, monkeypatch):
    monkeypatch.setattr(client_module.time, "sleep", lambda s: None)
    remote = RemotePipeline(["a:1", "b:2"], server_timing=False)
    down = _Retriable(RemoteInferenceError("a:1", "gnn_tracking", "unavailable"))
    calls = _fake(remote, lambda url, n: down if url == "a:1" else None)
    result = remote.reconstruct(event)
    np.testing.assert_array_equal(result.labels, np.arange(len(event)))
    remote.reconstruct(event)
    assert calls == ["a:1", "b:2", "b:2"]  # the answering server is tried first afterwards
    assert remote.attempts == {"answered": 2, "failed": 1, "failover": 1}


def test_bounded_retries_with_backoff_then_the_error(event, monkeypatch):
    sleeps = []
    monkeypatch.setattr(client_module.time, "sleep", sleeps.append)
    remote = RemotePipeline(["a:1", "b:2"], retries=2, backoff_s=0.5)
    timeout = _Retriable(RemoteTimeoutError("a:1", "gnn_tracking", "no answer within 60 s"))
    calls = _fake(remote, lambda url, n: timeout)
    with pytest.raises(RemoteTimeoutError) as raised:
        remote.reconstruct(event)
    # the last failure, and how many came before it (it said "no answer within 60 s" alone)
    assert str(raised.value) == (
        "a:1 (model 'gnn_tracking'): no answer within 60 s (the last of 6 tries: 3 rounds over "
        "2 servers)"
    )
    assert len(calls) == 6 and sleeps == [0.5, 1.0]
    assert remote.attempts == {"failed": 6, "retry_rounds": 2}


def test_non_retriable_errors_are_raised_at_once(event):
    remote = RemotePipeline(["a:1", "b:2"])
    calls = _fake(remote, lambda url, n: ModelUnavailableError(url, "x", "unknown model"))
    with pytest.raises(ModelUnavailableError):
        remote.reconstruct(event)
    assert calls == ["a:1"]


def test_local_fallback(event, monkeypatch):
    monkeypatch.setattr(client_module.time, "sleep", lambda s: None)
    remote = RemotePipeline(["a:1"], retries=1, fallback=TruthTrackFinder())
    _fake(remote, lambda url, n: _Retriable(RemoteInferenceError(url, "m", "refused")))
    assert remote.reconstruct(event).timing.backend == "truth"
    assert remote.attempts == {"failed": 2, "retry_rounds": 1, "fallback": 1}


def test_the_callers_mistakes_are_not_hidden_by_the_fallback(event):
    remote = RemotePipeline(["a:1"], fallback=TruthTrackFinder())
    for mistake in (
        UnknownModelError("a:1", "x", "unknown model"),
        WrongProtocolError("a:1", "x", "a gRPC port?"),
    ):
        _fake(remote, lambda url, n, mistake=mistake: mistake)
        with pytest.raises(type(mistake)) as info:
            remote.reconstruct(event)
        assert info.value.exit_code == 2
    assert "fallback" not in remote.attempts


def test_the_messages_of_the_wrong_protocol_or_model_say_what_to_give():
    def message(exc: Exception, url: str) -> str:
        return str(client_module.classify_failure(exc, url, "m", 5.0)[0])

    assert message(Exception("('Expected HTTP/, RTSP/ or ICE/', 8)"), "h:8001") == (
        "h:8001 (model 'm'): the port does not answer in HTTP/1.1, a gRPC port? (the server's "
        "HTTP port is needed, Triton's default 8000, or the gRPC protocol)"
    )
    closed = _StatusError("failed to connect: Socket closed", "StatusCode.UNAVAILABLE")
    assert message(closed, "h:8000").endswith(
        "Socket closed (if this is the server's HTTP port: its gRPC port is needed, Triton's "
        "default 8001, or the HTTP protocol)"
    )
    cut = _StatusError("Stream removed (Socket closed)", "StatusCode.UNAVAILABLE")
    assert message(cut, "h:8001") == (  # a server killed while it answered: no port advice
        "h:8001 (model 'm'): Stream removed (Socket closed) (the server closed the connection "
        "while answering)"
    )
    assert client_module.classify_failure(cut, "h:8001", "m", 5.0)[1]  # tried again
    missing = Exception("[StatusCode.NOT_FOUND] Request for unknown model: 'm' is not found")
    assert message(missing, "h:8001").endswith(
        "is not found (check the model's name: the server's ready line or repository lists "
        "its models)"
    )


@pytest.mark.parametrize(
    ("features", "message"),
    [
        (np.zeros((0, 3)), "FEATURES has no rows; send at least one space point"),
        (np.zeros((4, 2)), "FEATURES must have shape [N, 3], got [4, 2]"),
        (np.array([[0.1, 2e3, 0.1]]), "FEATURES row 0 is beyond 1000"),
    ],
)
def test_features_a_server_would_refuse_are_refused_before_a_request(features, message):
    # port 1: nothing listens; an empty array failed inside PyTriton's stub (INTERNAL) before
    from acts_gnn.triton.contract import ContractError

    with pytest.raises(ContractError) as refused:
        RemotePipeline(["127.0.0.1:1"], retries=0).infer(features)
    assert str(refused.value).startswith(message)


def test_error_text_is_one_line():
    text = (
        "[StatusCode.INTERNAL] Failed ...\nTraceback...\n"
        "pytriton.exceptions.PyTritonBadParameterError: FEATURES row 0 is not finite: [1, nan]"
        "\n\nAt:\n  model.py(501)"
    )
    assert _one_line(text) == "FEATURES row 0 is not finite: [1, nan]"
    assert _one_line("[StatusCode.NOT_FOUND] unknown model 'x'\nmore") == (
        "[StatusCode.NOT_FOUND] unknown model 'x'"
    )
    remote = RemotePipeline(["h:1"], model="m")
    error = remote._translate("h:1", Exception("[StatusCode.NOT_FOUND] Request for unknown model"))
    assert isinstance(error, ModelUnavailableError)
    assert isinstance(remote._translate("h:1", Exception("Deadline Exceeded")), RemoteTimeoutError)


def test_a_hung_server_is_cut_off_by_the_timeout(event):
    """A server that accepts connections and never answers (hung) costs one timeout, not more."""
    import socket
    import threading
    import time

    pytest.importorskip("tritonclient.grpc")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    url = f"127.0.0.1:{listener.getsockname()[1]}"
    remote = RemotePipeline([url], retries=0, timeout_s=1.5, server_timing=False)
    start = time.monotonic()
    with pytest.raises(RemoteTimeoutError, match=f"{url} .*no answer within 1.5 s"):
        remote.reconstruct(event)
    assert time.monotonic() - start < 10
    for connection, _address in accepted:
        connection.close()
    listener.close()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("host:8001", ["host:8001"]),
        (("a:1", "b:2"), ["a:1", "b:2"]),
        (["a:1"], ["a:1"]),
    ],
)
def test_urls_are_a_string_or_a_sequence(url, expected):
    assert server_urls(url) == expected


def test_a_url_without_a_port_takes_tritons_default_for_the_protocol():
    grpc_urls = RemotePipeline(["localhost", "a:1", "grpc://b", "[::1]:9"], "m").urls
    assert grpc_urls == ["localhost:8001", "a:1", "b:8001", "[::1]:9"]
    assert RemotePipeline("http://h", "m", protocol="http").urls == ["h:8000"]


def test_a_scheme_that_says_the_other_protocol_is_refused():
    # http:// was dropped and the request went in gRPC to the HTTP port (exit 3, "retry later")
    with pytest.raises(ConfigError) as info:
        RemotePipeline(["a:1", "http://127.0.0.1:8000"], "m")
    assert str(info.value) == (
        "url 'http://127.0.0.1:8000' is http but the protocol is grpc: give --protocol http (and "
        "the server's http port), or the URL without its scheme"
    )
    with pytest.raises(ConfigError, match="url 'grpc://b' is grpc but the protocol is http"):
        RemotePipeline("grpc://b", "m", protocol="http")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (8001, "url must be 'host:port' or a list of them, got int 8001"),
        (b"host:8001", "url must be 'host:port' or a list of them, got bytes b'host:8001'"),
        (["a:1", 2], "url must be 'host:port' or a list of them, got 2 in ['a:1', 2]"),
        ([], "give at least one server URL"),
        ("127.0.0.1:abc", "url '127.0.0.1:abc': expected host or host:port (an IPv6 address "
         "in brackets), with no path"),
        ("h:8001/v2", "url 'h:8001/v2': expected host or host:port (an IPv6 address in "
         "brackets), with no path"),
        ("127.0.0.1:99999", "url '127.0.0.1:99999': the port must be 1 to 65535, got 99999"),
        (["a:1", "b:0"], "url 'b:0': the port must be 1 to 65535, got 0"),
        ("", "url must be 'host:port' or a list of them, got ''"),  # --url ''
        ("https://h:8001", "url 'https://h:8001': give host:port; TLS is --tls-root-cert (the "
         "server's certificate)"),
    ],
)  # fmt: skip
def test_other_urls_are_refused_clearly(url, message):
    with pytest.raises(ConfigError) as info:
        server_urls(url)
    assert str(info.value) == message


class _StatusError(Exception):
    """tritonclient's InferenceServerException: a message and a status() method."""

    def __init__(self, message: str, status: str | None) -> None:
        super().__init__(message)
        self._status = status

    def status(self) -> str | None:
        return self._status


@pytest.mark.parametrize(
    ("exc", "error", "again"),
    [
        (_StatusError("Deadline Exceeded", "StatusCode.DEADLINE_EXCEEDED"), RemoteTimeoutError,
         True),
        (_StatusError("gateway timeout", "504"), RemoteTimeoutError, True),
        (_StatusError("failed to connect to all addresses", "StatusCode.UNAVAILABLE"),
         RemoteInferenceError, True),
        (_StatusError("Service Unavailable", "503"), RemoteInferenceError, True),
        (_StatusError("model 'm' is not ready", "StatusCode.UNAVAILABLE"), ModelUnavailableError,
         True),
        (_StatusError("Request for unknown model: 'm' is not found", "StatusCode.NOT_FOUND"),
         UnknownModelError, False),
        (_StatusError("Request for unknown model: 'm' is not found", "404"), UnknownModelError,
         False),
        (_StatusError("Request for unknown model", "404"), ModelUnavailableError, False),
        # a model the server has but cannot run yet (loading, unloading, draining): tried again
        (_StatusError("Request for unknown model: 'm' has no available versions",
                      "StatusCode.UNAVAILABLE"), ModelUnavailableError, True),
        (_StatusError("Request for unknown model: 'm' version 1 is not at ready state",
                      "StatusCode.UNAVAILABLE"), ModelUnavailableError, True),
        (Exception("('Expected HTTP/, RTSP/ or ICE/', 8)"), WrongProtocolError, False),
        (_StatusError("failed to connect to all addresses; last error: UNAVAILABLE: "
                      "ipv4:127.0.0.1:8000: Socket closed", "StatusCode.UNAVAILABLE"),
         RemoteInferenceError, True),
        (_StatusError("FEATURES must be [N, 3]", "StatusCode.INVALID_ARGUMENT"),
         RemoteInferenceError, False),
        (_StatusError("[StatusCode.INTERNAL] boom\nConnection reset by peer", None),
         RemoteInferenceError, True),
        (ConnectionRefusedError(111, "Connection refused"), RemoteInferenceError, True),
        (TimeoutError("timed out"), RemoteTimeoutError, True),
        (ValueError("bad"), RemoteInferenceError, False),
        # the server's own refusal of the request as given: never worth retrying, exit 2
        (_StatusError("[StatusCode.INTERNAL] Failed\npytriton.exceptions.PyTritonBadParameter"
                      "Error: FEATURES has 103713 rows, more than this server's cap of 1000",
                      "StatusCode.INTERNAL"), RequestRefusedError, False),
        # the same as acts-gnn serve's patched stub answers it: one line, INVALID_ARGUMENT
        (_StatusError("[StatusCode.INVALID_ARGUMENT] PyTritonBadParameterError: FEATURES row 0 "
                      "is not finite: [1.0, nan, 0.0]", "StatusCode.INVALID_ARGUMENT"),
         RequestRefusedError, False),
    ],
)  # fmt: skip
def test_one_classifier_decides_error_and_retry_from_the_status(exc, error, again):
    raised, retriable = client_module.classify_failure(exc, "h:1", "m", 5.0)
    assert type(raised) is error and retriable is again
    assert str(raised).startswith("h:1 (model 'm'): ")
    if error is RemoteTimeoutError:
        assert str(raised) == "h:1 (model 'm'): no answer within 5 s"


def test_retry_policy_is_frozen_checked_and_used(event, monkeypatch):
    sleeps = []
    monkeypatch.setattr(client_module.time, "sleep", sleeps.append)
    policy = client_module.RetryPolicy(retries=3, backoff_s=0.25)
    assert [policy.pause_before(a) for a in range(4)] == [0.0, 0.25, 0.5, 1.0]
    capped = client_module.RetryPolicy(retries=40, backoff_s=0.5, max_backoff_s=3.0)
    assert [capped.pause_before(a) for a in (0, 1, 2, 3, 4, 40)] == [0.0, 0.5, 1.0, 2.0, 3.0, 3.0]
    # the default cap (30 s) leaves the default policies' pauses as they were; a first pause
    # longer than a cap is kept: the cap never shortens what was asked
    assert [client_module.RetryPolicy(6, 0.5).pause_before(a) for a in range(1, 7)] == [
        0.5, 1, 2, 4, 8, 16
    ]  # fmt: skip
    assert [client_module.RetryPolicy(backoff_s=20).pause_before(a) for a in (1, 2)] == [20, 30]
    late = client_module.RetryPolicy(backoff_s=40, max_backoff_s=30)
    assert [late.pause_before(a) for a in (1, 2)] == [40, 40]
    with pytest.raises(AttributeError):
        policy.retries = 1  # type: ignore[misc]
    with pytest.raises(ConfigError, match="--retries must be 0 or more, got -1"):
        client_module.RetryPolicy(retries=-1)
    with pytest.raises(ConfigError, match="--backoff must be 0 to 3600 s, got -2"):
        client_module.RetryPolicy(backoff_s=-2)
    remote = RemotePipeline(["a:1"], retry=policy)
    down = _Retriable(RemoteInferenceError("a:1", "m", "refused"))
    calls = _fake(remote, lambda url, n: down)
    with pytest.raises(RemoteInferenceError, match="refused"):
        remote.reconstruct(event)
    assert len(calls) == 4 and sleeps == [0.25, 0.5, 1.0]


@pytest.mark.parametrize("backoff", [float("inf"), 1e308, float("nan"), -1.0])
def test_a_backoff_no_clock_can_wait_is_refused(backoff):
    with pytest.raises(ConfigError) as info:
        RemotePipeline("a:1", "m", backoff_s=backoff)
    assert str(info.value) == f"--backoff must be 0 to 3600 s, got {backoff:g}"


@pytest.mark.parametrize("timeout", [0.0, -5.0, float("nan"), float("inf")])
def test_a_timeout_no_request_can_meet_is_refused(timeout):
    with pytest.raises(ConfigError) as info:
        RemotePipeline("a:1", "m", timeout_s=timeout)
    assert str(info.value) == f"--timeout-s must be a number of seconds above 0, got {timeout:g}"


def test_the_remote_client_describes_the_servers_it_asks():
    remote = RemotePipeline(
        ["localhost:18999", "grpc://other"], "gnn_tracking", fallback=TruthTrackFinder()
    )
    assert remote.describe() == {
        "finder": "remote:gnn_tracking",
        "servers": ["localhost:18999", "other:8001"],
        "model": "gnn_tracking",
        "protocol": "grpc",
        "fallback": {"finder": "truth"},
    }


def test_a_model_the_server_is_unloading_is_said_so():
    # a server stopping under a run: "unknown model: … has no available versions" read as a
    # mistyped name
    exc = _StatusError(
        "[StatusCode.NOT_FOUND] Request for unknown model: 'm' has no available versions",
        "StatusCode.NOT_FOUND",
    )
    raised, _ = client_module.classify_failure(exc, "h:1", "m", 5.0)
    assert str(raised).endswith(
        "(the server has the model but is loading or unloading it: starting or stopping?)"
    )


def test_a_server_given_twice_is_refused():
    # accepted: a failover to the server that had just failed, and recorded twice
    with pytest.raises(ConfigError) as refused:
        RemotePipeline(["h", "grpc://h:8001"], "gnn_tracking")
    assert str(refused.value) == "--url h:8001 given twice: give each server once"
