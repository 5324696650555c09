"""``acts-gnn serve``: the pipeline behind a real Triton Inference Server (PyTriton).

Layer: triton.

Each served model is one backend of :mod:`acts_gnn.triton.backends` bound with ``batching=False``
(one event per request) and ``instances`` model instances, each with its own backend object —
kernels and buffers are per instance, nothing global is shared. The command prepares what the
bundled ``tritonserver`` needs: the running Python's library directory on ``LD_LIBRARY_PATH`` for
its Python stub, a writable workspace and ``TMPDIR``. The stub embeds this interpreter in isolated
mode — it imports from the interpreter's own site-packages, never ``PYTHONPATH`` — and needs
NumPy 1 there (:func:`_check_numpy`); this process may run NumPy 2 through ``PYTHONPATH``. It
listens on 127.0.0.1 unless told otherwise, announces readiness on stderr, and shuts the server
down cleanly on SIGTERM or SIGINT.

Readiness a probe can trust: the models are written into Triton's model repository *before*
``tritonserver`` starts, and Triton loads every model of its repository before it opens its ports.
From the first moment a port answers, server-ready (HTTP ``GET /v2/health/ready``, gRPC
``ServerReady``) is true only because every served model is ready. (PyTriton's default starts an
empty Triton — ready at once — and loads the models afterwards: server-ready said 200, then 400
while the models loaded, then 200.)

Triton's Python backend starts the instances of one model in parallel, and PyTriton's stubs pass
their configuration through a Unix-socket handshake that instance 0 opens: on a loaded machine
another instance can find the socket file before it listens ("Connection refused") and the model
load fails, which makes ``tritonserver`` exit; PyTriton notices only after its start-up timeout
(two minutes). That failure is transient, so a failed start restarts the server in a fresh
workspace, up to :data:`LOAD_ATTEMPTS` times, before :class:`~acts_gnn.errors.ServerStartError` is
raised.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import signal
import site
import sys
import sysconfig
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from acts_gnn._extras import require
from acts_gnn.cpus import resolve_threads, use_threads
from acts_gnn.cuda.device import resolve_device
from acts_gnn.errors import ConfigError, ServerStartError
from acts_gnn.finders import finder_entry, refuse_gnn_settings
from acts_gnn.io.atomic import check_output
from acts_gnn.result import STAGES
from acts_gnn.triton.backends import Backend, answer, make_backend
from acts_gnn.triton.contract import (
    DEFAULT_MAX_SPACEPOINTS,
    DEFAULT_PORTS,
    EDGE_COUNTS,
    FEATURES,
    LABELS,
    STAGE_SECONDS,
    ContractError,
)
from acts_gnn.triton.reaper import Reaper

__all__ = [
    "LOAD_ATTEMPTS",
    "ServerConfig",
    "infer_function",
    "libpython_dir",
    "patch_handshake",
    "patch_refusals",
    "remove_abandoned_workspaces",
    "serve",
    "stub_numpy",
]

#: how many times ``serve`` starts Triton before a model that fails to load is an error
LOAD_ATTEMPTS = 3


@dataclass(frozen=True)
class ServerConfig:
    """Settings of ``acts-gnn serve``."""

    models: Sequence[str] = ("gnn_tracking", "gnn_tracking_walk", "unrolling_tracking")
    bundle: Path | None = None
    device: str = "cpu"
    instances: int = 1
    #: CPU threads of each instance (None: the available CPUs divided among the instances)
    threads: int | None = None
    host: str = "127.0.0.1"
    grpc_port: int = DEFAULT_PORTS["grpc"]
    http_port: int = DEFAULT_PORTS["http"]
    metrics_port: int = 8002
    #: directory for Triton's files (kept after exit; Triton's run files in it are removed at a
    #: clean stop); None: a private temporary directory that is removed when the server stops
    workspace: Path | None = None
    max_spacepoints: int = DEFAULT_MAX_SPACEPOINTS
    #: token of Triton's restricted endpoints (statistics, model repository, shared memory,
    #: trace, logging); None: a random one nobody knows, i.e. those endpoints stay closed
    access_token: str | None = None
    #: PEM certificate and key: gRPC with TLS (HTTP stays plain; keep it on loopback)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: K1's neighbour cap for the GNN backends (None: the bundle's)
    max_neighbours: int | None = None
    #: the GNN backends' filter and GNN arithmetic on a GPU (None: fp32, as trained)
    precision: str | None = None

    def pipeline_settings(self) -> dict[str, object]:
        """Overrides of the bundle's pipeline settings for the GNN backends."""
        settings: dict[str, object] = {}
        if self.max_neighbours is not None:
            settings["max_neighbours"] = self.max_neighbours
        if self.precision is not None:
            settings["precision"] = self.precision
        return settings

    def check(self) -> None:
        """Raise :class:`ConfigError` for settings that cannot work or would be ignored, and
        :class:`~acts_gnn.errors.OutputRefusedError` for a workspace nothing can be made in."""
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("TLS needs both --tls-cert and --tls-key")
        for option, path in (("--tls-cert", self.tls_cert), ("--tls-key", self.tls_key)):
            if path is not None and not Path(path).is_file():
                raise ConfigError(f"{option} {path}: no such file")
        for model in self.models:
            finder_entry(model, served=True)  # a ConfigError naming the served choices
        if self.instances < 1:
            raise ConfigError(f"--instances must be at least 1, got {self.instances}")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"--threads must be at least 1, got {self.threads}")
        if self.max_neighbours is not None and self.max_neighbours < 1:
            raise ConfigError(f"--max-neighbours must be at least 1, got {self.max_neighbours}")
        if self.max_spacepoints < 1:
            raise ConfigError(f"--max-spacepoints must be at least 1, got {self.max_spacepoints}")
        ports = (self.grpc_port, self.http_port, self.metrics_port)
        for option, port in zip(
            ("--grpc-port", "--http-port", "--metrics-port"), ports, strict=True
        ):
            if not 1 <= port <= 65535:  # 0 would bind a port nobody is told of
                raise ConfigError(f"{option} must be 1 to 65535, got {port}")
        if len(set(ports)) != 3:
            raise ConfigError(f"the gRPC, HTTP and metrics ports must differ, got {ports}")
        settings = {
            "--bundle": self.bundle,
            "--max-neighbours": self.max_neighbours,
            "--precision": self.precision,
        }
        refuse_gnn_settings(settings, self.models)
        if self.workspace is not None:  # where a file of Triton's can be made, or refused
            check_output(Path(self.workspace) / "tmp" / "triton", overwrite=True)


