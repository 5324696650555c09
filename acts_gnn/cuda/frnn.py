"""K1: fixed-radius nearest neighbours in the latent space → the candidate graph.

Layer: cuda. CPU implementation with SciPy's k-d tree; the CUDA kernel (next to it) must give the
same edges.

Semantics (the contract both implementations keep):

* a pair (i, j), i ≠ j, is a candidate when ``‖x_i − x_j‖ < radius`` (strictly less; distances
  in float64 from the float32 latent);
* each point keeps at most ``max_neighbours`` of its candidates: the nearest ones, ties in
  distance broken by the smaller point index;
* the graph is the **union** over points of the kept pairs, taken as undirected and listed once;
* **direction**: each edge points from the point with the smaller transverse radius ``r`` to the
  larger (inner → outer, the direction tracks grow); equal ``r`` → smaller index first;
* the edge list is sorted by (source, target).

Shapes: latent float32 [N, D]; r float32 [N]; returns int64 [2, E].
"""

from __future__ import annotations

import numpy as np

__all__ = ["orient_and_sort", "radius_graph_cpu"]


def orient_and_sort(pairs: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Deduplicate undirected pairs [2, E], orient inner → outer, sort by (source, target)."""
    if pairs.size == 0:
        return np.zeros((2, 0), dtype=np.int64)
    a, b = pairs[0].astype(np.int64), pairs[1].astype(np.int64)
    ra, rb = r[a], r[b]
    a_first = (ra < rb) | ((ra == rb) & (a < b))
    src = np.where(a_first, a, b)
    dst = np.where(a_first, b, a)
    n = int(max(src.max(), dst.max())) + 1
    key = np.unique(src * n + dst)
    return np.stack([key // n, key % n]).astype(np.int64)


def radius_graph_cpu(
    latent: np.ndarray, r: np.ndarray, radius: float, max_neighbours: int
) -> np.ndarray:
    """All pairs closer than ``radius`` in ``latent``, ≤ ``max_neighbours`` per point (see module).

    Args:
        latent: float32 [N, D] embedded points.
        r: float32 [N] transverse radius of each space point (orients the edges).
        radius: latent-space radius.
        max_neighbours: most neighbours kept per point (k ≥ 1).

    Returns:
        int64 [2, E] edges, inner → outer, sorted.
    """
    from scipy.spatial import cKDTree

    latent = np.ascontiguousarray(latent, dtype=np.float32)
    n = latent.shape[0]
    if n < 2 or max_neighbours < 1:
        return np.zeros((2, 0), dtype=np.int64)
    # +1: the point itself comes back at distance 0; +8: room for ties at the k-th neighbour
    k = min(max_neighbours + 9, n)
    tree = cKDTree(latent.astype(np.float64))
    distance, index = tree.query(
        latent.astype(np.float64), k=k, distance_upper_bound=radius, workers=-1
    )
    distance = np.atleast_2d(distance)
    index = np.atleast_2d(index)
    source = np.repeat(np.arange(n), k).reshape(n, k)
    valid = (index < n) & (index != source) & (distance < radius)
    # the tree returns neighbours by distance; make ties follow the smaller index
    order = np.lexsort((np.where(valid, index, n), np.where(valid, distance, np.inf)), axis=1)
    index = np.take_along_axis(index, order, axis=1)
    valid = np.take_along_axis(valid, order, axis=1)
    # at most max_neighbours per point (self excluded)
    rank = np.cumsum(valid, axis=1)
    keep = valid & (rank <= max_neighbours)
    pairs = np.stack([source[keep], index[keep]])
    return orient_and_sort(pairs, np.asarray(r, dtype=np.float32))
