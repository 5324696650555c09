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

Either can be followed by **stitching** (:func:`stitch_pieces` on the builder's pieces of any
size, ``link_cut``): a track the GNN cut into pieces usually
keeps a true edge between its pieces that scores below the cut but well above chance. A piece
may take one link at its outer end and one at its inner end, from an edge above ``link_cut``
that leaves its outermost point (within :data:`STITCH_R_TOLERANCE` in r) for the innermost point
of the other piece; links are taken best score first, and one of the two sides (with what is
already stitched to it) must have at least :data:`STITCH_ANCHOR_SIZE` points — loose points may
join a track, but never form one among themselves.

Last, **rescue** (:func:`rescue_leftovers`, ``rescue_cut``): a track whose edges all score
between the rescue cut and the GNN cut — hard and central tracks among them — is in no
candidate; the points no candidate holds are grouped by the edges above the rescue cut between
them, and those groups (stitched the same way) become candidates too. With ``rescue_walk_cut``
set, a group that branches is walked as the walkthrough walks (along the free points' edges
above that cut, nearest outward point first) instead of kept whole: two close tracks that one
edge above the rescue cut joins — on the real TrackML barrel subset, two 1 GeV particles 12 mm
apart in z, each lost in their common candidate — become two candidates. The walk's cut lies
below the rescue cut for the reason the walkthrough's lies below the GNN cut: a walk along the
consecutive edges alone stops where one of them scores below it, and strands the rest. The
candidate-quality selection that follows drops the likely fakes among the rescued candidates.

All return canonical labels (:func:`acts_gnn.result.canonical_labels`), -1 for points in
candidates smaller than ``min_size``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from acts_gnn.cuda.components import connected_components_cpu
from acts_gnn.interrupts import interrupts_held
from acts_gnn.result import canonical_labels

__all__ = [
    "STITCH_ANCHOR_SIZE",
    "STITCH_R_TOLERANCE",
    "build_components",
    "build_walkthrough",
    "rescue_leftovers",
    "stitch_pieces",
]

#: a stitch needs one piece of at least this many points
STITCH_ANCHOR_SIZE = 3
#: how far inside a piece's outermost (innermost) point, in contract r units (r/1000, so 10 mm),
#: a link may still leave (arrive): points of one layer's overlapping modules sit that close
STITCH_R_TOLERANCE = 0.01


def build_components(
    n: int, edges: np.ndarray, scores: np.ndarray, cut: float, min_size: int
) -> np.ndarray:
    """Connected components of the edges with ``scores > cut``."""
    return connected_components_cpu(n, edges[:, scores > cut], min_size)


def stitch_pieces(
    pieces: np.ndarray,
    edges: np.ndarray,
    scores: np.ndarray,
    r: np.ndarray,
    link_cut: float,
    min_size: int,
) -> np.ndarray:
    """Join pieces (labels ≥ 0 for every point) end to end along edges above ``link_cut``.

    See the module: each piece takes at most one outward and one inward link, best score first,
    from its outermost to the other's innermost point, one of the two sides with at least
    :data:`STITCH_ANCHOR_SIZE` points. Returns canonical labels (pieces under ``min_size`` → -1).
    """
    pieces = np.asarray(pieces, dtype=np.int64)
    n_pieces = int(pieces.max()) + 1 if pieces.size else 0
    if n_pieces == 0:
        return canonical_labels(pieces, min_size)
    r = np.asarray(r, dtype=np.float64)
    outer = np.full(n_pieces, -np.inf)
    np.maximum.at(outer, pieces, r)
    inner = np.full(n_pieces, np.inf)
    np.minimum.at(inner, pieces, r)
    size = np.bincount(pieces, minlength=n_pieces)

    link = (scores > link_cut) & (pieces[edges[0]] != pieces[edges[1]])
    a, b, score = edges[0][link], edges[1][link], scores[link]
    flip = r[a] > r[b]  # orient inner → outer
    a, b = np.where(flip, b, a), np.where(flip, a, b)
    from_piece, to_piece = pieces[a], pieces[b]
    usable = (r[a] >= outer[from_piece] - STITCH_R_TOLERANCE) & (
        r[b] <= inner[to_piece] + STITCH_R_TOLERANCE
    )
    # best score first; ties by the pieces' numbers, so the result does not depend on edge order
    from_piece, to_piece, score = from_piece[usable], to_piece[usable], score[usable]
    order = np.lexsort((to_piece, from_piece, -score))

    with interrupts_held():  # a compiled kernel (see acts_gnn.interrupts)
        tops = _links(from_piece[order], to_piece[order], size.astype(np.int64), STITCH_ANCHOR_SIZE)
    while True:  # follow every piece to its root, all at once
        above = tops[tops]
        if np.array_equal(above, tops):
            return canonical_labels(tops[pieces], min_size)
        tops = above


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
    nodes = np.flatnonzero(in_bad)
    nodes = nodes[np.lexsort((nodes, r[nodes]))]
    labels[nodes] = -1
    with interrupts_held():  # a compiled kernel (see acts_gnn.interrupts)
        _walk(nodes, start, np.asarray(w_dst, np.int64), labels, int(labels.max()) + 1)
    return canonical_labels(labels, min_size)


