"""The soak test: many requests, some malformed, against one running server.

Layer: bench.

Valid requests (events cycled from a pool) and malformed ones (FP64, [N, 4], NaN rows, more rows
than the cap; ``bad_fraction`` of all, interleaved at fixed positions) go one after another to a
server. A valid request that does not come back with ``LABELS`` of the right length is *lost*; a
malformed one that is answered is *accepted* (both must stay zero). The resident memory of the
server's whole process group (``acts-gnn serve``, ``tritonserver`` and its Python stubs) is read
from ``/proc`` at the checkpoints, so growth between them can be judged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from acts_gnn._extras import require

__all__ = ["SoakResult", "group_rss_bytes", "rss_bytes", "run_soak"]


@dataclass(frozen=True)
class SoakResult:
    """What a soak run counted."""

    requests: int
    valid_sent: int
    valid_answered: int
    malformed_sent: int
    malformed_refused: int
    rss_bytes: dict[int, int] = field(default_factory=dict)

    @property
    def lost(self) -> int:
        return self.valid_sent - self.valid_answered

    @property
    def accepted_malformed(self) -> int:
        return self.malformed_sent - self.malformed_refused

    def rss_growth(self, start: int, end: int) -> float:
        """Relative growth of the resident memory between two checkpoints (request numbers)."""
        return self.rss_bytes[end] / self.rss_bytes[start] - 1.0


def rss_bytes(pids: Iterable[int]) -> int:
    """Resident memory of the processes ``pids`` together (Linux ``/proc``; ended ones count 0)."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except (OSError, IndexError, ValueError):
            continue  # the process ended meanwhile
    return total


def group_rss_bytes(pgid: int) -> int:
    """Resident memory of every process in process group ``pgid`` (Linux ``/proc``)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:  # fields after the command: state, ppid, pgrp, ...
                members.append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue  # the process ended meanwhile
    return rss_bytes(members)


def _malformed(kind: int, cap: int) -> tuple[np.ndarray, str]:
    if kind == 0:
        return np.full((5, 3), 0.1), "FP64"
    if kind == 1:
        return np.full((5, 4), 0.1, np.float32), "FP32"
    if kind == 2:
        return np.array([[0.1, 0.2, np.nan]] * 5, np.float32), "FP32"
    return np.full((cap + 1, 3), 0.1, np.float32), "FP32"


def run_soak(
    url: str,
    model: str,
    features: Sequence[np.ndarray],
    *,
    requests: int,
    bad_fraction: float,
    max_spacepoints: int,
    pgid: int | None = None,
    checkpoints: Sequence[int] = (),
    on_request: Callable[[], None] | None = None,
) -> SoakResult:
    """Send ``requests`` requests to ``url`` (see the module docstring)."""
    grpc = require("tritonclient.grpc", "server")
    client = grpc.InferenceServerClient(
        url,
        channel_args=[
            ("grpc.max_send_message_length", -1),
            ("grpc.max_receive_message_length", -1),
        ],
    )
    bad_every = round(1 / bad_fraction) if bad_fraction > 0 else 0
    valid_sent = valid_answered = malformed_sent = malformed_refused = 0
    rss: dict[int, int] = {}
    for number in range(1, requests + 1):
        bad = bad_every and number % bad_every == 0
        if bad:
            array, dtype = _malformed(malformed_sent % 4, max_spacepoints)
            malformed_sent += 1
        else:
            array, dtype = features[valid_sent % len(features)], "FP32"
            valid_sent += 1
        tensor = grpc.InferInput("FEATURES", list(array.shape), dtype)
        tensor.set_data_from_numpy(array)
        try:
            labels = client.infer(model, [tensor], client_timeout=60).as_numpy("LABELS")
        except Exception:
            if bad:
                malformed_refused += 1
        else:
            if not bad and labels is not None and labels.shape == (array.shape[0],):
                valid_answered += 1
        if pgid is not None and number in checkpoints:
            rss[number] = group_rss_bytes(pgid)
        if on_request is not None:
            on_request()
    client.close()
    return SoakResult(requests, valid_sent, valid_answered, malformed_sent, malformed_refused, rss)
