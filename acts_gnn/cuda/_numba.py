"""Numba CUDA plumbing shared by the kernels: lazy import, device arrays in and out.

Layer: cuda.

``numba.cuda`` is imported on first use only (it is heavy, and absent without the ``cuda`` extra).
Arrays that expose ``__cuda_array_interface__`` (torch CUDA tensors, CuPy arrays) are used in place,
with no copy through host memory; numpy arrays are copied to the device. Under
``NUMBA_ENABLE_CUDASIM=1`` everything runs in Numba's simulator on the CPU, which is how the
kernels are tested on machines without a GPU.
"""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any

from acts_gnn._extras import require

__all__ = ["THREADS", "blocks_for", "cuda", "is_torch_cuda", "on_device"]

#: threads per block of every 1-D launch
THREADS = 128


@functools.cache
def cuda() -> ModuleType:
    """The ``numba.cuda`` module (imported once)."""
    return require("numba.cuda", "cuda")


def on_device(array: Any) -> Any:
    """A numba device array for ``array``: a zero-copy view when it lives on the GPU already."""
    nb = cuda()
    if hasattr(array, "__cuda_array_interface__"):
        return nb.as_cuda_array(array)
    return nb.to_device(array)


def is_torch_cuda(array: Any) -> bool:
    """A torch tensor on a CUDA device (results then stay torch tensors on that device)."""
    return hasattr(array, "__cuda_array_interface__") and hasattr(array, "new_zeros")


def blocks_for(n: int) -> int:
    """Blocks of :data:`THREADS` threads that cover ``n`` items (at least one)."""
    return max((n + THREADS - 1) // THREADS, 1)
