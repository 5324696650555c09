"""K2 on the GPU: connected components by parallel union-find (numba.cuda).

Layer: cuda. Same result as :func:`acts_gnn.cuda.components.connected_components_cpu`.

Min-label hooking in passes, in the spirit of FastSV / Afforest (and of ECL-CC's hooking,
without its in-kernel retries). Every point starts as its own root. A pass is three kernels,
each a launch of its own: **hook** — one thread per edge finds the roots of its two ends by
walking ``parent`` and, when they differ, lowers the larger root's ``parent`` to the smaller with
``atomic.min``; **compress** — one thread per point lowers its ``parent`` to the root it finds;
**check** — one thread per edge raises a device-side flag when its ends' ``parent`` differ. The
driver reads the flag after each pass and stops when no edge raised it.

Why this is right on any GPU, not only in Numba's simulator: ``parent`` entries only ever go
down, by ``atomic.min``, to points of the same component, so every value a thread can read —
fresh or stale — satisfies ``parent[x] <= x`` and names a point of ``x``'s component; a walk
along ``parent`` strictly decreases and ends; no thread loops waiting for another's write; and
the stopping test runs in its own launch, after a kernel boundary, where all earlier writes are
visible. When no edge is unsettled, a component's ``parent`` values are one point p of it, so
``parent[p] = p``: p is the root and, as ``parent[x] <= x``, the component's smallest point — the
canonical labels (components numbered by their smallest point) are the ranks of the roots. Each
pass with an unsettled edge lowers some root's ``parent`` (the edge's larger root is its own
parent when the pass starts), so the passes end; a lost race only postpones a union to the next
pass.

The kernel this replaces (ECL-CC-style hooking with an atomic compare-and-swap retried inside
the kernel, and path halving with plain stores) relied on each thread re-reading, with plain
loads, ``parent`` entries that other threads had just changed. CUDA does not say when another
block's writes become visible to plain loads (L1 is not coherent across multiprocessors, and the
compiler may keep a loaded value in a register), so a thread could act on a stale root — leave
its loop believing its ends already joined, or re-hook through an entry another thread had just
rewritten with a plain store. On an H200 one pass left 9 of 300 points of a chain in a separate
component; which of these races did it was not observed, and the new kernels do not depend on
any of them. The all-edges-settled check stays as the guard: after :data:`MAX_ROUNDS` passes
the driver raises :class:`~acts_gnn.errors.KernelError` rather than return wrong labels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from acts_gnn.cuda._numba import THREADS, blocks_for, cuda, is_torch_cuda, on_device
from acts_gnn.errors import KernelError
from acts_gnn.result import canonical_labels

__all__ = ["MAX_ROUNDS", "component_roots_cuda", "connected_components_cuda"]

#: hook-compress-check passes tried before the driver gives up (a pass with an unsettled edge
#: always makes a union; tracks need a few passes)
MAX_ROUNDS = 64


def component_roots_cuda(n: int, edges: Any) -> Any:
    """Root (smallest point) of every point's component: a device int64 array [n]."""
    nb = cuda()
    from acts_gnn.cuda._components_kernels import compress, hook, init, unsettled

    parent = nb.device_array(n, dtype=np.int64)
    init[blocks_for(n), THREADS](parent)
    e = on_device(edges)
    m = e.shape[1] if len(e.shape) == 2 else 0
    if not m:
        return parent
    flag = nb.device_array(1, dtype=np.int32)
    for _ in range(MAX_ROUNDS):
        hook[blocks_for(m), THREADS](parent, e[0], e[1])
        nb.synchronize()
        compress[blocks_for(n), THREADS](parent)
        nb.synchronize()
        flag.copy_to_device(np.zeros(1, dtype=np.int32))
        unsettled[blocks_for(m), THREADS](parent, e[0], e[1], flag)
        if not flag.copy_to_host()[0]:
            return parent
    raise KernelError(
        f"K2 on the GPU: edges still join different components after {MAX_ROUNDS} passes "
        f"({n} points, {m} edges); run on the CPU (--device cpu)"
    )


def connected_components_cuda(n: int, edges: Any, min_size: int = 1) -> Any:
    """Canonical component labels (int64 [n], -1 below ``min_size``).

    numpy edges give a numpy result; torch CUDA edges a torch CUDA tensor, computed on the device.
    """
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    roots = component_roots_cuda(n, edges)
    if is_torch_cuda(edges):
        import torch

        root = torch.as_tensor(roots, device=edges.device)
        size = torch.bincount(root, minlength=n)
        kept_root = (root == torch.arange(n, device=root.device)) & (size >= min_size)
        rank = torch.cumsum(kept_root.long(), 0) - 1
        return torch.where(size[root] >= min_size, rank[root], torch.full_like(root, -1))
    return canonical_labels(roots.copy_to_host(), min_size)
