"""The K2 kernels (imported only when the GPU path runs; see :mod:`acts_gnn.cuda.components_cuda`).

Layer: cuda. A module-level ``from numba import cuda`` so Numba's simulator can swap it.
"""

from __future__ import annotations

from numba import cuda

__all__ = ["compress", "hook", "init", "unsettled"]


@cuda.jit(device=True)
def find(parent, a):
    """Root of ``a``, halving the path on the way (a benign race: any ancestor is valid)."""
    while True:
        p = parent[a]
        if p == a:
            return a
        grand = parent[p]
        if grand != p:
            parent[a] = grand
        a = grand


@cuda.jit
def init(parent):
    """Every point its own root."""
    i = cuda.grid(1)
    if i < parent.shape[0]:
        parent[i] = i


@cuda.jit
def hook(parent, src, dst):
    """Thread e: join the components of edge e's ends, the larger root under the smaller."""
    e = cuda.grid(1)
    if e >= src.shape[0]:
        return
    a = find(parent, src[e])
    b = find(parent, dst[e])
    while a != b:
        low = min(a, b)
        high = max(a, b)
        old = cuda.atomic.cas(parent, high, high, low)
        if old == high:
            return
        a = find(parent, high)
        b = find(parent, low)


@cuda.jit
def compress(parent):
    """Point every point straight at its root."""
    i = cuda.grid(1)
    if i < parent.shape[0]:
        parent[i] = find(parent, i)


@cuda.jit
def unsettled(parent, src, dst, flag):
    """Thread e: raise ``flag`` when edge e's ends have different roots after :func:`compress`."""
    e = cuda.grid(1)
    if e < src.shape[0] and parent[src[e]] != parent[dst[e]]:
        flag[0] = 1
