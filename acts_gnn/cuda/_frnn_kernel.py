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
                count = _insert(out_index[i], out_distance[i], 0, k, count, d, j)
        cuda.syncthreads()


@cuda.jit(device=True)
def _insert(index, distance, first, capacity, held, d, j):
    """Put (d, j) into the ``held`` best of ``index/distance[first : first + capacity]``, kept
    sorted by (distance, index) — so the result does not depend on the order points come in;
    returns how many are held now."""
    if held == capacity:
        last_d = distance[first + capacity - 1]
        last_j = index[first + capacity - 1]
        if d > last_d or (d == last_d and j > last_j):
            return held
        held -= 1
    p = held
    while p > 0 and (
        distance[first + p - 1] > d or (distance[first + p - 1] == d and index[first + p - 1] > j)
    ):
        distance[first + p] = distance[first + p - 1]
        index[first + p] = index[first + p - 1]
        p -= 1
    distance[first + p] = d
    index[first + p] = j
    return held + 1


@cuda.jit(device=True)
def _distance(x, i, mine, j):
    """‖x_i − x_j‖ in float64 (``mine`` holds x_i in float64), summed in dimension order."""
    s = 0.0
    for c in range(x.shape[1]):
        diff = mine[c] - float64(x[j, c])
        s += diff * diff
    return math.sqrt(s)


@cuda.jit(device=True)
def _scan_cells(x, i, radius, cell, order, cell_start, n_cells_y, index, distance, first, capacity):
    """The points inside ``radius`` of point i, from the 3 × 3 cells around its own on the grid
    of the first two latent dimensions (a point inside the radius differs by less than a cell in
    each of them): their number, and the ``capacity`` nearest kept in
    ``index/distance[first : first + capacity]`` (capacity 0: counted only)."""
    mine = cuda.local.array(MAX_DIM, dtype=float64)
    for c in range(x.shape[1]):
        mine[c] = float64(x[i, c])
    n_cells_x = (cell_start.shape[0] - 1) // n_cells_y
    found = 0
    held = 0
    for a in range(max(cell[i, 0] - 1, 0), min(cell[i, 0] + 2, n_cells_x)):
        for b in range(max(cell[i, 1] - 1, 0), min(cell[i, 1] + 2, n_cells_y)):
            home = a * n_cells_y + b
            for s in range(cell_start[home], cell_start[home + 1]):
                j = order[s]
                if j == i:
                    continue
                d = _distance(x, i, mine, j)
                if d < radius:
                    found += 1
                    if capacity > 0:
                        held = _insert(index, distance, first, capacity, held, d, j)
    return found


@cuda.jit
def count_in_cells(
    x, radius, k, cell, order, cell_start, n_cells_y, counts, scratch_index, scratch_distance
):
    """Thread i: how many points lie inside ``radius`` of point i (at most ``k``); the scratch
    arrays stand in for the output slices, which counting does not use."""
    i = cuda.grid(1)
    if i < x.shape[0]:
        found = _scan_cells(
            x, i, radius, cell, order, cell_start, n_cells_y, scratch_index, scratch_distance, 0, 0
        )
        counts[i] = min(found, k)


@cuda.jit
def fill_from_cells(
    x, radius, cell, order, cell_start, n_cells_y, offsets, counts, out_index, out_distance
):
    """Thread i: its ``counts[i]`` nearest points inside ``radius``, by (distance, index), into
    ``out_*[offsets[i] : offsets[i] + counts[i]]`` (the same cells as :func:`count_in_cells`)."""
    i = cuda.grid(1)
    if i < x.shape[0] and counts[i] > 0:
        _scan_cells(
            x, i, radius, cell, order, cell_start, n_cells_y, out_index, out_distance,
            offsets[i], counts[i],
        )  # fmt: skip
