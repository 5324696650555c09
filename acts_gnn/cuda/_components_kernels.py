"""The K2 kernels (imported only when the GPU path runs; see :mod:`acts_gnn.cuda.components_cuda`).

Layer: cuda. A module-level ``from numba import cuda`` so Numba's simulator can swap it.

Every kernel here is correct whatever another thread's writes it sees or misses: it only ever
lowers ``parent`` entries with ``atomic.min``, to points of the same component, so
``parent[x] <= x`` holds for every value any thread can read; walks along ``parent`` end because
each step goes to a smaller point; and no thread waits in a loop for another's write. Whether
the work is finished is decided by a separate kernel, after a kernel boundary, where every
earlier write is visible.
"""

from __future__ import annotations

from numba import cuda

__all__ = ["compress", "hook", "init", "unsettled"]


@cuda.jit(device=True)
def find(parent, a):
    """A root of ``a``'s tree by reading only: each step goes to a smaller point of the same
    component, so the walk ends (at a point that was its own parent when read)."""
    p = parent[a]
    while p != a:
        a = p
        p = parent[a]
    return a


@cuda.jit
def init(parent):
    """Every point its own root."""
    i = cuda.grid(1)
    if i < parent.shape[0]:
        parent[i] = i


@cuda.jit
def hook(parent, src, dst):
    """Thread e: the larger of the roots of edge e's ends under the smaller (``atomic.min``).

    Two threads hooking one root under different points keep the smaller one: the other union
    waits for the next pass, and the driver repeats passes until every edge is settled.
    """
    e = cuda.grid(1)
    if e >= src.shape[0]:
        return
    a = find(parent, src[e])
    b = find(parent, dst[e])
    if a != b:
        cuda.atomic.min(parent, max(a, b), min(a, b))


@cuda.jit
def compress(parent):
    """Point every point at the root it finds (``atomic.min``: never above a newer, lower one)."""
    i = cuda.grid(1)
    if i < parent.shape[0]:
        cuda.atomic.min(parent, i, find(parent, i))


@cuda.jit
def unsettled(parent, src, dst, flag):
    """Thread e: raise ``flag`` when edge e's ends have different ``parent`` after a pass.

    When no edge raises it, the ``parent`` values of a component are all one point p, and p is
    in the component, so ``parent[p] = p``: p is its root, and its smallest point (every
    ``parent[x] <= x``).
    """
    e = cuda.grid(1)
    if e < src.shape[0] and parent[src[e]] != parent[dst[e]]:
        flag[0] = 1
