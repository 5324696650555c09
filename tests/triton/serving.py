"""Start and stop real ``acts-gnn serve`` processes on free local ports (test helper)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest


def free_ports(count: int) -> list[int]:
    """``count`` TCP ports nobody listens on right now."""
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


class ServeProcess:
    """One ``acts-gnn serve`` in its own process group (so a kill reaches tritonserver too)."""

    def __init__(self, workspace: Path, *options: str) -> None:
        self.grpc_port, self.http_port, self.metrics_port = free_ports(3)
        self.workspace = workspace
        self.log_path = workspace / "server.log"
        self._log = open(self.log_path, "w+")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "acts_gnn.cli.main",
                "serve",
                *options,
                "--grpc-port",
                str(self.grpc_port),
                "--http-port",
                str(self.http_port),
                "--metrics-port",
                str(self.metrics_port),
                "--workspace",
                str(workspace / "ws"),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
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
        deadline = time.monotonic() + timeout_s
        while "ready:" not in self.log():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                pytest.fail("server did not start:\n" + self.log()[-3000:])
            time.sleep(0.5)
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