def infer_function(
    backend: Backend,
    max_spacepoints: int,
    model: str = "",
    on_refused: Callable[[str], None] = lambda _m: None,
) -> Callable:
    """The PyTriton inference callable of one model instance.

    Invalid requests raise an error whose message reaches the client; the server keeps serving
    and reports each to ``on_refused`` in one line (``model``: the served name it names).
    Stage seconds and edge counts are produced only when the request asks for them.
    """
    pytriton_exceptions = require("pytriton.exceptions", "server")

    def infer(requests):
        responses = []
        for request in requests:
            try:
                features = request[FEATURES]
                wanted = set(request.requested_output_names or ())
                responses.append(answer(backend, features, wanted, max_spacepoints))
            except (KeyError, ContractError) as exc:
                on_refused(f"refused a request to {model or 'a model'}: {exc}")
                # not chained: the client's message and Triton's log line carry this one error
                raise pytriton_exceptions.PyTritonBadParameterError(str(exc)) from None
        return responses

    return infer


class _RefusalsReported(logging.Filter):
    """Drops PyTriton's warning (with its traceback) for a request the backend refused: that
    refusal was reported in one line by ``on_refused``. Other warnings pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        return _REFUSAL not in record.getMessage()


#: how PyTriton's formatted traceback names the error :func:`infer_function` refuses with
_REFUSAL = "PyTritonBadParameterError:"
#: the logger of PyTriton's inference handler, which warns of every error a request raised
_PYTRITON_INFERENCE_LOGGER = "pytriton.proxy.inference"


def _prepare_environment(workspace: Path) -> Path:
    """Library path for Triton's Python stub, a writable TMPDIR; returns the resolved workspace.

    The temporary files of this process go there too (``tempfile.tempdir``), so that whatever a
    library leaves there goes with the workspace.
    """
    libdir = libpython_dir()
    paths = [p for p in os.environ.get("LD_LIBRARY_PATH", "").split(":") if p]
    if libdir and libdir not in paths:
        os.environ["LD_LIBRARY_PATH"] = ":".join([libdir, *paths])
    workspace = workspace.resolve()
    tmp = workspace / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    os.environ["TMPDIR"] = str(tmp)
    tempfile.tempdir = str(tmp)
    return workspace


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def libpython_dir() -> str:
    """The folder of this interpreter's shared libpython, which Triton's Python stub links.

    sysconfig's ``LIBDIR`` where it holds the library, else the base installation's ``lib``
    (a relocated Python's ``LIBDIR`` can name the folder it was built in); ``LIBDIR`` when
    neither does (the dynamic loader may still find it).
    """
    name = sysconfig.get_config_var("INSTSONAME") or ""
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    for folder in (libdir, os.path.join(sys.base_prefix, "lib")):
        if folder and name and os.path.isfile(os.path.join(folder, name)):
            return folder
    return libdir


def stub_numpy() -> tuple[str, str]:
    """The NumPy version Triton's Python stub will import, and where from.

    The stub embeds this interpreter in isolated mode: it reads this interpreter's own
    site-packages and never ``PYTHONPATH``, so this process may run a NumPy (through
    ``PYTHONPATH``) other than the stub's. Falls back to this process's NumPy.
    """
    from importlib.metadata import distributions

    for folder in site.getsitepackages():
        for dist in distributions(name="numpy", path=[folder]):
            return dist.version, folder
    return np.__version__, os.path.dirname(os.path.dirname(np.__file__))


def _check_numpy() -> None:
    """Refuse NumPy 2 where Triton's Python stub imports it: nvidia-pytriton 0.7.0's stub (it
    requires numpy<2) then answers every request with empty tensors and no error (seen with
    NumPy 2.4 and 2.5 on Python 3.12). This process may use NumPy 2 through ``PYTHONPATH``."""
    version, folder = stub_numpy()
    if int(version.split(".")[0]) >= 2:
        raise ConfigError(
            f"acts-gnn serve needs numpy<2 where Triton's Python stub imports it ({folder}; "
            f"nvidia-pytriton's requirement: with NumPy {version} it answers with empty tensors):"
            f" pip install 'numpy<2' there"
        )


def _check_ports_free(config: ServerConfig) -> None:
    """Raise :class:`ConfigError` for a port something else already listens on.

    Triton itself would exit at once but PyTriton would only notice after its two-minute
    start-up timeout.
    """
    import socket

    for option, port in (
        ("--grpc-port", config.grpc_port),
        ("--http-port", config.http_port),
        ("--metrics-port", config.metrics_port),
    ):
        family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((config.host, port))
            except OSError as exc:
                raise ConfigError(
                    f"{option} {port}: cannot listen on {config.host}:{port} ({exc.strerror})"
                ) from None


#: the longest path a Unix socket may have (sun_path is 108 bytes with its terminating NUL)
_SOCKET_PATH_MAX = 107
#: room PyTriton's socket names need in its workspace (``<model>_0_<i>-server.sock``)
_SOCKET_NAME_ROOM = 64


def _run_dir(workspace: Path, attempt: int, system_tmp: str) -> tuple[Path, Path]:
    """A PyTriton workspace (not yet created) for one start of Triton, and what to remove after.

    PyTriton puts its Unix sockets there, so the path must leave room for their names: a
    workspace too deep for that gets a short directory in the system's temporary directory, or in
    ``/tmp`` when that is too deep as well.
    """

    def fits(path: str | Path) -> bool:
        return len(os.fsencode(path)) + _SOCKET_NAME_ROOM <= _SOCKET_PATH_MAX

    run_dir = workspace / f"run-{os.getpid()}-{attempt}"
    if not fits(run_dir):
        # mkdtemp's name is the prefix and 8 characters; the workspace is "ws" inside it
        base = next(
            (b for b in (system_tmp, "/tmp") if fits(Path(b) / "acts-gnn-12345678/ws")), "/tmp"
        )
        short = Path(tempfile.mkdtemp(prefix="acts-gnn-", dir=base))
        return short / "ws", short
    if run_dir.exists():
        shutil.rmtree(run_dir)
    return run_dir, run_dir


def _bind_models(
    triton,
    config: ServerConfig,
    backends: dict[str, list[Backend]],
    on_refused: Callable[[str], None],
) -> None:
    """Bind every configured model: write it into the model repository Triton will start with."""
    from pytriton.model_config import ModelConfig, Tensor

    for name, instances in backends.items():
        triton.bind(
            model_name=name,
            infer_func=[
                infer_function(b, config.max_spacepoints, name, on_refused) for b in instances
            ],
            inputs=[Tensor(name=FEATURES, dtype=np.float32, shape=(-1, 3))],
            outputs=[
                Tensor(name=LABELS, dtype=np.int64, shape=(-1,)),
                Tensor(name=STAGE_SECONDS, dtype=np.float64, shape=(len(STAGES),)),
                Tensor(name=EDGE_COUNTS, dtype=np.int64, shape=(2,)),
            ],
            config=ModelConfig(batching=False),
            strict=True,
        )


#: PyTriton 0.7's handshake between a model's instances (``communication.py``, copied into each
#: model of the repository): instance 0 starts a Unix-socket server; every other instance waits
#: up to 1 s for the socket file and connects once. The file exists from ``bind()`` on, before
#: ``listen()``; an instance that connects in between gets ECONNREFUSED and the model fails to
#: load — seen in CI with ``--instances 2`` on a busy machine, three starts in a row.
_HANDSHAKE_CONNECT = """\
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(max(0.0, should_stop_before_s - time.time()))
        sock.connect(socket_path.as_posix())
"""
#: the same, trying again until the deadline while the server is bound but not listening yet
_HANDSHAKE_CONNECT_RETRIED = """\
        while True:  # acts-gnn: retried while the server is bound but not yet listening
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(max(0.0, should_stop_before_s - time.time()))
            try:
                sock.connect(socket_path.as_posix())
                break
            except ConnectionRefusedError:
                sock.close()
                sock = None
                if time.time() >= should_stop_before_s:
                    raise
                time.sleep(0.01)
"""
_HANDSHAKE_TIMEOUT = (
    "def get_config_from_handshake_server(socket_path: pathlib.Path, timeout_s: float = 1.0)"
)
#: an instance may wait this long for instance 0 (the models load one another's torch first)
_HANDSHAKE_TIMEOUT_S = 60.0


def patch_handshake(model_store: Path) -> int:
    """Make the instance handshake of every model in ``model_store`` wait for its server.

    Rewrites the copies of PyTriton's ``communication.py`` there (see :data:`_HANDSHAKE_CONNECT`):
    the connection is tried again while it is refused, and the wait is
    :data:`_HANDSHAKE_TIMEOUT_S` instead of 1 s. Returns how many files were patched; a file whose
    text differs (another PyTriton) is left as it is.
    """
    patched = 0
    for path in sorted(model_store.glob("*/*/communication.py")):
        text = path.read_text()
        if _HANDSHAKE_CONNECT not in text or _HANDSHAKE_TIMEOUT not in text:
            continue
        text = text.replace(_HANDSHAKE_CONNECT, _HANDSHAKE_CONNECT_RETRIED).replace(
            _HANDSHAKE_TIMEOUT, _HANDSHAKE_TIMEOUT.replace("1.0", str(_HANDSHAKE_TIMEOUT_S))
        )
        path.write_text(text)
        patched += 1
    return patched


#: PyTriton 0.7's stub (``model.py``, copied into each model of the repository) makes every
#: error of the inference callable a TritonModelException (Triton answers INTERNAL, HTTP 500, with
#: the callable's whole traceback, and logs it), just before this line of its responses handler
_STUB_ERROR_END = """\
                    )
                elif responses_payload:
