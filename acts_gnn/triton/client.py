"""The remote client: ``RemotePipeline.reconstruct(event)`` over Triton, like the local pipeline.

Layer: triton. Needs only ``tritonclient`` (and numpy) — no torch on the client side.

* gRPC by default (``protocol="http"`` for HTTP), message-size limits raised for large events;
* a per-request timeout, bounded retries with exponential backoff (:class:`RetryPolicy`), several
  server URLs with failover (the next URL is tried when one does not answer);
* an optional local fallback: any track finder used when every server failed;
* tritonclient errors become :class:`~acts_gnn.errors.RemoteTimeoutError`,
  :class:`~acts_gnn.errors.ModelUnavailableError` or :class:`~acts_gnn.errors.RemoteInferenceError`,
  each naming the URL and model; :func:`classify_failure` alone decides which, and whether the
  request is worth another try, from the gRPC status or HTTP status code:

  ==========================================  ===============================  =========
  status                                      error                            try again
  ==========================================  ===============================  =========
  ``DEADLINE_EXCEEDED``, HTTP 408 / 504       RemoteTimeoutError               yes
  ``UNAVAILABLE``, HTTP 502 / 503             RemoteInferenceError (or          yes
                                              ModelUnavailableError when the
                                              server says the model is not
                                              ready or unknown)
  ``NOT_FOUND``, HTTP 404                     ModelUnavailableError            no
                                              (UnknownModelError when the
                                              name is not found)
  ==========================================  ===============================  =========

  Any other status, or none (a socket error of the HTTP client, a connection refused), is
  classified by the exception's type and text: a ``TimeoutError`` or a deadline in the text is a
  timeout (tried again); an unknown or not-ready model is ModelUnavailableError; an ``OSError``
  or a transport failure in the text (refused, reset, broken pipe, …) is tried again; anything
  else is raised at once.

  Two answers are the caller's mistake, not the server's, and are never tried again: a model
  name the server says is not found (:class:`~acts_gnn.errors.UnknownModelError`, whatever the
  status; a model it has but cannot run yet — loading, unloading, draining — stays a retried
  ModelUnavailableError), and an HTTP request answered in gRPC's HTTP/2
  (:class:`~acts_gnn.errors.WrongProtocolError`: the URL is a gRPC port). A gRPC request to an
  HTTP port only sees its socket closed, like a server that went away: it stays a retried
  transport failure, and its message suggests the other port or protocol.
"""

from __future__ import annotations

import collections
import math
import re
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from acts_gnn._extras import require
from acts_gnn.errors import (
    ConfigError,
    ModelUnavailableError,
    RemoteInferenceError,
    RemoteTimeoutError,
    RequestRefusedError,
    UnknownModelError,
    WrongProtocolError,
)
from acts_gnn.event import Event
from acts_gnn.finders import describe_finder
from acts_gnn.result import STAGES, EventTiming, TrackingResult
from acts_gnn.triton.contract import (
    DEFAULT_PORTS,
    EDGE_COUNTS,
    FEATURES,
    LABELS,
    STAGE_SECONDS,
    check_features,
)

__all__ = ["RemotePipeline", "RetryPolicy", "classify_failure", "server_urls"]

_UNLIMITED = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]


def _one_line(text: str) -> str:
    """The useful line of a server error: the backend's own message when there is one."""
    for marker in ("PyTritonBadParameterError:", "PyTritonValidationError:"):
        if marker in text:
            return text.split(marker, 1)[1].strip().splitlines()[0].strip()
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


def server_urls(urls: str | Sequence[str]) -> list[str]:
    """``"host:port"`` or a sequence of them (failover order) as a list.

    A single string is one URL (as ACTS's own Triton client configuration takes it), never a
    sequence of one-character URLs.

    Raises:
        ConfigError: neither a string nor a non-empty sequence of non-empty strings.
    """
    if isinstance(urls, str):
        urls = [urls]
    elif not isinstance(urls, Sequence) or isinstance(urls, bytes):
        raise ConfigError(
            f"url must be 'host:port' or a list of them, got {type(urls).__name__} {urls!r}"
        )
    bad = [u for u in urls if not isinstance(u, str) or not u.strip()]
    if bad:
        given = f" in {list(urls)!r}" if len(urls) > 1 else ""
        raise ConfigError(f"url must be 'host:port' or a list of them, got {bad[0]!r}{given}")
    if not urls:
        raise ConfigError("give at least one server URL")
    for url in urls:
        _check_url(url.strip())
    return [u.strip() for u in urls]


