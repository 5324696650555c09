"""Start and stop real ``acts-gnn serve`` processes on free local ports (test helper)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from acts_gnn.triton.spawn import free_ports, start_serve, wait_for_ready


class ServeProcess:
    """One ``acts-gnn serve`` in its own process group (so a kill reaches tritonserver too)."""

    def __init__(
        self,
        workspace: Path,
        *options: str,
        ports: Sequence[int] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.grpc_port, self.http_port, self.metrics_port = ports or free_ports(3)
        self.workspace = workspace
        self.log_path = workspace / "server.log"
        self._log = open(self.log_path, "w+")
        # what a SIGKILLed server cannot remove (its copy of tritonserver, short socket
        # directories) goes in a temporary directory of the test's, short enough for sockets
        self._scratch = None
        if env is None or "TMPDIR" not in env:
            self._scratch = tempfile.mkdtemp(prefix="ag-", dir="/tmp")
            env = {**(env or {}), "TMPDIR": self._scratch}
        self.process = start_serve(
            options,
            (self.grpc_port, self.http_port, self.metrics_port),
            workspace / "ws",
            self._log,
            env=env,
        )

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"127.0.0.1:{self.http_port}"

    @property
    def metrics_url(self) -> str:
        return f"127.0.0.1:{self.metrics_port}"

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_ready(self, timeout_s: float = 180) -> ServeProcess:
        """Block until the server announced readiness; fail the test with its log otherwise."""
        if not wait_for_ready(self.process, self.log_path, timeout_s, poll_s=0.5):
            self.kill()
            pytest.fail("server did not start:\n" + self.log()[-3000:])
        return self

    def kill(self) -> None:
        """SIGKILL the whole process group (``kill -9`` of the server and its tritonserver)."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()
        self._close_log()

    def terminate(self, timeout_s: float = 60) -> int:
        """SIGTERM the server (what a user's Ctrl-C or ``kill`` does); its exit code."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout_s)
        finally:
            self.kill()

    def _close_log(self) -> None:
        if not self._log.closed:
            self._log.close()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None


class BundledTritonServer:
    """PyTriton's bundled ``tritonserver`` run on a model repository, as a Triton container would.

    The Python backend gets the stub built for this interpreter (as PyTriton arranges it) and
    the running interpreter's libraries and packages, standing in for ``pip install acts-gnn``
    inside a container.
    """

    def __init__(self, repository: Path, workspace: Path) -> None:
        import shutil
        import sysconfig

        import pytriton

        package = Path(pytriton.__file__).parent
        backends = workspace / "backends"
        shutil.copytree(package / "tritonserver" / "backends", backends)
        version = f"{sys.version_info[0]}.{sys.version_info[1]}"
        stub = package / "tritonserver" / "python_backend_stubs" / version
        shutil.copy(stub / "triton_python_backend_stub", backends / "python")
        libs = [
            sysconfig.get_config_var("LIBDIR") or "",
            str(package.parent / "nvidia_pytriton.libs"),
        ]
        env = {
            **os.environ,
            "LD_LIBRARY_PATH": ":".join(p for p in libs if p),
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
            "PYTHONPATH": ":".join(p for p in sys.path if p),
            "TMPDIR": str(workspace),
        }
        self.grpc_port, self.http_port, self.metrics_port = free_ports(3)
        self.log_path = workspace / "tritonserver.log"
        self._log = open(self.log_path, "w+")
        self.process = subprocess.Popen(
            [
                str(package / "tritonserver" / "bin" / "tritonserver"),
                f"--model-repository={repository}",
                f"--backend-directory={backends}",
                f"--grpc-port={self.grpc_port}",
                f"--http-port={self.http_port}",
                f"--metrics-port={self.metrics_port}",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def wait_ready(self, timeout_s: float = 180) -> BundledTritonServer:
        """Block until the server and its models are ready; fail the test with its log otherwise."""
        import tritonclient.grpc as grpc

        client = grpc.InferenceServerClient(self.grpc_url)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if client.is_server_ready():
                    return self
            except Exception:  # not listening yet
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail("tritonserver did not start:\n" + self.log_path.read_text()[-3000:])
            time.sleep(0.5)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 30 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if not self._log.closed:
            self._log.close()


def _children() -> dict[int, list[int]]:
    """parent pid → child pids, from /proc."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (children, their children, ...), from /proc."""
    tree, found, todo = _children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def running_command(pid: int) -> str | None:
    """The command line of ``pid`` while it runs (a zombie has finished), else None."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return None
    return None if state == "Z" else command.strip()
