"""K1: fixed-radius nearest neighbours in the latent space → the candidate graph.

Layer: cuda. CPU implementation with SciPy's k-d tree; the CUDA kernel (next to it) must give the
same edges.

Semantics (the contract both implementations keep):

* a pair (i, j), i ≠ j, is a candidate when ``‖x_i − x_j‖ < radius`` (strictly less; distances
  in float64 from the float32 latent);
* each point keeps at most ``max_neighbours`` of its candidates: the nearest ones, ties in
  distance broken by the smaller point index (on the CPU, exact while at most 8 further points
  tie at a point's last kept distance: the k-d tree is asked for ``max_neighbours + 9``);
* the graph is the **union** over points of the kept pairs, taken as undirected and listed once;
* **direction**: each edge points from the point with the smaller transverse radius ``r`` to the
  larger (inner → outer, the direction tracks grow); equal ``r`` → smaller index first;
* the edge list is sorted by (source, target).

Shapes: latent float32 [N, D]; r float32 [N]; returns int64 [2, E].
"""

from __future__ import annotations

import numpy as np

from acts_gnn.cpus import resolve_threads

__all__ = ["orient_and_sort", "radius_graph_cpu"]


def orient_and_sort(pairs: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Deduplicate undirected pairs [2, E], orient inner → outer, sort by (source, target)."""
    from acts_gnn.cuda._frnn_select import sorted_unique

    if pairs.size == 0:
        return np.zeros((2, 0), dtype=np.int64)
    a, b = pairs[0].astype(np.int64), pairs[1].astype(np.int64)
    ra, rb = r[a], r[b]
    a_first = (ra < rb) | ((ra == rb) & (a < b))
    src = np.where(a_first, a, b)
    dst = np.where(a_first, b, a)
    return sorted_unique(src, dst, int(max(src.max(), dst.max())) + 1)


def radius_graph_cpu(
    latent: np.ndarray,
    r: np.ndarray,
    radius: float,
    max_neighbours: int,
    workers: int | None = None,
) -> np.ndarray:
    """All pairs closer than ``radius`` in ``latent``, ≤ ``max_neighbours`` per point (see module).

    Args:
        latent: float32 [N, D] embedded points.
        r: float32 [N] transverse radius of each space point (orients the edges).
        radius: latent-space radius.
        max_neighbours: most neighbours kept per point (k ≥ 1).
        workers: threads of the tree queries (None: :func:`acts_gnn.cpus.resolve_threads`,
            the CPUs this process may use — not SciPy's ``-1``, which counts every core of the
            machine whatever the affinity mask says).

    Returns:
        int64 [2, E] edges, inner → outer, sorted.
    """
    import numba
    from scipy.spatial import cKDTree

    from acts_gnn.cuda._frnn_select import directed_pairs, kept_neighbours, sorted_unique

    latent = np.ascontiguousarray(latent, dtype=np.float32)
    n = latent.shape[0]
    if n < 2 or max_neighbours < 1:
        return np.zeros((2, 0), dtype=np.int64)
    # +1: the point itself comes back at distance 0; +8: room for ties at the k-th neighbour
    k = min(max_neighbours + 9, n)
    if workers is None:
        workers = resolve_threads()
    tree = cKDTree(latent.astype(np.float64))
    distance, index = tree.query(
        latent.astype(np.float64), k=k, distance_upper_bound=radius, workers=workers
    )
    # the compiled passes on as many threads as the tree query (this thread's Numba setting)
    numba.set_num_threads(max(1, min(workers, numba.config.NUMBA_NUM_THREADS)))
    distance = np.ascontiguousarray(np.atleast_2d(distance))
    index = np.ascontiguousarray(np.atleast_2d(index), dtype=np.int64)
    kept, last_d, last_i, cut_ties = kept_neighbours(distance, index, radius, max_neighbours)
    source, target = directed_pairs(
        distance,
        index,
        kept,
        last_d,
        last_i,
        cut_ties,
        max_neighbours,
        np.asarray(r, dtype=np.float32),
    )
    return sorted_unique(source, target, n)