#: ``host``, ``host:port`` or ``[IPv6]:port``, after an optional ``grpc://`` or ``http://``
_URL = re.compile(r"(?:grpc://|http://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(\d+))?")


def _check_url(url: str) -> None:
    """Refuse what no server can be at: a port out of range, a path, stray characters.

    Raises:
        ConfigError: ``url`` is not ``host``, ``host:port`` or ``[IPv6]:port``.
    """
    if url.lower().startswith(("https://", "grpcs://")):
        raise ConfigError(
            f"url {url!r}: give host:port; TLS is --tls-root-cert (the server's certificate)"
        )
    match = _URL.fullmatch(url)
    if match is None:
        raise ConfigError(
            f"url {url!r}: expected host or host:port (an IPv6 address in brackets), with no path"
        )
    if match[2] is not None and not 1 <= int(match[2]) <= 65535:
        raise ConfigError(f"url {url!r}: the port must be 1 to 65535, got {match[2]}")


#: the longest pause before a retry round a client may ask for (an hour)
_LONGEST_BACKOFF_S = 3600.0


@dataclass(frozen=True)
class RetryPolicy:
    """How often a request is tried again, and how long the client waits in between.

    ``retries``: further rounds over all URLs after the first round failed; ``backoff_s``: the
    pause before the first retry round, doubled each round up to ``max_backoff_s`` or
    ``backoff_s``, whichever is longer (a client refused by a busy balancer keeps asking at that
    pace instead of falling asleep for minutes).
    """

    retries: int = 2
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ConfigError(f"--retries must be 0 or more, got {self.retries}")
        if not 0 <= self.backoff_s <= _LONGEST_BACKOFF_S:
            raise ConfigError(
                f"--backoff must be 0 to {_LONGEST_BACKOFF_S:g} s, got {self.backoff_s:g}"
            )

    def pause_before(self, attempt: int) -> float:
        """Seconds to wait before round ``attempt`` (0: the first round, no wait)."""
        if not attempt:
            return 0.0
        longest = max(self.max_backoff_s, self.backoff_s)
        return min(self.backoff_s * 2 ** min(attempt - 1, 62), longest)


_STATUS_IN_TEXT = re.compile(r"\[StatusCode\.([A-Z_]+)\]")
_TIMEOUT_STATUS = frozenset({"DEADLINE_EXCEEDED", "408", "504"})
_RETRY_STATUS = frozenset({"UNAVAILABLE", "502", "503"})
_MISSING_STATUS = frozenset({"NOT_FOUND", "404"})
_MISSING_WORDS = ("unknown model", "not found", "not ready")
_TIMEOUT_WORDS = ("deadline", "timed out", "timeout")
#: what Triton says of a model it has no such name for (whatever the status); a model it has
#: but cannot run yet says "has no available versions" or "is not at ready state"
_NOT_SERVED = "is not found"
#: what the server's backend raises for a request it refuses as given (acts_gnn.triton.server)
_REFUSED = "pytritonbadparametererror"
#: what the HTTP client says when the port answers in gRPC's HTTP/2
_HTTP2_ANSWER = "expected http/"
#: what the gRPC client says when the port closed the connection (an HTTP/1.1 port does)
_SOCKET_CLOSED = "socket closed"
#: what gRPC says of a request whose connection closed after it was sent (a server killed)
_STREAM_REMOVED = "stream removed"
#: what a transport failure without a status says (the HTTP client's socket errors)
_TRANSPORT_WORDS = (
    "unavailable",
    "connect",
    "refused",
    "reset",
    "broken pipe",
    "socket closed",
    "failed to establish",
)


def _status(exc: Exception) -> str:
    """The gRPC status name (``UNAVAILABLE``) or HTTP status code (``503``) of ``exc``, or ""."""
    status = getattr(exc, "status", None)
    value = str(status() or "") if callable(status) else ""
    if value:
        return value.removeprefix("StatusCode.")
    match = _STATUS_IN_TEXT.search(str(exc))
    return match.group(1) if match else ""


