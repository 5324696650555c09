"""A child ``acts-gnn serve`` on free local ports (``benchmark --spawn``, ``serve --balancer``).

Layer: triton (used by ``serve --balancer`` and the benchmark).
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from acts_gnn.errors import ServerStartError
from acts_gnn.triton.contract import ACCESS_TOKEN_ENV

__all__ = ["SpawnedServer", "die_with_parent", "free_ports", "start_serve", "wait_for_ready"]


def die_with_parent() -> object:
    """A ``preexec_fn`` that makes the child receive SIGTERM when its parent dies, however it
    dies (``kill -9``, the OOM killer, a batch system's escalation): Linux's
    ``PR_SET_PDEATHSIG``. The children of ``serve --balancer`` each run in a session of their own
    (so that a signal to one's process group reaches its ``tritonserver``), which no kill of the
    parent reaches; with this they stop when it goes, and stop cleanly (SIGTERM is ``serve``'s
    clean stop; ``tritonserver`` already gets the same from PyTriton).

    The child's parent is the thread that started it, so children are started from the main
    thread. ``None`` where there is no ``prctl`` (not Linux): nothing is set up.
    """
    import ctypes
    import ctypes.util

    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def arrange() -> None:  # runs in the child between fork and exec: nothing but system calls
        prctl(pr_set_pdeathsig, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the line above
            os.kill(os.getpid(), signal.SIGTERM)

    return arrange


def free_ports(count: int) -> list[int]:
    """``count`` local TCP ports that nothing listens on now."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def start_serve(
    options: Sequence[str],
    ports: Sequence[int],
    workspace: Path | None,
    log: IO,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen:
    """``acts-gnn serve OPTIONS`` on ``ports`` (gRPC, HTTP, metrics) with ``workspace`` (with
    ``--balancer`` among the options: the gRPC port alone).

    The child runs with this interpreter, in its own session (a signal to its process group
    reaches tritonserver too), stops when this process dies (:func:`die_with_parent`),
    unbuffered, writing stdout and stderr to ``log``; ``env`` adds
    environment variables; ``cwd`` is its working directory. ``workspace`` None: serve's own
    default (a private temporary directory).
    """
    grpc_port, http_port, metrics_port = ports
    # behind --balancer the servers take free ports and workspaces of their own (serve refuses
    # these there): the balancer listens on the gRPC port
    own = [] if "--balancer" in options else [
        "--http-port", str(http_port), "--metrics-port", str(metrics_port),
        *(["--workspace", str(workspace)] if workspace is not None else []),
    ]  # fmt: skip
    command = [
        sys.executable,
        "-m",
        "acts_gnn.cli.main",
        "serve",
        *options,
        "--grpc-port",
        str(grpc_port),
        *own,
    ]
    return subprocess.Popen(
        command,
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        start_new_session=True,
        preexec_fn=die_with_parent(),  # type: ignore[arg-type]
    )


def wait_for_ready(
    process: subprocess.Popen, log_path: Path, timeout_s: float, poll_s: float = 0.25
) -> bool:
    """True once the server's log says ``ready:``; False if it ended or ``timeout_s`` passed."""
    deadline = time.monotonic() + timeout_s
    while "ready:" not in log_path.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(poll_s)
    return True


class SpawnedServer:
    """A child ``acts-gnn serve`` on free local ports, in its own process group.

    Use it as a context manager: entering waits for ``ready:``; leaving sends SIGTERM (SIGKILL to
    the group after ``stop_timeout_s``) and removes its workspace, after appending the server's
    output to ``keep_log`` when given (also when it did not start).
    """

    def __init__(
        self,
        models: Sequence[str],
        instances: int,
        *,
        device: str = "cpu",
        bundle: Path | None = None,
        start_timeout_s: float = 300,
        stop_timeout_s: float = 60,
        extra_options: Sequence[str] = (),
        access_token: str | None = None,
        keep_log: Path | None = None,
    ) -> None:
        self.models = tuple(models)
        self.instances = instances
        self.device = device
        self.bundle = bundle
        self.start_timeout_s = start_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.extra_options = tuple(extra_options)
        self.keep_log = keep_log
        self.grpc_port, self.http_port, self.metrics_port = free_ports(3)
        self.access_token = access_token or secrets.token_urlsafe(32)
        self._workspace: tempfile.TemporaryDirectory | None = None
        self._process: subprocess.Popen | None = None

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def pid(self) -> int | None:
        """The server's process id (also its process group: it runs in its own session)."""
        return self._process.pid if self._process is not None else None

    @property
    def metrics_url(self) -> str:
        return f"127.0.0.1:{self.metrics_port}"

    def __enter__(self) -> SpawnedServer:
        self._workspace = tempfile.TemporaryDirectory(prefix="acts-gnn-bench-")
        workspace = Path(self._workspace.name)
        options = [word for model in self.models for word in ("--model", model)]
        options += ["--instances", str(self.instances), "--device", self.device]
        if self.bundle is not None:
            options += ["--bundle", str(self.bundle)]
        options += self.extra_options
        self._log_path = workspace / "serve.log"
        with open(self._log_path, "w") as log:
            self._process = start_serve(
                options,
                (self.grpc_port, self.http_port, self.metrics_port),
                workspace / "ws",
                log,
                env={ACCESS_TOKEN_ENV: self.access_token},
            )
        if not wait_for_ready(self._process, self._log_path, self.start_timeout_s):
            tail = self._log_path.read_text(errors="replace").strip().splitlines()[-1:]
            self.__exit__(None, None, None)
            raise ServerStartError(
                f"the spawned acts-gnn serve (--instances {self.instances}) did not start: "
                f"{tail[0] if tail else 'no output'}"
            )
        return self

    def __exit__(self, *exc: object) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self._workspace is not None:
            if self.keep_log is not None and self._log_path.exists():
                with open(self.keep_log, "a") as kept:
                    kept.write(f"=== acts-gnn serve --instances {self.instances} ===\n")
                    kept.write(self._log_path.read_text(errors="replace"))
            self._workspace.cleanup()
            self._workspace = None
