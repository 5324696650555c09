"""The K1 kernel itself (imported only when the GPU path runs; see :mod:`acts_gnn.cuda.frnn_cuda`).

Layer: cuda. Kept in its own module with a module-level ``from numba import cuda`` because Numba's
simulator (``NUMBA_ENABLE_CUDASIM=1``) swaps the ``cuda`` global of kernels for its fake one.
"""

from __future__ import annotations

import math

from numba import cuda, float32, float64

from acts_gnn.cuda._numba import THREADS

__all__ = ["MAX_DIM", "TILE", "count_in_cells", "fill_from_cells", "knn_in_radius"]

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


@cuda.jit(device=True)
def _distance(x, i, mine, j):
    """‖x_i − x_j‖ in float64 (``mine`` holds x_i in float64), summed in dimension order."""
    s = 0.0
    for c in range(x.shape[1]):
        diff = mine[c] - float64(x[j, c])
        s += diff * diff
    return math.sqrt(s)


@cuda.jit
def count_in_cells(x, radius, k, cell, order, cell_start, n_cells_y, counts):
    """Thread i: how many points lie inside ``radius`` of point i (at most ``k``).

    Only the 3 × 3 cells around point i's cell on the grid of the first two latent dimensions are
    searched: a point inside the radius differs by less than a cell in each of them.
    """
    i = cuda.grid(1)
    if i >= x.shape[0]:
        return
    mine = cuda.local.array(MAX_DIM, dtype=float64)
    for c in range(x.shape[1]):
        mine[c] = float64(x[i, c])
    n_cells_x = (cell_start.shape[0] - 1) // n_cells_y
    found = 0
    for a in range(max(cell[i, 0] - 1, 0), min(cell[i, 0] + 2, n_cells_x)):
        for b in range(max(cell[i, 1] - 1, 0), min(cell[i, 1] + 2, n_cells_y)):
            home = a * n_cells_y + b
            for s in range(cell_start[home], cell_start[home + 1]):
                j = order[s]
                if j != i and _distance(x, i, mine, j) < radius:
                    found += 1
    counts[i] = min(found, k)


@cuda.jit
def fill_from_cells(
    x, radius, cell, order, cell_start, n_cells_y, offsets, counts, out_index, out_distance
):
    """Thread i: its ``counts[i]`` nearest points inside ``radius``, by (distance, index), into
    ``out_*[offsets[i] : offsets[i] + counts[i]]`` (the same cells as :func:`count_in_cells`)."""
    i = cuda.grid(1)
    if i >= x.shape[0]:
        return
    capacity = counts[i]
    if capacity == 0:
        return
    first = offsets[i]
    mine = cuda.local.array(MAX_DIM, dtype=float64)
    for c in range(x.shape[1]):
        mine[c] = float64(x[i, c])
    n_cells_x = (cell_start.shape[0] - 1) // n_cells_y
    held = 0
    for a in range(max(cell[i, 0] - 1, 0), min(cell[i, 0] + 2, n_cells_x)):
        for b in range(max(cell[i, 1] - 1, 0), min(cell[i, 1] + 2, n_cells_y)):
            home = a * n_cells_y + b
            for s in range(cell_start[home], cell_start[home + 1]):
                j = order[s]
                if j == i:
                    continue
                d = _distance(x, i, mine, j)
                if d >= radius:
                    continue
                if held == capacity:
                    last_d = out_distance[first + capacity - 1]
                    last_j = out_index[first + capacity - 1]
                    if d > last_d or (d == last_d and j > last_j):
                        continue
                    held -= 1
                p = held  # insertion by (distance, index): the scan order does not matter
                while p > 0 and (
                    out_distance[first + p - 1] > d
                    or (out_distance[first + p - 1] == d and out_index[first + p - 1] > j)
                ):
                    out_distance[first + p] = out_distance[first + p - 1]
                    out_index[first + p] = out_index[first + p - 1]
                    p -= 1
                out_distance[first + p] = d
                out_index[first + p] = j
                held += 1
