"""Pick the kernel for where the data live: the CPU twin for host tensors, numba.cuda on a GPU.

Layer: cuda.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from acts_gnn.cuda.components import connected_components_cpu
from acts_gnn.cuda.frnn import radius_graph_cpu

__all__ = ["connected_components", "radius_graph"]


def _on_gpu(tensor: Any) -> bool:
    return bool(getattr(tensor, "is_cuda", False))


def radius_graph(latent: Any, r: Any, radius: float, max_neighbours: int) -> Any:
    """K1 on torch tensors: int64 [2, E] on the same device as ``latent``."""
    import torch

    if _on_gpu(latent):
        from acts_gnn.cuda.frnn_cuda import radius_graph_cuda

        return radius_graph_cuda(latent.contiguous(), r, radius, max_neighbours)
    # as many tree-query threads as torch's intra-op threads (what the caller set for this process)
    edges = radius_graph_cpu(
        latent.numpy(), np.asarray(r.numpy()), radius, max_neighbours, torch.get_num_threads()
    )
    return torch.from_numpy(edges)


def connected_components(n: int, edges: Any, min_size: int) -> np.ndarray:
    """K2 on torch edges [2, E]; labels come back as a numpy int64 array."""
    if _on_gpu(edges):
        from acts_gnn.cuda.components_cuda import connected_components_cuda

        return connected_components_cuda(n, edges.contiguous(), min_size).cpu().numpy()
    return connected_components_cpu(n, edges.numpy(), min_size)
