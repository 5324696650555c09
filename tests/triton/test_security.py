"""Security and shutdown: gRPC over TLS, the restricted endpoints' token, SIGTERM drains."""

from __future__ import annotations

import subprocess
import threading
import time

import numpy as np
import pytest

pytestmark = pytest.mark.triton
pytest.importorskip("pytriton", reason="nvidia-pytriton is not installed (acts-gnn[server])")
grpc = pytest.importorskip("tritonclient.grpc")

from acts_gnn.errors import ConfigError, RemoteInferenceError  # noqa: E402
from acts_gnn.finders import make_finder  # noqa: E402
from acts_gnn.io.example import example_dir  # noqa: E402
from acts_gnn.io.source import open_events  # noqa: E402
from acts_gnn.triton.client import RemotePipeline  # noqa: E402
from acts_gnn.triton.contract import access_headers  # noqa: E402
from tests.triton.serving import ServeProcess  # noqa: E402

TOKEN = "s3cret-token-for-tests"


@pytest.fixture(scope="module")
def event():
    (e,) = list(open_events([example_dir()]))
    return e


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 / localhost."""
    directory = tmp_path_factory.mktemp("tls")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(directory / "key.pem"),
            "-out",
            str(directory / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )
    return directory / "cert.pem", directory / "key.pem"


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory, certificate):
    cert, key = certificate
    served = ServeProcess(
        tmp_path_factory.mktemp("tls-serve"),
        "--model",
        "unrolling_tracking",
        "--tls-cert",
        str(cert),
        "--tls-key",
        str(key),
        "--access-token",
        TOKEN,
    ).wait_ready()
    yield served
    assert served.terminate() == 0


def test_tls_round_trip_and_plain_clients_are_refused(tls_server, certificate, event):
    cert, _ = certificate
    assert "ready: gRPC (TLS)" in tls_server.log()
    remote = RemotePipeline([tls_server.grpc_url], "unrolling_tracking", tls_root_cert=cert)
    np.testing.assert_array_equal(
        remote.reconstruct(event).labels, make_finder("unrolling").reconstruct(event).labels
    )
    plain = RemotePipeline([tls_server.grpc_url], "unrolling_tracking", retries=0, timeout_s=5)
    with pytest.raises(RemoteInferenceError):
        plain.reconstruct(event)


def test_restricted_endpoints_need_the_token(tls_server, certificate):
    cert, _ = certificate
    client = grpc.InferenceServerClient(tls_server.grpc_url, ssl=True, root_certificates=str(cert))
    with pytest.raises(Exception, match="restricted"):
        client.get_inference_statistics("unrolling_tracking")
    stats = client.get_inference_statistics(
        "unrolling_tracking", headers=access_headers(TOKEN), as_json=True
    )
    assert stats["model_stats"][0]["name"] == "unrolling_tracking"


def test_tls_options_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="TLS is supported for gRPC only"):
        RemotePipeline(["a:1"], protocol="http", tls_root_cert=tmp_path / "x.pem")
    with pytest.raises(ConfigError, match="no such file"):
        RemotePipeline(["a:1"], tls_root_cert=tmp_path / "missing.pem")
    with pytest.raises(ConfigError, match=r"x\.pem: not a file$"):
        (tmp_path / "x.pem").mkdir()
        RemotePipeline(["a:1"], tls_root_cert=tmp_path / "x.pem")
    (tmp_path / "key.pem").write_text("-----BEGIN PRIVATE KEY-----\nabc\n")
    with pytest.raises(ConfigError) as info:  # gRPC logged a line and failed every connection
        RemotePipeline(["a:1"], tls_root_cert=tmp_path / "key.pem")
    assert str(info.value) == (
        f"--tls-root-cert {tmp_path / 'key.pem'}: no PEM certificate in it (expected a line "
        "-----BEGIN CERTIFICATE-----)"
    )


def test_sigterm_drains_requests_in_flight(tmp_path, event):
    served = ServeProcess(tmp_path, "--model", "unrolling_tracking").wait_ready()
    remote = RemotePipeline([served.grpc_url], "unrolling_tracking", retries=0, timeout_s=60)
    results: list = []
    errors: list = []

    def ask() -> None:
        try:
            results.append(remote.reconstruct(event).labels)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)  # the requests are queued or running on the one instance
    code = served.terminate()
    for thread in threads:
        thread.join()
    assert errors == [] and len(results) == 4
    expected = make_finder("unrolling").reconstruct(event).labels
    for labels in results:
        np.testing.assert_array_equal(labels, expected)
    assert code == 0