"""
#: inserted there: a request the backend refused as given (:func:`infer_function`) gets the
#: refusal's own line as its error instead, INVALID_ARG (HTTP 400)
_STUB_REFUSED = """\
                    _text = responses_payload.decode("utf-8")  # acts-gnn: a refusal, one line
                    _marker = "PyTritonBadParameterError: "
                    if _marker in _text:
                        _refused = pb_utils.TritonError(
                            _marker + _text.rpartition(_marker)[2].strip(),
                            pb_utils.TritonError.INVALID_ARG,
                        )
                        triton_responses_or_error = [
                            pb_utils.InferenceResponse(error=_refused) for _ in triton_requests
                        ]
"""


def patch_refusals(model_store: Path) -> int:
    """Make the stub of every model in ``model_store`` answer a request the backend refused as
    given with that one line, INVALID_ARG (HTTP 400), instead of INTERNAL (HTTP 500) with a
    traceback that Triton also logs (see :data:`_STUB_ERROR_END`). Returns how many files were
    patched; a file whose text differs (another PyTriton) is left as it is.
    """
    patched = 0
    for path in sorted(model_store.glob("*/*/model.py")):
        text = path.read_text()
        if text.count(_STUB_ERROR_END) != 1 or "acts-gnn: a refusal" in text:
            continue
        closing, elif_line = _STUB_ERROR_END.splitlines(keepends=True)
        path.write_text(text.replace(_STUB_ERROR_END, closing + _STUB_REFUSED + elif_line))
        patched += 1
    return patched


class _StartInterrupted(Exception):
    """Raised in the main thread (from a signal handler) to abandon a start of Triton."""


def _interrupt(handlers: dict, signum: int) -> None:
    """Deliver a stop that came before ``ready`` to the handler serve replaced: for Ctrl-C
    Python's :class:`KeyboardInterrupt`, for the command line's SIGTERM and SIGHUP its stop (so
    the exit code says the command was interrupted: 130, 143); returns where the handler was the
    system's default (a library caller's SIGTERM)."""
    handler = handlers.get(signum)
    if callable(handler):
        handler(signum, None)


#: sent to the main thread by :func:`_run_watched` when tritonserver exits during a start
_EXIT_SIGNAL = signal.SIGUSR1
#: how often a running server checks that tritonserver and the models are alive (s)
_ALIVE_CHECK_S = 2.0


def _tritonserver_children() -> tuple[set[int], set[int]]:
    """PIDs of this process's ``tritonserver`` children, and of their own children (the Python
    backend's stubs, one per model instance), from Linux ``/proc`` (empty elsewhere)."""
    me = os.getpid()
    parents: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir() if Path("/proc/self/stat").exists() else ():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields_after = stat[stat.rfind(")") + 2 :].split()
        if len(fields_after) > 1 and fields_after[0] not in ("Z", "X"):  # not a zombie
            parents[int(entry.name)] = (
                int(fields_after[1]),
                stat[stat.find("(") + 1 : stat.rfind(")")],
            )
    servers = {
        pid for pid, (parent, name) in parents.items() if parent == me and name == "tritonserver"
    }
    stubs = {pid for pid, (parent, _name) in parents.items() if parent in servers}
    return servers, stubs


