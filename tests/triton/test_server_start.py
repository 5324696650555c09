"""``serve`` restarts Triton when a model load fails, and gives up with one clear error.

PyTriton's ``Triton`` is replaced by a recorder whose ``run`` (start tritonserver, which loads the
bound models before it opens its ports) fails a chosen number of times the way a lost instance
handshake fails (a Triton ``InferenceServerException``).
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import ClassVar

import pytest

pytest.importorskip("pytriton", reason="nvidia-pytriton is not installed (acts-gnn[server])")

import pytriton.triton
from tritonclient.utils import InferenceServerException

from acts_gnn.errors import ConfigError, ServerStartError
from acts_gnn.triton import server

LOAD_ERROR = (
    "[400] load failed for model 'unrolling_tracking': version 1 is at UNAVAILABLE state\n"
    "Traceback (most recent call last): ..."
)


class FakeTriton:
    """Counts starts, binds and runs; ``run`` fails while ``failures`` is positive."""

    failures = 0
    workspaces: ClassVar[list] = []
    policies: ClassVar[list] = []
    bound: ClassVar[list] = []
    runs = 0
    stops = 0

    def __init__(self, config, workspace, triton_lifecycle_policy=None, security_config=None):
        FakeTriton.workspaces.append(workspace)
        FakeTriton.policies.append(triton_lifecycle_policy)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        FakeTriton.stops += 1
        return False

    def bind(self, **kwargs):
        FakeTriton.bound.append(kwargs["model_name"])

    def run(self):
        if FakeTriton.failures > 0:
            FakeTriton.failures -= 1
            raise InferenceServerException(LOAD_ERROR)
        FakeTriton.runs += 1

    def is_alive(self):
        signal.raise_signal(signal.SIGTERM)  # what a user's kill does: serve must return
        return True


@pytest.fixture
def fake_triton(monkeypatch, tmp_path):
    FakeTriton.workspaces = []
    FakeTriton.policies = []
    FakeTriton.bound = []
    FakeTriton.runs = 0
    FakeTriton.stops = 0
    monkeypatch.setattr(pytriton.triton, "Triton", FakeTriton)
    monkeypatch.setattr(server, "_ALIVE_CHECK_S", 0.01)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    return server.ServerConfig(models=("unrolling_tracking",), workspace=tmp_path / "ws")


def test_a_failed_load_restarts_triton_in_a_fresh_workspace(fake_triton):
    FakeTriton.failures = server.LOAD_ATTEMPTS - 1
    before = signal.getsignal(signal.SIGTERM)
    ready, retries = [], []
    server.serve(fake_triton, on_ready=ready.append, on_retry=retries.append)
    assert FakeTriton.runs == 1
    assert FakeTriton.stops == server.LOAD_ATTEMPTS
    assert len(set(FakeTriton.workspaces)) == server.LOAD_ATTEMPTS
    assert len(ready) == 1 and ready[0].startswith("ready: gRPC 127.0.0.1:8001")
    assert retries == [
        "model load failed ([400] load failed for model 'unrolling_tracking': version 1 is at "
        f"UNAVAILABLE state); restarting Triton, attempt {n} of {server.LOAD_ATTEMPTS}"
        for n in range(2, server.LOAD_ATTEMPTS + 1)
    ]
    assert signal.getsignal(signal.SIGTERM) is before
    # every start binds the models first, into the repository tritonserver loads before its
    # ports open (readiness a probe can trust)
    assert FakeTriton.bound == ["unrolling_tracking"] * server.LOAD_ATTEMPTS
    assert all(p.local_model_store and not p.launch_triton_on_startup for p in FakeTriton.policies)


def test_a_private_workspace_is_removed_and_a_given_one_kept(fake_triton, monkeypatch, tmp_path):
    import dataclasses
    import os
    import tempfile

    monkeypatch.chdir(tmp_path)
    server.serve(dataclasses.replace(fake_triton, workspace=None))
    (private,) = {Path(w).parent for w in FakeTriton.workspaces}
    assert private.name.startswith("acts-gnn-serve-")
    assert private.parent == Path(tempfile.gettempdir())
    assert not private.exists()
    assert os.environ["TMPDIR"] == str(tmp_path)  # as it was before serve
    assert sorted(tmp_path.iterdir()) == []  # nothing in the current directory
    server.serve(fake_triton)
    assert fake_triton.workspace.is_dir()  # --workspace: kept (its run directory is not)
    assert not Path(FakeTriton.workspaces[-1]).exists()


def test_a_workspace_a_killed_serve_left_is_removed_by_the_next(fake_triton, monkeypatch, tmp_path):
    import dataclasses
    import fcntl
    import os
    import tempfile
    import time

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the system's temporary directory

    old = time.time() - 2 * server._ABANDONED_AFTER_S

    def workspace(name: str, *, marker: bool = True, age_s: float | None = None) -> Path:
        path = tmp_path / f"acts-gnn-serve-{name}"
        (path / "tmp").mkdir(parents=True)
        if marker:
            (path / ".in-use").write_text("")
            os.utime(path / ".in-use", (old, old) if age_s is None else (age_s, age_s))
        return path

    abandoned = workspace("killed")
    serving = workspace("serving")  # a running serve holds its lock
    young = workspace("starting", age_s=time.time())  # its serve may not hold the lock yet
    unmarked = workspace("other", marker=False)
    locked_while_serving = []

    def run(self):  # while this serve runs, no other can take its workspace's lock
        (private,) = set(tmp_path.glob("acts-gnn-serve-*")) - {serving, young, unmarked}
        with open(private / ".in-use") as other:
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                locked_while_serving.append(private)

    monkeypatch.setattr(FakeTriton, "run", run)
    with open(serving / ".in-use") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        server.serve(dataclasses.replace(fake_triton, workspace=None))
        assert not abandoned.exists()
        assert serving.exists() and young.exists() and unmarked.exists()
        (private,) = locked_while_serving
        assert not private.exists()  # removed at its normal end
    assert server.remove_abandoned_workspaces(str(tmp_path)) == [serving]


def test_a_start_that_times_out_is_retried(fake_triton, monkeypatch):
    FakeTriton.failures = 0
    from pytriton.client.exceptions import PyTritonClientTimeoutError

    timeouts = iter(
        [
            TimeoutError("Triton Inference Server is not ready after timeout."),
            PyTritonClientTimeoutError("Waiting for server to be ready timed out."),
        ]
    )

    def run(self):
        error = next(timeouts, None)
        if error is not None:
            raise error
        FakeTriton.runs += 1

    retries = []
    monkeypatch.setattr(FakeTriton, "run", run)
    server.serve(fake_triton, on_retry=retries.append)
    assert FakeTriton.runs == 1
    assert retries == [
        "model load failed (Triton Inference Server is not ready after timeout.); restarting "
        f"Triton, attempt 2 of {server.LOAD_ATTEMPTS}",
        "model load failed (Waiting for server to be ready timed out.); restarting "
        f"Triton, attempt 3 of {server.LOAD_ATTEMPTS}",
    ]


def test_a_tritonserver_that_exits_while_loading_is_noticed_at_once(fake_triton, monkeypatch):
    """PyTriton would poll a dead tritonserver for two minutes: serve notices the exit itself."""
    import shutil
    import subprocess
    import threading
    import time

    fake_server = fake_triton.workspace.parent / "tritonserver"  # a child with that name
    shutil.copy(shutil.which("sleep"), fake_server)
    exits = iter([True])

    def run(self):
        if next(exits, False):  # the first start: tritonserver exits while "loading"
            child = subprocess.Popen([fake_server, "0.3"])
            threading.Thread(target=child.wait, daemon=True).start()  # reaped, as PyTriton does
            time.sleep(60)
            raise AssertionError("the exit of tritonserver was not noticed")
        FakeTriton.runs += 1

    monkeypatch.setattr(FakeTriton, "run", run)
    retries, ready = [], []
    start = time.monotonic()
    server.serve(fake_triton, on_ready=ready.append, on_retry=retries.append)
    assert time.monotonic() - start < 20
    assert retries == [
        "model load failed (tritonserver exited while loading the models (see its log)); "
        f"restarting Triton, attempt 2 of {server.LOAD_ATTEMPTS}"
    ]
    assert FakeTriton.runs == 1 and len(ready) == 1


def test_a_sigterm_while_loading_ends_a_library_serve_quietly(fake_triton, monkeypatch):
    # SIGTERM left to the system's default here (the command line makes it an interrupt: 143)
    def run(self):
        signal.raise_signal(signal.SIGTERM)  # a user's kill while the models load
        raise AssertionError("serve went on loading after SIGTERM")

    monkeypatch.setattr(FakeTriton, "run", run)
    ready, retries = [], []
    server.serve(fake_triton, on_ready=ready.append, on_retry=retries.append)
    assert (ready, retries, FakeTriton.stops) == ([], [], 1)


def test_ctrl_c_while_loading_is_an_interrupted_command(
    fake_triton, monkeypatch, run_cli, tmp_path
):
    # before ready a stop is an interrupt, as for every command: Triton is stopped, then 130
    def run(self):
        signal.raise_signal(signal.SIGINT)
        raise AssertionError("serve went on loading after Ctrl-C")

    monkeypatch.setattr(FakeTriton, "run", run)
    with pytest.raises(KeyboardInterrupt):
        server.serve(fake_triton)
    assert FakeTriton.stops == 1
    result = run_cli(
        "serve", "--model", "unrolling_tracking", "--workspace", tmp_path / "cli-ws",
        "--grpc-port", "18901", "--http-port", "18900", "--metrics-port", "18902",
    )  # fmt: skip
    assert (result.exit_code, result.stderr.splitlines()[-1]) == (130, "acts-gnn: interrupted")
    assert "stopped" not in result.stderr
    assert FakeTriton.stops == 2


def test_what_a_stop_during_the_load_left_running_is_ended(tmp_path):
    # a stub started while Triton stopped ran on orphaned, ignoring SIGTERM, with its 4 MiB of
    # shared memory (seen after Ctrl-C 3.1–3.6 s into a start)
    import os
    import shutil
    import subprocess

    run_dir = tmp_path / "run-1-1"
    (run_dir / "bin").mkdir(parents=True)
    stub = run_dir / "bin" / "sleep"
    shutil.copy(shutil.which("sleep"), stub)
    left = subprocess.Popen([str(stub), "300"])
    other = subprocess.Popen([shutil.which("sleep"), "300"])  # not of this run: left alone
    shared = Path("/dev/shm")
    block = shared / f"pytrtion{os.getpid()}-test-{tmp_path.name}"
    if shared.is_dir():
        block.write_bytes(b"\0" * 16)
    try:
        assert server._end_leftovers(run_dir) == [left.pid]
        assert left.wait(10) == -signal.SIGKILL
        assert other.poll() is None
        assert not block.exists()
    finally:
        for process in (left, other):
            process.kill()
            process.wait()
        block.unlink(missing_ok=True)


def test_device_auto_is_resolved_once_and_named_in_the_ready_line(fake_triton, monkeypatch):
    import dataclasses

    import torch

    monkeypatch.delenv("ACTS_GNN_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    ready = []
    server.serve(dataclasses.replace(fake_triton, device="auto"), on_ready=ready.append)
    assert ready[0].endswith("models unrolling_tracking × 1 instance(s) on cpu")


def test_a_load_that_keeps_failing_is_one_error(fake_triton):
    FakeTriton.failures = server.LOAD_ATTEMPTS
    with pytest.raises(ServerStartError) as info:
        server.serve(fake_triton)
    assert str(info.value) == (
        f"Triton could not load the models after {server.LOAD_ATTEMPTS} attempts: [400] load "
        "failed for model 'unrolling_tracking': version 1 is at UNAVAILABLE state"
    )
    assert FakeTriton.runs == 0
    assert FakeTriton.stops == server.LOAD_ATTEMPTS


def test_a_port_in_use_is_a_config_error_before_triton_starts(fake_triton):
    import dataclasses
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = dataclasses.replace(fake_triton, http_port=port)
        with pytest.raises(ConfigError) as info:
            server.serve(config)
    assert str(info.value) == (
        f"--http-port {port}: cannot listen on 127.0.0.1:{port} (Address already in use)"
    )
    assert FakeTriton.workspaces == []


def test_numpy_2_is_refused_before_triton_starts(fake_triton, monkeypatch):
    monkeypatch.setattr(server, "stub_numpy", lambda: ("2.5.2", "/opt/py/site-packages"))
    with pytest.raises(ConfigError) as info:
        server.serve(fake_triton)
    assert str(info.value) == (
        "acts-gnn serve needs numpy<2 where Triton's Python stub imports it "
        "(/opt/py/site-packages; nvidia-pytriton's requirement: with NumPy 2.5.2 it answers "
        "with empty tensors): pip install 'numpy<2' there"
    )
    assert FakeTriton.workspaces == []


def _fake_numpy_dist(folder, version):
    info = folder / f"numpy-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: numpy\nVersion: {version}\n")


def test_the_stubs_numpy_is_the_one_in_site_packages_not_pythonpath(tmp_path, monkeypatch):
    # the stub reads the interpreter's site-packages in order; PYTHONPATH (this process's
    # sys.path) plays no part
    first, second = tmp_path / "venv-site", tmp_path / "base-site"
    _fake_numpy_dist(first, "1.26.4")
    _fake_numpy_dist(second, "2.4.6")
    monkeypatch.setattr(server.site, "getsitepackages", lambda: [str(first), str(second)])
    assert server.stub_numpy() == ("1.26.4", str(first))
    monkeypatch.setattr(server.site, "getsitepackages", lambda: [str(second), str(first)])
    assert server.stub_numpy() == ("2.4.6", str(second))
    # none in site-packages: this process's own NumPy
    monkeypatch.setattr(server.site, "getsitepackages", lambda: [str(tmp_path / "empty")])
    assert server.stub_numpy()[0] == server.np.__version__


def test_libpython_is_looked_for_beside_a_relocated_python(tmp_path, monkeypatch):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "libpython3.99.so.1.0").write_bytes(b"")
    values = {"INSTSONAME": "libpython3.99.so.1.0", "LIBDIR": "/install/lib"}
    monkeypatch.setattr(server.sysconfig, "get_config_var", values.get)
    monkeypatch.setattr(server.sys, "base_prefix", str(tmp_path))
    assert server.libpython_dir() == str(tmp_path / "lib")
    values["LIBDIR"] = str(tmp_path / "lib")  # LIBDIR first where it holds the library
    monkeypatch.setattr(server.sys, "base_prefix", "/elsewhere")
    assert server.libpython_dir() == str(tmp_path / "lib")
    values["LIBDIR"] = "/install/lib"  # neither: LIBDIR, for the dynamic loader to try
    assert server.libpython_dir() == "/install/lib"


def test_max_neighbours_reaches_the_backends():
    import numpy as np

    from acts_gnn.triton.backends import make_backend

    config = server.ServerConfig(max_neighbours=4)
    assert config.pipeline_settings() == {"max_neighbours": 4}
    features = np.random.default_rng(1).random((300, 3), dtype=np.float32)
    _labels, _stages, (graph_edges, _kept) = make_backend(
        "gnn_tracking", None, "cpu", **config.pipeline_settings()
    ).run(features)
    assert 0 < graph_edges <= 4 * 300
    with pytest.raises(ConfigError, match="--max-neighbours must be at least 1, got 0"):
        server.ServerConfig(max_neighbours=0).check()


def test_precision_reaches_the_backends():
    from acts_gnn.triton.backends import make_backend

    config = server.ServerConfig(max_neighbours=4, precision="tf32")
    assert config.pipeline_settings() == {"max_neighbours": 4, "precision": "tf32"}
    with pytest.raises(ConfigError) as info:  # TF32 is a GPU's
        make_backend("gnn_tracking", None, "cpu", **config.pipeline_settings())
    assert str(info.value) == "precision 'tf32' needs a GPU (on the CPU: fp32, or bf16)"
    backend = make_backend("gnn_tracking", None, "cpu", precision="fp32")
    assert backend.precision == "fp32"


def test_settings_that_cannot_work_or_would_be_ignored_are_refused(tmp_path, run_cli):
    from acts_gnn.errors import OutputRefusedError

    for settings, message in (
        ({"grpc_port": 70000}, "--grpc-port must be 1 to 65535, got 70000"),
        ({"http_port": 0}, "--http-port must be 1 to 65535, got 0"),  # bound, never told
        ({"models": ("unrolling_tracking",), "max_neighbours": 64},
         "--max-neighbours: settings of a GNN model; unrolling_tracking takes none"),
        ({"models": ("unrolling_tracking", "null_tracking"), "precision": "bf16",
          "bundle": tmp_path},
         "--bundle, --precision: settings of a GNN model; unrolling_tracking, null_tracking "
         "take none"),
    ):  # fmt: skip
        with pytest.raises(ConfigError) as refused:
            server.ServerConfig(**settings).check()
        assert str(refused.value) == message
    (tmp_path / "afile").write_text("")
    for workspace, message in (
        (tmp_path / "afile", f"{tmp_path / 'afile' / 'tmp' / 'triton'}: {tmp_path / 'afile'} "
         "is not a directory"),
        (Path("/proc/x"), "/proc/x/tmp/triton: is in /proc, the system's (a device or a "
         "process's file): give a file path"),
    ):  # fmt: skip
        with pytest.raises(OutputRefusedError) as refused:
            server.ServerConfig(workspace=workspace).check()
        assert str(refused.value) == message
    result = run_cli("serve", "--balancer-engine", "envoy")  # without --balancer: no balancer
    assert (result.exit_code, result.stderr) == (
        2,
        "acts-gnn: error: --balancer-engine needs --balancer: there is no balancer to run\n",
    )
    # ACTS_GNN_DEVICE is serve's default too (a bogus one was ignored: a CPU server), for the
    # GNN models (the others use no device: reconstruct ignores it for them too)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ACTS_GNN_DEVICE", "bogus")
        result = run_cli("serve", "--model", "gnn_tracking")
    assert (result.exit_code, result.stderr) == (
        2,
        "acts-gnn: error: unknown device 'bogus' (from ACTS_GNN_DEVICE); use cpu, cuda, cuda:N "
        "or auto\n",
    )
    # with --balancer these were ignored (the servers took free ports and /tmp workspaces)
    result = run_cli(
        "serve", "--balancer", "2", "--metrics-port", "19313", "--workspace", tmp_path / "ws"
    )
    assert (result.exit_code, result.stderr) == (
        2,
        "acts-gnn: error: --metrics-port, --workspace: with --balancer only gRPC is balanced, "
        "on --grpc-port; its servers take free local ports and workspaces of their own\n",
    )
    assert not (tmp_path / "ws").exists()


def test_the_instances_share_the_cpus(fake_triton, monkeypatch):
    import dataclasses

    import torch

    from acts_gnn import cpus

    monkeypatch.delenv("ACTS_GNN_THREADS", raising=False)
    monkeypatch.setattr(cpus, "available_cpus", lambda: 8)
    before = torch.get_num_threads()
    try:
        server.serve(dataclasses.replace(fake_triton, instances=4))
        assert torch.get_num_threads() == 2  # 8 CPUs, 4 instances at once
        server.serve(dataclasses.replace(fake_triton, instances=4, threads=3))
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ConfigError, match="--threads must be at least 1, got 0"):
        server.serve(dataclasses.replace(fake_triton, threads=0))
