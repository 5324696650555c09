"""K1 on the GPU: fixed-radius k-nearest neighbours on a cell grid (numba.cuda).

Layer: cuda. Same contract as :func:`acts_gnn.cuda.frnn.radius_graph_cpu` (see that module):
distances in float64 from the float32 latent, strictly inside the radius, at most
``max_neighbours`` nearest per point with ties to the smaller index, union of the pairs oriented
inner → outer in r and sorted.

Method (``method="grid"``, the default): the points are binned on a grid over the first two
latent dimensions with cells a hair wider than the radius (a point inside the radius of another
is at most one cell away in each of them, rounding included), sorted by cell (numpy on the host,
torch on the device). One thread per point then visits the 3 × 3 cells around its own and
computes the exact distance in every dimension — O(N) work at a fixed density. Two passes keep
memory to what the graph needs: the first counts each point's neighbours inside the radius
(at most ``max_neighbours``), a prefix sum gives each point its slice, and the second fills the
slice with the nearest ones by (distance, index), which does not depend on the order the cells
are visited in — so the edge set equals the CPU's exactly. When the latent spread would need
more than a few cells per point, cells grow (any size at least the radius is right).
``method="brute"`` is the earlier all-pairs kernel, O(N²), kept as a reference
(:mod:`acts_gnn.cuda._frnn_kernel` holds both).

Orientation, de-duplication and sorting run on the host for numpy input and with torch on the
device for torch CUDA input (no round trip through host memory).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from acts_gnn.cuda._numba import THREADS, blocks_for, cuda, is_torch_cuda, on_device
from acts_gnn.cuda.frnn import orient_and_sort

__all__ = ["MAX_DIM", "grid_neighbours_cuda", "neighbour_lists_cuda", "radius_graph_cuda"]

#: a cell is this much wider than the radius, so that float rounding in the binning cannot put
#: two points closer than the radius two cells apart
_CELL_MARGIN = 1e-6
#: cells per point beyond which the cells grow (memory for the cell table stays O(N))
_CELLS_PER_POINT = 4

#: largest latent dimension the kernel handles (see :mod:`acts_gnn.cuda._frnn_kernel`)
MAX_DIM = 16


def neighbour_lists_cuda(latent: Any, radius: float, max_neighbours: int) -> Any:
    """Per point, its ``max_neighbours`` nearest points inside ``radius`` (device int64 [N, k]).

    Unused slots hold -1. ``latent`` is a float32 [N, D] numpy array or CUDA array.
    """
    nb = cuda()
    x = on_device(latent)
    n, dim = x.shape
    if dim > MAX_DIM:
        raise ValueError(f"latent dimension {dim} exceeds the kernel's maximum of {MAX_DIM}")
    k = max(int(max_neighbours), 1)
    index = nb.to_device(np.full((n, k), -1, dtype=np.int64))
    distance = nb.to_device(np.full((n, k), np.inf, dtype=np.float64))
    if n:
        from acts_gnn.cuda._frnn_kernel import knn_in_radius

        knn_in_radius[blocks_for(n), THREADS](x, float(radius), k, index, distance)
    return index


def _cells(xy: Any, radius: float, xp: Any) -> tuple[Any, Any, Any, int]:
    """Cell of every point (int64 [N, 2]), points sorted by cell, cell starts, cells along y.

    ``xy`` float64 [N, 2]; ``xp`` is numpy or torch (on the points' device).
    """
    n = xy.shape[0]
    origin = xy.min(0)[0] if xp.__name__ == "torch" else xy.min(0)
    extent = xy.max(0)[0] - origin if xp.__name__ == "torch" else xy.max(0) - origin
    size = radius * (1.0 + _CELL_MARGIN)
    spans = [int(float(e) / size) + 1 for e in extent]
    if spans[0] * spans[1] > _CELLS_PER_POINT * n + 1024:
        size *= (spans[0] * spans[1] / (_CELLS_PER_POINT * n + 1024)) ** 0.5
        spans = [int(float(e) / size) + 1 for e in extent]
    cell = xp.floor((xy - origin) / size)
    cell = cell.long() if xp.__name__ == "torch" else cell.astype(np.int64)
    key = cell[:, 0] * spans[1] + cell[:, 1]
    if xp.__name__ == "torch":
        order = xp.argsort(key, stable=True)
        bounds = xp.arange(spans[0] * spans[1] + 1, device=xy.device)
        start = xp.searchsorted(key[order].contiguous(), bounds)
    else:
        order = np.argsort(key, kind="stable")
        start = np.searchsorted(key[order], np.arange(spans[0] * spans[1] + 1))
    return cell, order, start, spans[1]


def grid_neighbours_cuda(latent: Any, radius: float, max_neighbours: int) -> tuple[Any, Any]:
    """Per point, its nearest points inside ``radius`` (at most ``max_neighbours``), by cells.

    Returns (counts int64 [N], neighbours int64 [Σ counts]) — point i's neighbours are the
    ``counts[i]`` entries after those of the points before it — as numpy arrays for numpy input
    and torch tensors on the device for torch input.
    """
    nb = cuda()
    n, dim = latent.shape
    if dim > MAX_DIM:
        raise ValueError(f"latent dimension {dim} exceeds the kernel's maximum of {MAX_DIM}")
    from acts_gnn.cuda._frnn_kernel import count_in_cells, fill_from_cells

    k = max(int(max_neighbours), 1)
    if is_torch_cuda(latent):
        import torch as xp

        xy = latent[:, :2].double()
        if dim == 1:
            xy = xp.cat([xy, xp.zeros_like(xy)], 1)
    else:
        xp = np  # type: ignore[assignment]
        xy = np.asarray(latent, dtype=np.float32)[:, :2].astype(np.float64)
        if dim == 1:
            xy = np.concatenate([xy, np.zeros_like(xy)], 1)
    cell, order, start, n_cells_y = _cells(xy, radius, xp)
    x = on_device(latent)
    cell_d, order_d, start_d = on_device(cell), on_device(order), on_device(start)
    counts = nb.device_array(n, dtype=np.int64)
    scratch = nb.device_array(1, dtype=np.int64), nb.device_array(1, dtype=np.float64)
    count_in_cells[blocks_for(n), THREADS](
        x, float(radius), k, cell_d, order_d, start_d, n_cells_y, counts, *scratch
    )
    if xp is np:
        sizes = counts.copy_to_host()
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        total = int(sizes.sum())
    else:
        sizes = xp.as_tensor(counts, device=latent.device)
        offsets = xp.cumsum(sizes, 0) - sizes
        total = int(sizes.sum())
    index = nb.to_device(np.full(max(total, 1), -1, dtype=np.int64))
    distance = nb.to_device(np.full(max(total, 1), np.inf, dtype=np.float64))
    fill_from_cells[blocks_for(n), THREADS](
        x, float(radius), cell_d, order_d, start_d, n_cells_y, on_device(offsets), counts,
        index, distance,
    )  # fmt: skip
    if xp is np:
        return sizes, index.copy_to_host()[:total]
    return sizes, xp.as_tensor(index, device=latent.device)[:total]


def radius_graph_cuda(
    latent: Any, r: Any, radius: float, max_neighbours: int, method: str = "grid"
) -> Any:
    """K1 on the GPU; the same edges as :func:`~acts_gnn.cuda.frnn.radius_graph_cpu`.

    ``method``: ``grid`` (cells, O(N)) or ``brute`` (all pairs, O(N²); the reference).
    Returns int64 [2, E]: a numpy array for numpy input, a torch CUDA tensor for torch input.
    """
    if method not in ("grid", "brute"):
        raise ValueError(f"method must be 'grid' or 'brute', got {method!r}")
    n = latent.shape[0]
    on_gpu = is_torch_cuda(latent)
    if n < 2 or max_neighbours < 1:
        if on_gpu:
            import torch

            return torch.zeros((2, 0), dtype=torch.long, device=latent.device)
        return np.zeros((2, 0), dtype=np.int64)
    if method == "grid":
        sizes, neighbours = grid_neighbours_cuda(latent, radius, max_neighbours)
        if on_gpu:
            import torch

            source = torch.repeat_interleave(torch.arange(n, device=latent.device), sizes)
            return _orient_and_sort_torch(torch.stack([source, neighbours]), r)
        source = np.repeat(np.arange(n), sizes)
        return orient_and_sort(np.stack([source, neighbours]), np.asarray(r, np.float32))
    lists = neighbour_lists_cuda(latent, radius, max_neighbours)
    if on_gpu:
        import torch

        table = torch.as_tensor(lists, device=latent.device)
        source = torch.arange(n, device=latent.device).unsqueeze(1).expand_as(table)
        keep = table >= 0
        return _orient_and_sort_torch(torch.stack([source[keep], table[keep]]), r)
    table = lists.copy_to_host()
    source = np.repeat(np.arange(n), table.shape[1]).reshape(table.shape)
    keep = table >= 0
    return orient_and_sort(np.stack([source[keep], table[keep]]), np.asarray(r, np.float32))


def _orient_and_sort_torch(pairs: Any, r: Any) -> Any:
    """:func:`~acts_gnn.cuda.frnn.orient_and_sort` with torch on the pairs' device."""
    import torch

    if pairs.numel() == 0:
        return pairs.new_zeros((2, 0))
    a, b = pairs[0], pairs[1]
    r = torch.as_tensor(r, device=pairs.device)
    ra, rb = r[a], r[b]
    a_first = (ra < rb) | ((ra == rb) & (a < b))
    src = torch.where(a_first, a, b)
    dst = torch.where(a_first, b, a)
    n = int(torch.maximum(src.max(), dst.max())) + 1
    key = torch.unique(src * n + dst)  # sorted
    return torch.stack([key // n, key % n])
