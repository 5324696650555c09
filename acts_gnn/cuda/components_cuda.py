"""K2 on the GPU: connected components by parallel union-find (numba.cuda).

Layer: cuda. Same result as :func:`acts_gnn.cuda.components.connected_components_cpu`.

In the spirit of ECL-CC (Jaiganesh & Burtscher, HPDC 2018): every point starts as its own root;
one thread per edge finds the roots of its two ends (with path halving) and hooks the larger root
under the smaller with an atomic compare-and-swap, retrying when another thread got there first;
a final pass points every point straight at its root. Because a root only ever hooks under a
smaller one, each component's root is its smallest point, so the canonical labels (components
numbered by their smallest point) are the ranks of the roots.

A last kernel checks every edge: its two ends must now share a root. On an H200 (numba-cuda with
CUDA 13) one hooking pass left a few unions undone — 9 of 300 points of a chain in a separate
component — which Numba's simulator never shows. So hooking and compressing repeat, with the
device synchronised between the passes, until the check passes (how many passes a GPU needs is
not measured yet); after :data:`MAX_ROUNDS` the driver gives up with
:class:`~acts_gnn.errors.KernelError` rather than return wrong labels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from acts_gnn.cuda._numba import THREADS, blocks_for, cuda, is_torch_cuda, on_device
from acts_gnn.errors import KernelError
from acts_gnn.result import canonical_labels

__all__ = ["MAX_ROUNDS", "component_roots_cuda", "connected_components_cuda"]

#: hook-and-compress passes tried before the driver gives up
MAX_ROUNDS = 16


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
