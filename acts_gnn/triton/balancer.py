"""``acts-gnn serve --balancer N``: N servers behind Debian's nginx as a gRPC load balancer.

Layer: triton.

Scale-out is done by an existing engine, not by this project: nginx's ``grpc_pass`` spreads the
requests over the servers (round robin) and retries a request on the next server when one fails
to connect or answers UNAVAILABLE. Clients need only the balancer's address. nginx runs
unprivileged from a private prefix directory (its own configuration, logs, temporary files).
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from acts_gnn.errors import ActsGnnError, ConfigError, ServerStartError
from acts_gnn.triton.server import ServerConfig

__all__ = ["NginxBalancer", "find_nginx", "nginx_config", "serve_balanced"]


def find_nginx() -> str:
    """The nginx binary.

    Raises:
        ActsGnnError: nginx is not installed.
    """
    for candidate in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and Path(candidate).is_file():
            return candidate
    raise ActsGnnError(
        "nginx is not installed: apt install nginx-light (the gRPC load balancer of --balancer)"
    )


def nginx_config(upstreams: Sequence[str], host: str, port: int, prefix: Path) -> str:
    """An nginx configuration balancing gRPC on ``host:port`` over ``upstreams`` (host:port)."""
    servers = "\n".join(f"        server {u} max_fails=1 fail_timeout=5s;" for u in upstreams)
    temp = {name: prefix / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    return f"""# written by acts-gnn serve --balancer
worker_processes 1;
daemon off;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {temp["body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    upstream acts_gnn_triton {{
{servers}
    }}
    server {{
        listen {host}:{port} http2;
        client_max_body_size 0;
        grpc_read_timeout 600s;
        grpc_send_timeout 600s;
        location / {{
            grpc_pass grpc://acts_gnn_triton;
            grpc_next_upstream error timeout http_502 http_503 http_504 non_idempotent;
        }}
    }}
}}
"""


class NginxBalancer:
    """nginx balancing gRPC over ``upstreams``; a context manager (SIGQUIT on leaving)."""

    def __init__(self, upstreams: Sequence[str], host: str, port: int, prefix: Path) -> None:
        self.upstreams = list(upstreams)
        self.host = host
        self.port = port
        self.prefix = Path(prefix)
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> NginxBalancer:
        binary = find_nginx()
        self.prefix.mkdir(parents=True, exist_ok=True)
        config = self.prefix / "nginx.conf"
        config.write_text(nginx_config(self.upstreams, self.host, self.port, self.prefix))
        self._process = subprocess.Popen(
            [
                binary,
                "-p",
                str(self.prefix),
                "-c",
                str(config),
                "-e",
                str(self.prefix / "error.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while True:
            if self._process.poll() is not None:
                error = (self._process.stderr.read() or b"").decode(errors="replace").strip()
                raise ServerStartError(f"nginx did not start: {error.splitlines()[-1:] or '?'}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1):
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    self.__exit__(None, None, None)
                    raise ServerStartError(
                        f"nginx did not listen on {self.host}:{self.port}"
                    ) from None
                time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGQUIT)  # graceful: finish the requests in flight
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._process = None


def serve_balanced(
    config: ServerConfig, servers: int, on_ready: Callable[[str], None] = lambda _m: None
) -> None:
    """``servers`` child ``acts-gnn serve`` processes behind nginx on ``config``'s gRPC address.

    The children listen on free local ports with ``config``'s models, instances, device,
    bundle, request cap and access token; nginx listens on ``config.host:config.grpc_port``.
    Blocks until SIGTERM or SIGINT, then stops nginx (gracefully) and the children.

    Raises:
        ConfigError: fewer than two servers, or TLS (terminate TLS in front of nginx instead).
        ActsGnnError: nginx is not installed. ServerStartError: a child or nginx did not start.
    """
    import contextlib
    import os
    import tempfile
    import threading

    from acts_gnn.triton.spawn import SpawnedServer

    if servers < 2:
        raise ConfigError(f"--balancer needs at least 2 servers, got {servers}")
    if config.tls_cert is not None:
        raise ConfigError("--balancer does not take --tls-cert: terminate TLS in front of nginx")
    config.check()
    find_nginx()
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)
    }
    options = ["--max-spacepoints", str(config.max_spacepoints)]
    try:
        with contextlib.ExitStack() as stack:
            prefix = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="acts-gnn-lb-")))
            children = [
                stack.enter_context(
                    SpawnedServer(
                        config.models,
                        config.instances,
                        device=config.device,
                        bundle=config.bundle,
                        extra_options=options,
                        access_token=config.access_token,
                    )
                )
                for _ in range(servers)
            ]
            stack.enter_context(
                NginxBalancer(
                    [c.grpc_url for c in children], config.host, config.grpc_port, prefix / "nginx"
                )
            )
            on_ready(
                f"ready: balancer gRPC {config.host}:{config.grpc_port} (nginx, pid {os.getpid()})"
                f" over {servers} servers: "
                + "; ".join(f"gRPC {c.grpc_url} metrics {c.metrics_url}" for c in children)
            )
            stop.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
