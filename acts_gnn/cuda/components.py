"""K2: connected components over the edges kept after a score cut → track-candidate labels.

Layer: cuda. CPU implementation with SciPy; the CUDA kernel must give the same labels.

Canonical order (both implementations, :func:`acts_gnn.result.canonical_labels`): a component's
label is its rank among components ordered by their smallest point index; components smaller than
``min_size`` get -1. So the labels depend only on the partition, not on how it was found.

Shapes: edges int64 [2, E]; returns int64 [N].
"""

from __future__ import annotations

import numpy as np

from acts_gnn.result import canonical_labels

__all__ = ["connected_components_cpu"]


def connected_components_cpu(n: int, edges: np.ndarray, min_size: int = 1) -> np.ndarray:
    """Component label of each of ``n`` points under ``edges`` [2, E] (canonical order)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if n == 0:
        return np.zeros(0, dtype=np.int64)
    edges = np.asarray(edges, dtype=np.int64).reshape(2, -1)
    graph = coo_matrix(
        (np.ones(edges.shape[1], dtype=np.int8), (edges[0], edges[1])), shape=(n, n)
    ).tocsr()
    _, raw = connected_components(graph, directed=True, connection="weak")
    return canonical_labels(raw, min_size)