def _check_pem(path: Path) -> None:
    """Raise :class:`ConfigError` unless ``path`` is a file holding a PEM certificate (gRPC
    only logged a line and then failed every connection: exit code 3, as if no server were
    there)."""
    if not path.exists():
        raise ConfigError(f"--tls-root-cert {path}: no such file")
    if not path.is_file():
        raise ConfigError(f"--tls-root-cert {path}: not a file")
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"--tls-root-cert {path}: cannot read it ({exc.strerror})") from exc
    if b"-----BEGIN CERTIFICATE-----" not in text:
        raise ConfigError(
            f"--tls-root-cert {path}: no PEM certificate in it (expected a line "
            "-----BEGIN CERTIFICATE-----)"
        )


def classify_failure(
    exc: Exception, url: str, model: str, timeout_s: float
) -> tuple[RemoteInferenceError, bool]:
    """The error a failed request raises, and whether trying again may help (module table)."""
    text = _one_line(str(exc))
    lowered = text.lower()
    status = _status(exc)
    unready = "has no available versions" in lowered or "not at ready state" in lowered
    why = " (the server has the model but is loading or unloading it: starting or stopping?)"
    missing = ModelUnavailableError(
        url, model, (text.strip() or "model not available") + (why if unready else "")
    )
    timeout = RemoteTimeoutError(url, model, f"no answer within {timeout_s:g} s")
    other = RemoteInferenceError(url, model, text.strip() or type(exc).__name__)
    if _NOT_SERVED in lowered:  # not "has no available versions", "not at ready state"
        hint = "check the model's name: the server's ready line or repository lists its models"
        return UnknownModelError(url, model, f"{text.strip()} ({hint})"), False
    if _HTTP2_ANSWER in lowered:
        reason = (  # the HTTP client's own words are a tuple: ('Expected HTTP/, …', 8)
            "the port does not answer in HTTP/1.1, a gRPC port? (the server's HTTP port is "
            f"needed, Triton's default {DEFAULT_PORTS['http']}, or the gRPC protocol)"
        )
        return WrongProtocolError(url, model, reason), False
    if status in _TIMEOUT_STATUS:
        return timeout, True
    if status in _RETRY_STATUS:
        if _STREAM_REMOVED in lowered:  # a request cut short: the server went away under it
            other = RemoteInferenceError(
                url, model, f"{text.strip()} (the server closed the connection while answering)"
            )
        elif _SOCKET_CLOSED in lowered:  # what an HTTP/1.1 port does with gRPC's HTTP/2
            other = RemoteInferenceError(
                url,
                model,
                f"{text.strip()} (if this is the server's HTTP port: its gRPC port is needed, "
                f"Triton's default {DEFAULT_PORTS['grpc']}, or the HTTP protocol)",
            )
        return (missing if any(w in lowered for w in _MISSING_WORDS) else other), True
    if status in _MISSING_STATUS:
        return missing, False
    # any other status, or none: the exception's type, then its text
    full = str(exc).lower()  # the transport's words may sit below the first line
    transport = isinstance(exc, OSError) or any(w in full for w in _TRANSPORT_WORDS)
    if isinstance(exc, TimeoutError) or any(w in lowered for w in _TIMEOUT_WORDS):
        return timeout, True
    if any(w in lowered for w in _MISSING_WORDS):
        return missing, transport
    if _REFUSED in full:  # the server judged the request itself: as given, it never will do
        return RequestRefusedError(url, model, text.strip()), False
    return other, transport


class _Retriable(Exception):
    """A failure worth trying again or on another server."""

    def __init__(self, error: RemoteInferenceError) -> None:
        super().__init__(str(error))
        self.error = error


