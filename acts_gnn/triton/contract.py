"""The Triton model contract (DESIGN.md), shared by server, client and tests.

Layer: triton.

| tensor | dtype | shape | meaning |
| --- | --- | --- | --- |
| input ``FEATURES`` | FP32 | [-1, 3] | r/1000, φ/π, z/1000 per space point |
| output ``LABELS`` | INT64 | [-1] | candidate id per space point, -1 = none |
| optional output ``STAGE_SECONDS`` | FP64 | [5] | seconds of each pipeline stage (``STAGES``) |
| optional output ``EDGE_COUNTS`` | INT64 | [2] | K1 graph edges, edges kept by the filter |

One event per request (``max_batch_size: 0``). The optional outputs are computed only when the
client asks for them.
"""

from __future__ import annotations

import numpy as np

from acts_gnn.errors import ActsGnnError
from acts_gnn.event import MAX_FEATURE
from acts_gnn.result import STAGES

__all__ = [
    "ACCESS_TOKEN_ENV",
    "DEFAULT_MAX_SPACEPOINTS",
    "DEFAULT_PORTS",
    "EDGE_COUNTS",
    "FEATURES",
    "LABELS",
    "STAGES",
    "STAGE_SECONDS",
    "ContractError",
    "access_headers",
    "check_features",
]

FEATURES = "FEATURES"
LABELS = "LABELS"
STAGE_SECONDS = "STAGE_SECONDS"
EDGE_COUNTS = "EDGE_COUNTS"
#: default cap on space points per request (an HL-LHC event has ≈ 300k)
DEFAULT_MAX_SPACEPOINTS = 1_000_000
#: Triton's default ports by protocol: where ``serve`` listens, and what a client URL naming no
#: port takes
DEFAULT_PORTS = {"grpc": 8001, "http": 8000}


#: environment variable holding the token of Triton's restricted endpoints (statistics, model
#: repository, shared memory, trace, logging); ``acts-gnn serve --access-token`` reads it too
ACCESS_TOKEN_ENV = "ACTS_GNN_ACCESS_TOKEN"


def access_headers(token: str | None, protocol: str = "grpc") -> dict[str, str]:
    """Request headers that open Triton's restricted endpoints with ``token`` (none without)."""
    if not token:
        return {}
    name = "triton-access-token"
    return {f"triton-grpc-protocol-{name}" if protocol == "grpc" else name: token}


class ContractError(ActsGnnError):
    """A request does not follow the tensor contract; the message says how."""

    exit_code = 2


def check_features(features: np.ndarray, max_spacepoints: int = DEFAULT_MAX_SPACEPOINTS) -> None:
    """Raise :class:`ContractError` unless ``features`` is a valid ``FEATURES`` tensor."""
    if not isinstance(features, np.ndarray):
        raise ContractError(f"{FEATURES} must be an array, got {type(features).__name__}")
    if features.dtype != np.float32:
        raise ContractError(f"{FEATURES} must be FP32, got {features.dtype}")
    if features.ndim != 2 or features.shape[1] != 3:
        raise ContractError(f"{FEATURES} must have shape [N, 3], got {list(features.shape)}")
    if features.shape[0] == 0:
        raise ContractError(f"{FEATURES} has no rows; send at least one space point")
    if features.shape[0] > max_spacepoints:
        raise ContractError(
            f"{FEATURES} has {features.shape[0]} rows, more than this server's cap of "
            f"{max_spacepoints} (acts-gnn serve --max-spacepoints)"
        )
    finite = np.isfinite(features).all(axis=1)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        raise ContractError(f"{FEATURES} row {row} is not finite: {features[row].tolist()}")
    far = (np.abs(features) > MAX_FEATURE).any(axis=1)
    if far.any():
        row = int(np.flatnonzero(far)[0])
        raise ContractError(
            f"{FEATURES} row {row} is beyond {MAX_FEATURE:g} (a position over a kilometre "
            f"away): {features[row].tolist()}"
        )