def rescue_leftovers(
    labels: np.ndarray,
    edges: np.ndarray,
    scores: np.ndarray,
    r: np.ndarray,
    cut: float,
    link_cut: float | None,
    min_size: int,
    walk_cut: float | None = None,
) -> np.ndarray:
    """``labels`` plus candidates made of the points they leave out (label < 0): connected
    components of the edges above ``cut`` that join two such points — those that branch walked
    along such edges above ``walk_cut`` (:func:`build_walkthrough`; None: kept whole) —,
    stitched along those above ``link_cut`` (None: not stitched). Canonical labels, candidates
    under ``min_size`` → -1."""
    labels = np.asarray(labels, dtype=np.int64)
    free = labels < 0
    between = free[edges[0]] & free[edges[1]]
    edges, scores = edges[:, between], scores[between]
    n = labels.shape[0]
    size = min_size if link_cut is None else 1
    if walk_cut is None:
        groups = build_components(n, edges, scores, cut, size)
    else:
        groups = build_walkthrough(n, edges, scores, r, cut, walk_cut, size)
    extra = (
        groups if link_cut is None else stitch_pieces(groups, edges, scores, r, link_cut, min_size)
    )
    # every joined point was free: the edges join free points only
    offset = int(labels.max()) + 1 if labels.size else 0
    return canonical_labels(
        np.where(labels >= 0, labels, np.where(extra >= 0, extra + offset, -1)), min_size
    )


@njit(cache=True)
def _walk(seeds, start, w_dst, labels, next_label):
    """Walks from each unused seed in turn, always to the first unused point of its outward
    edges (``w_dst[start[p]:start[p + 1]]``, in the order of preference); each walk is labelled
    ``next_label``, ``next_label + 1``, … in ``labels`` (in place)."""
    used = np.zeros(labels.shape[0], np.bool_)
    for seed in seeds:
        if used[seed]:
            continue
        used[seed] = True
        labels[seed] = next_label
        current = seed
        while True:
            step = -1
            for k in range(start[current], start[current + 1]):
                if not used[w_dst[k]]:
                    step = w_dst[k]
                    break
            if step < 0:
                break
            used[step] = True
            labels[step] = next_label
            current = step
        next_label += 1


@njit(cache=True)
def _root(parent, x):
    """The root of ``x`` in the union-find forest ``parent``, halving the path on the way."""
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@njit(cache=True)
def _links(sources, targets, size, anchor):
    """Take the links (source piece → target piece) in order: each piece at most one outward
    and one inward link, never a loop, one side holding at least ``anchor`` points with what is
    already joined to it. Returns the union-find forest [pieces] (``size``: points per piece,
    updated in place)."""
    n_pieces = size.shape[0]
    parent = np.arange(n_pieces)
    linked_out = np.zeros(n_pieces, np.bool_)
    linked_in = np.zeros(n_pieces, np.bool_)
    for k in range(sources.shape[0]):
        source, target = sources[k], targets[k]
        if linked_out[source] or linked_in[target]:
            continue
        top_source, top_target = _root(parent, source), _root(parent, target)
        if top_source == top_target or max(size[top_source], size[top_target]) < anchor:
            continue
        linked_out[source] = True
        linked_in[target] = True
        parent[top_target] = top_source
        size[top_source] += size[top_target]
    return parent