def _end_leftovers(run_dir: Path) -> list[int]:
    """After Triton's stop: kill what still runs a program of ``run_dir`` (a Python backend
    stub that a stop during the models' load left behind, orphaned: it ran on, ignoring
    SIGTERM), then remove the shared memory PyTriton named after this process (4 MiB per stub,
    which a stub removes only when it ends cleanly). Returns the PIDs killed."""
    killed = []
    inside = os.fsencode(f"{run_dir}{os.sep}")
    for entry in Path("/proc").iterdir() if Path("/proc/self/stat").exists() else ():
        if not entry.name.isdigit():
            continue
        try:
            program = (entry / "cmdline").read_bytes().split(b"\0", 1)[0]
            if program.startswith(inside) and entry.stat().st_uid == os.getuid():
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
        except OSError:  # gone meanwhile, or not ours
            continue
    for block in Path("/dev/shm").glob(f"pytrtion{os.getpid()}-*"):
        with contextlib.suppress(OSError):
            block.unlink()
    return killed


def _run_watched(triton, starting: threading.Event, reaper: Reaper) -> None:
    """``triton.run()`` (start tritonserver, wait until every model is ready), abandoned at once
    when tritonserver exits before that; ``reaper`` is told of the tritonserver as it appears.

    PyTriton itself would go on polling the dead server for its two-minute start-up timeout. A
    watcher thread sees the child exit and signals the main thread, whose handler raises
    :class:`_StartInterrupted` out of the wait (only while ``starting`` is set).
    """
    done = threading.Event()
    main = threading.main_thread().ident

    def watch() -> None:
        seen = False
        while not done.wait(0.2):
            servers, stubs = _tritonserver_children()
            if servers:
                # the stubs too: a stop during the load can end tritonserver before them, and
                # an orphaned stub is no one's child when the reaper looks for children
                reaper.watch(servers | stubs)
                seen = True
            elif seen:
                if not done.is_set() and main is not None:
                    signal.pthread_kill(main, _EXIT_SIGNAL)
                return

    watcher = threading.Thread(target=watch, name="acts-gnn-start-watch", daemon=True)
    starting.set()
    watcher.start()
    try:
        triton.run()
    finally:
        starting.clear()
        done.set()
        watcher.join()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def serve(
    config: ServerConfig,
    on_ready: Callable[[str], None] = lambda _m: None,
    on_retry: Callable[[str], None] = lambda _m: None,
    on_refused: Callable[[str], None] = lambda _m: None,
) -> None:
    """Start Triton with the configured models and block until SIGTERM or SIGINT.

    ``on_ready`` receives the one-line readiness message; ``on_retry`` a line for each failed
    model load that is retried; ``on_refused`` a line for each request refused as invalid
    (PyTriton's own warning of it, a traceback, is left out).

    Raises:
        ConfigError: bad settings. MissingExtraError: nvidia-pytriton is not installed.
        ServerStartError: a model failed to load :data:`LOAD_ATTEMPTS` times.
        KeyboardInterrupt: Ctrl-C before ``ready`` (a SIGTERM then: what its handler raises).
    """
    config.check()
    require("pytriton", "server")
    _check_numpy()
    _check_ports_free(config)
    # "auto" (or ACTS_GNN_DEVICE) chosen once: the instances and the ready line name the device
    config = dataclasses.replace(config, device=resolve_device(config.device))

    system_tmp = tempfile.gettempdir()  # before TMPDIR points into the workspace
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(_restore_env, "TMPDIR", os.environ.get("TMPDIR"))
        cleanup.callback(setattr, tempfile, "tempdir", tempfile.tempdir)
        if config.workspace is None:
            workspace = _prepare_environment(_private_workspace(system_tmp, cleanup))
        else:
            workspace = _prepare_environment(config.workspace)
        refusals = _RefusalsReported()
        pytriton_log = logging.getLogger(_PYTRITON_INFERENCE_LOGGER)
        pytriton_log.addFilter(refusals)
        cleanup.callback(pytriton_log.removeFilter, refusals)
        _serve_in(workspace, system_tmp, config, on_ready, on_retry, on_refused)


