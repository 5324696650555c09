"""K1 on the GPU: fixed-radius k-nearest neighbours by tiled all-pairs distances (numba.cuda).

Layer: cuda. Same contract as :func:`acts_gnn.cuda.frnn.radius_graph_cpu` (see that module):
distances in float64 from the float32 latent, strictly inside the radius, at most
``max_neighbours`` nearest per point with ties to the smaller index, union of the pairs oriented
inner → outer in r and sorted.

Method: one thread per point scans every other point; the points are staged through shared memory
in tiles of one point per thread, so each latent vector is read from global memory once per
block. Each thread keeps its best ``max_neighbours`` candidates in insertion order by (distance,
index) in a per-point slice of a global buffer (the kernel is in
:mod:`acts_gnn.cuda._frnn_kernel`). All-pairs is O(N²) but branch-free and coalesced; a cell list
on a 2-D projection would cut the work for N ≳ 10⁵ — which one wins on an H100 is to be measured
by ``make gpu-check`` (no GPU was available when this was written).

Orientation, de-duplication and sorting run on the host for numpy input and with torch on the
device for torch CUDA input (no round trip through host memory).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from acts_gnn.cuda._numba import THREADS, blocks_for, cuda, is_torch_cuda, on_device
from acts_gnn.cuda.frnn import orient_and_sort

__all__ = ["MAX_DIM", "neighbour_lists_cuda", "radius_graph_cuda"]

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


def radius_graph_cuda(latent: Any, r: Any, radius: float, max_neighbours: int) -> Any:
    """K1 on the GPU; the same edges as :func:`~acts_gnn.cuda.frnn.radius_graph_cpu`.

    Returns int64 [2, E]: a numpy array for numpy input, a torch CUDA tensor for torch input.
    """
    n = latent.shape[0]
    on_gpu = is_torch_cuda(latent)
    if n < 2 or max_neighbours < 1:
        if on_gpu:
            import torch

            return torch.zeros((2, 0), dtype=torch.long, device=latent.device)
        return np.zeros((2, 0), dtype=np.int64)
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
