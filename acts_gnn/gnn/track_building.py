"""Track building from scored edges: connected components, or components-and-walk.

Layer: gnn (uses K2 from ``cuda``).

* ``components``: candidates are the connected components of the edges scoring above the cut.
* ``walkthrough`` (GNN4ITk, arXiv:2203.08800, "connected components and walkthrough"): a
  component that is a simple chain (every point at most one inner and one outer neighbour) is
  kept as it is; a component that branches is walked instead — from its innermost unused point,
  always along an outward edge above ``walk_cut`` to the nearest unused point (in r; the higher
  score breaks ties) — and each walk is a candidate. Nearest rather than best-scoring, because
  true edges that skip a layer score as high as consecutive ones and following them would strand
  the skipped point. Walks start in order of increasing radius, so the result is deterministic.

Both return canonical labels (:func:`acts_gnn.result.canonical_labels`), -1 for points in
candidates smaller than ``min_size``.
"""

from __future__ import annotations

import numpy as np

from acts_gnn.cuda.components import connected_components_cpu
from acts_gnn.result import canonical_labels

__all__ = ["build_components", "build_walkthrough"]


def build_components(
    n: int, edges: np.ndarray, scores: np.ndarray, cut: float, min_size: int
) -> np.ndarray:
    """Connected components of the edges with ``scores > cut``."""
    return connected_components_cpu(n, edges[:, scores > cut], min_size)


def build_walkthrough(
    n: int,
    edges: np.ndarray,
    scores: np.ndarray,
    r: np.ndarray,
    cut: float,
    walk_cut: float,
    min_size: int,
) -> np.ndarray:
    """Components, with branching components split by walking the best outward edges."""
    keep = scores > cut
    kept = edges[:, keep]
    component = connected_components_cpu(n, kept, 1)
    in_degree = np.bincount(kept[1], minlength=n)
    out_degree = np.bincount(kept[0], minlength=n)
    branching = (in_degree > 1) | (out_degree > 1)
    bad_components = np.unique(component[branching])
    labels = component.copy()
    if bad_components.size == 0:
        return canonical_labels(labels, min_size)

    # walk inside the branching components, on edges above walk_cut
    in_bad = np.isin(component, bad_components)
    walk_mask = (scores > walk_cut) & in_bad[edges[0]] & in_bad[edges[1]]
    w_edges, w_scores = edges[:, walk_mask], scores[walk_mask]
    # by source; the nearest outward point first (edges that skip a layer score high too, and
    # following them would strand the skipped point), then the higher score
    order = np.lexsort((-w_scores, r[w_edges[1]], w_edges[0]))
    w_src, w_dst = w_edges[0][order], w_edges[1][order]
    start = np.searchsorted(w_src, np.arange(n + 1))
    used = np.zeros(n, dtype=bool)
    next_label = int(labels.max()) + 1
    nodes = np.flatnonzero(in_bad)
    nodes = nodes[np.lexsort((nodes, r[nodes]))]
    labels[nodes] = -1
    for seed in nodes.tolist():
        if used[seed]:
            continue
        path = [seed]
        used[seed] = True
        current = seed
        while True:
            step = -1
            for k in range(start[current], start[current + 1]):
                candidate = int(w_dst[k])
                if not used[candidate]:
                    step = candidate
                    break
            if step < 0:
                break
            path.append(step)
            used[step] = True
            current = step
        labels[path] = next_label
        next_label += 1
    return canonical_labels(labels, min_size)