class RemotePipeline:
    """Track finding on Triton servers, with the local pipeline's ``reconstruct`` signature.

    Args:
        urls: ``host:port`` of one or more servers (gRPC port for gRPC, HTTP port for HTTP).
        model: served model name.
        protocol: ``grpc`` or ``http``.
        timeout_s: deadline of one request.
        retry: how often and how patiently to try again (:class:`RetryPolicy`); ``retries`` and
            ``backoff_s`` are shorthands for its two fields when ``retry`` is not given.
        fallback: a track finder to use when every server failed (None: raise); never for an
            unknown model or the wrong protocol, the caller's mistakes.
        server_timing: ask the server for its stage times and edge counts.
        tls_root_cert: PEM certificate(s) to trust: gRPC over TLS (None: plain gRPC).
    """

    def __init__(
        self,
        urls: Sequence[str],
        model: str = "gnn_tracking",
        *,
        protocol: str = "grpc",
        timeout_s: float = 60.0,
        retry: RetryPolicy | None = None,
        retries: int = 2,
        backoff_s: float = 0.5,
        fallback: Any = None,
        server_timing: bool = True,
        tls_root_cert: str | Path | None = None,
    ) -> None:
        urls = server_urls(urls)
        if not 0 < timeout_s < math.inf:  # a request that may never end would hang the run
            raise ConfigError(f"--timeout-s must be a number of seconds above 0, got {timeout_s:g}")
        if protocol not in ("grpc", "http"):
            raise ConfigError(f"protocol must be grpc or http, got {protocol!r}")
        for url in urls:  # a scheme that says the other protocol: the port is the other one too
            scheme = "http" if url.lower().startswith("http://") else "grpc"
            if "://" in url and scheme != protocol:
                raise ConfigError(
                    f"url {url!r} is {scheme} but the protocol is {protocol}: give --protocol "
                    f"{scheme} (and the server's {scheme} port), or the URL without its scheme"
                )
        if tls_root_cert is not None:
            if protocol != "grpc":
                raise ConfigError("TLS is supported for gRPC only (Triton's HTTP is plain)")
            _check_pem(Path(tls_root_cert))
        self.tls_root_cert = str(tls_root_cert) if tls_root_cert is not None else None
        # a URL without a port gets Triton's default one for the protocol
        port = DEFAULT_PORTS[protocol]
        self.urls = [
            u if re.search(r":\d+$", u) else f"{u}:{port}"
            for u in (u.removeprefix("grpc://").removeprefix("http://") for u in urls)
        ]
        twice = sorted({u for u in self.urls if self.urls.count(u) > 1})
        if twice:  # failover to the server that just failed, and recorded twice
            raise ConfigError(f"--url {twice[0]} given twice: give each server once")
        self.model = model
        self.protocol = protocol
        self.timeout_s = timeout_s
        self.retry = retry if retry is not None else RetryPolicy(retries, backoff_s)
        self.fallback = fallback
        self.server_timing = server_timing
        self.name = f"remote:{model}"
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._preferred = 0
        #: what the requests met so far: ``answered``; ``failed`` (attempts that got a retriable
        #: failure: a timeout, an unreachable or unavailable server); ``failover`` (answers from
        #: another URL than the request tried first); ``retry_rounds``; ``fallback`` (events run
        #: by the fallback finder)
        self.attempts: collections.Counter[str] = collections.Counter()
        #: why the last event the fallback ran could not be run on a server
        self.last_failure = ""
        # Import the client library now, not at the first request: importing it initialises
        # ml_dtypes, whose float limits underflow on purpose. Inside an ACTS Sequencer's event
        # loop (floating-point-exception tracking on by default) that is one unmasked FPE and
        # "Sequencer terminated abnormally"; here, at configuration time, nothing watches.
        self._module = require(f"tritonclient.{protocol}", "server")
        for url in self.urls:
            self._client(url)

    def __repr__(self) -> str:
        return (
            f"RemotePipeline(urls={self.urls!r}, model={self.model!r}, protocol={self.protocol!r})"
        )

    def describe(self) -> dict[str, object]:
        """What made this finder's tracks, for a run's record: the servers and the model asked
        (what they run is theirs to say), and the finder run when none answered."""
        described: dict[str, object] = {
            "finder": self.name,
            "servers": list(self.urls),
            "model": self.model,
            "protocol": self.protocol,
        }
        if self.fallback is not None:
            described["fallback"] = describe_finder(self.fallback)
        return described

    def _client(self, url: str) -> Any:
        with self._lock:
            if url not in self._clients:
                if self.protocol == "grpc":
                    grpc = self._module
                    tls = (
                        {"ssl": True, "root_certificates": self.tls_root_cert}
                        if self.tls_root_cert
                        else {}
                    )
                    self._clients[url] = grpc.InferenceServerClient(
                        url, channel_args=_UNLIMITED, **tls
                    )
                else:
                    self._clients[url] = self._module.InferenceServerClient(
                        url, connection_timeout=self.timeout_s, network_timeout=self.timeout_s
                    )
            return self._clients[url]

    def _count(self, what: str) -> None:
        with self._lock:
            self.attempts[what] += 1

    def _translate(self, url: str, exc: Exception) -> RemoteInferenceError:
        return classify_failure(exc, url, self.model, self.timeout_s)[0]

    def _infer_once(self, url: str, features: np.ndarray) -> dict[str, np.ndarray]:
        module = self._module
        client = self._client(url)
        tensor = module.InferInput(FEATURES, list(features.shape), "FP32")
        tensor.set_data_from_numpy(features)
        names = [LABELS] + ([STAGE_SECONDS, EDGE_COUNTS] if self.server_timing else [])
        outputs = [module.InferRequestedOutput(n) for n in names]
        try:
            if self.protocol == "grpc":
                result = client.infer(
                    self.model, [tensor], outputs=outputs, client_timeout=self.timeout_s
                )
            else:
                result = client.infer(self.model, [tensor], outputs=outputs)
        except Exception as exc:  # tritonclient raises InferenceServerException and socket errors
            error, retriable = classify_failure(exc, url, self.model, self.timeout_s)
            if retriable:
                raise _Retriable(error) from exc
            raise error from exc
        return {n: result.as_numpy(n) for n in names}

    def infer(self, features: np.ndarray) -> dict[str, np.ndarray]:
        """One request with retries and failover; the outputs by name.

        Raises:
            ContractError: ``features`` break the contract as a server would say (no rows, not
                [N, 3], a row not finite or beyond 1000), said here before any request.
            RemoteInferenceError: the servers failed or refused it (see the module table).
        """
        features = np.ascontiguousarray(features, dtype=np.float32)
        # what every server checks, here: an empty array would fail inside PyTriton's stub
        check_features(features, max_spacepoints=sys.maxsize)
        last: RemoteInferenceError | None = None
        for attempt in range(self.retry.retries + 1):
            if attempt:
                time.sleep(self.retry.pause_before(attempt))
                self._count("retry_rounds")
            start = self._preferred
            for k in range(len(self.urls)):
                index = (start + k) % len(self.urls)
                try:
                    outputs = self._infer_once(self.urls[index], features)
                except _Retriable as retriable:
                    last = retriable.error
                    self._count("failed")
                    continue
                self._preferred = index
                self._count("answered")
                if k:
                    self._count("failover")
                return outputs
        assert last is not None
        tries = (self.retry.retries + 1) * len(self.urls)
        if tries > 1:  # the last failure, and how many came before it
            servers = f"{len(self.urls)} server{'s' * (len(self.urls) != 1)}"
            rounds = self.retry.retries + 1
            said = f"{last.reason} (the last of {tries} tries: {rounds} round"
            said += f"{'s' * (rounds != 1)} over {servers})"
            raise type(last)(last.url, last.model, said)
        raise last

    def reconstruct(self, event: Event) -> TrackingResult:
        """Labels of ``event`` from the servers (or the fallback when they all failed)."""
        start = time.perf_counter()
        if len(event) == 0:  # nothing to ask a server (and Triton refuses empty tensors)
            timing = EventTiming(event.event_id, self.name, 0, 0.0)
            return TrackingResult(labels=np.zeros(0, dtype=np.int64), timing=timing)
        try:
            outputs = self.infer(event.features())
        except (UnknownModelError, WrongProtocolError):
            raise  # the caller's mistake: the fallback would only hide it
        except RemoteInferenceError as error:
            if self.fallback is None:
                raise
            self._count("fallback")
            self.last_failure = str(error)
            return self.fallback.reconstruct(event)
        stages: dict[str, float] = {}
        edges = (0, 0)
        if STAGE_SECONDS in outputs and outputs[STAGE_SECONDS] is not None:
            stages = {
                s: float(v)
                for s, v in zip(STAGES, outputs[STAGE_SECONDS], strict=True)
                if np.isfinite(v)
            }
        if EDGE_COUNTS in outputs and outputs[EDGE_COUNTS] is not None:
            edges = (int(outputs[EDGE_COUNTS][0]), int(outputs[EDGE_COUNTS][1]))
        labels = np.asarray(outputs[LABELS], dtype=np.int64)
        if labels.shape != (len(event),):
            raise RemoteInferenceError(
                self.urls[self._preferred],
                self.model,
                f"LABELS has shape {list(labels.shape)}, expected [{len(event)}]",
            )
        timing = EventTiming(
            event_id=event.event_id,
            backend=self.name,
            n_spacepoints=len(event),
            total_s=time.perf_counter() - start,
            n_edges_graph=edges[0],
            n_edges_filtered=edges[1],
            stages_s=stages,
        )
        return TrackingResult(labels=labels, timing=timing)