#: a private workspace's name starts so; the file inside it that this serve keeps locked
_PRIVATE_PREFIX = "acts-gnn-serve-"
_IN_USE = ".in-use"
#: a private workspace younger than this is never taken for abandoned (its lock may be coming)
_ABANDONED_AFTER_S = 60.0


def _private_workspace(system_tmp: str, cleanup: contextlib.ExitStack) -> Path:
    """A new private workspace in ``system_tmp``, removed by ``cleanup``, whose ``.in-use`` file
    this process keeps locked while it serves.

    A serve that was killed (SIGKILL, the OOM killer) leaves its workspace behind (~20 MB): those
    of this user whose lock nobody holds and that are older than :data:`_ABANDONED_AFTER_S` are
    removed first.
    """
    import fcntl

    remove_abandoned_workspaces(system_tmp)
    private = Path(tempfile.mkdtemp(prefix=_PRIVATE_PREFIX, dir=system_tmp))
    cleanup.callback(shutil.rmtree, private, ignore_errors=True)
    in_use = cleanup.enter_context(open(private / _IN_USE, "w"))  # closed before the removal
    fcntl.flock(in_use, fcntl.LOCK_EX)
    return private


def remove_abandoned_workspaces(system_tmp: str) -> list[Path]:
    """Remove the private workspaces in ``system_tmp`` that a killed serve of this user left
    (their ``.in-use`` lock free, older than :data:`_ABANDONED_AFTER_S`); the removed ones."""
    import fcntl
    import time

    removed = []
    for candidate in Path(system_tmp).glob(_PRIVATE_PREFIX + "*"):
        marker = candidate / _IN_USE
        try:
            if candidate.is_symlink() or candidate.stat().st_uid != os.getuid():
                continue
            if time.time() - marker.stat().st_mtime < _ABANDONED_AFTER_S:
                continue
            with open(marker) as held:
                fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # OSError while a serve holds it
                shutil.rmtree(candidate, ignore_errors=True)
            removed.append(candidate)
        except OSError:  # in use, gone meanwhile, or without a marker (not ours to judge)
            continue
    return removed


