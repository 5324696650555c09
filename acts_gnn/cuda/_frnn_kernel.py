"""The K1 kernel itself (imported only when the GPU path runs; see :mod:`acts_gnn.cuda.frnn_cuda`).

Layer: cuda. Kept in its own module with a module-level ``from numba import cuda`` because Numba's
simulator (``NUMBA_ENABLE_CUDASIM=1``) swaps the ``cuda`` global of kernels for its fake one.
"""

from __future__ import annotations

import math

from numba import cuda, float32, float64

from acts_gnn.cuda._numba import THREADS

__all__ = ["MAX_DIM", "TILE", "knn_in_radius"]

#: points per shared-memory tile (one per thread of the block)
TILE = THREADS
#: largest latent dimension the kernel handles
MAX_DIM = 16


@cuda.jit
def knn_in_radius(x, radius, k, out_index, out_distance):
    """Thread i: the k nearest points inside ``radius`` of point i, by (distance, index)."""
    i = cuda.grid(1)
    n = x.shape[0]
    dim = x.shape[1]
    tile = cuda.shared.array(shape=(TILE, MAX_DIM), dtype=float32)
    mine = cuda.local.array(MAX_DIM, dtype=float64)
    if i < n:
        for c in range(dim):
            mine[c] = float64(x[i, c])
    count = 0
    for start in range(0, n, TILE):
        j_load = start + cuda.threadIdx.x
        if j_load < n:
            for c in range(dim):
                tile[cuda.threadIdx.x, c] = x[j_load, c]
        cuda.syncthreads()
        if i < n:
            stop = min(TILE, n - start)
            for t in range(stop):
                j = start + t
                if j == i:
                    continue
                s = 0.0
                for c in range(dim):
                    diff = mine[c] - float64(tile[t, c])
                    s += diff * diff
                d = math.sqrt(s)
                if d >= radius:
                    continue
                if count == k:
                    last_d = out_distance[i, k - 1]
                    last_j = out_index[i, k - 1]
                    if d > last_d or (d == last_d and j > last_j):
                        continue
                    count -= 1
                p = count  # insertion by (distance, index)
                while p > 0 and (
                    out_distance[i, p - 1] > d
                    or (out_distance[i, p - 1] == d and out_index[i, p - 1] > j)
                ):
                    out_distance[i, p] = out_distance[i, p - 1]
                    out_index[i, p] = out_index[i, p - 1]
                    p -= 1
                out_distance[i, p] = d
                out_index[i, p] = j
                count += 1
        cuda.syncthreads()