def _serve_in(
    workspace: Path,
    system_tmp: str,
    config: ServerConfig,
    on_ready: Callable[[str], None],
    on_retry: Callable[[str], None],
    on_refused: Callable[[str], None],
) -> None:
    """:func:`serve` with its workspace prepared."""
    from pytriton.client.exceptions import PyTritonClientError
    from pytriton.exceptions import PyTritonError
    from pytriton.triton import Triton, TritonConfig, TritonLifecyclePolicy, TritonSecurityConfig
    from tritonclient.utils import InferenceServerException

    # the model repository is written before tritonserver starts, which loads it all before it
    # opens its ports (see the module docstring)
    models_at_startup = TritonLifecyclePolicy(
        launch_triton_on_startup=False, local_model_store=True
    )
    # the instances of a model run at once in this one process: torch's threads are shared out
    use_threads(resolve_threads(config.threads, share=config.instances))
    backends = {
        name: [
            make_backend(name, config.bundle, config.device, **config.pipeline_settings())
            for _ in range(config.instances)
        ]
        for name in config.models
    }
    triton_config = TritonConfig(
        grpc_address=config.host,
        grpc_port=config.grpc_port,
        http_address=config.host,
        http_port=config.http_port,
        metrics_port=config.metrics_port,
        **(
            {
                "grpc_use_ssl": True,
                "grpc_server_cert": Path(config.tls_cert).resolve(),
                "grpc_server_key": Path(config.tls_key).resolve(),
            }
            if config.tls_cert is not None and config.tls_key is not None
            else {}
        ),
    )
    stop = threading.Event()
    starting = threading.Event()
    stopped_by: list[int] = []

    def on_stop(signum: int, _frame: object) -> None:
        stop.set()
        stopped_by.append(signum)
        if starting.is_set():
            raise _StartInterrupted("stopped while the models were loading")

    def on_tritonserver_exit(*_: object) -> None:
        if starting.is_set():
            raise _StartInterrupted("tritonserver exited while loading the models (see its log)")

    handlers = {signal.SIGTERM: on_stop, signal.SIGINT: on_stop, _EXIT_SIGNAL: on_tritonserver_exit}
    previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
    reaper = Reaper()  # kills the tritonservers left running if this process dies (kill -9)
    try:
        for attempt in range(1, LOAD_ATTEMPTS + 1):
            if stop.is_set():
                _interrupt(previous, stopped_by[0])
                return
            run_dir, remove_after = _run_dir(workspace, attempt, system_tmp)
            with contextlib.ExitStack() as running:
                running.callback(shutil.rmtree, remove_after, ignore_errors=True)  # after the stop
                running.callback(_end_leftovers, run_dir)  # after the stop, before the removal
                try:
                    triton = running.enter_context(
                        Triton(
                            config=triton_config,
                            workspace=run_dir,
                            triton_lifecycle_policy=models_at_startup,
                            security_config=TritonSecurityConfig(access_token=config.access_token),
                        )
                    )
                    _bind_models(triton, config, backends, on_refused)
                    patch_handshake(run_dir / "model-store")
                    patch_refusals(run_dir / "model-store")
                    _run_watched(triton, starting, reaper)
                except _StartInterrupted as exc:
                    if stop.is_set():  # stopped before ready: an interrupted command
                        _interrupt(previous, stopped_by[0])
                        return
                    failure: BaseException = exc
                except PyTritonError as exc:  # the server itself did not come up
                    raise ServerStartError(f"Triton did not start: {_first_line(exc)}") from exc
                except (
                    InferenceServerException,
                    PyTritonClientError,  # its start-up wait timed out: a model did not load
                    OSError,
                    TimeoutError,
                ) as exc:
                    failure = exc
                else:
                    servers, stubs = _tritonserver_children()
                    reaper.watch(servers | stubs)  # seen during the start; to be sure
                    tls = " (TLS)" if config.tls_cert is not None else ""
                    on_ready(
                        f"ready: gRPC{tls} {config.host}:{config.grpc_port}, HTTP {config.host}:"
                        f"{config.http_port}, metrics {config.host}:{config.metrics_port}; models "
                        f"{', '.join(config.models)} × {config.instances} instance(s) on "
                        f"{config.device}"
                    )
                    while not stop.wait(_ALIVE_CHECK_S):
                        if not triton.is_alive():
                            raise ServerStartError("tritonserver exited unexpectedly (see its log)")
                    return
                reason = _first_line(failure)
                if attempt == LOAD_ATTEMPTS:
                    raise ServerStartError(
                        f"Triton could not load the models after {attempt} attempts: {reason}"
                    ) from failure
                on_retry(
                    f"model load failed ({reason}); restarting Triton, "
                    f"attempt {attempt + 1} of {LOAD_ATTEMPTS}"
                )
    finally:
        reaper.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
