"""K1 on the CPU after the neighbour query: choose each point's neighbours, then orient, sort and
de-duplicate the pairs — compiled loops (Numba, parallel over points), O(E) work.

Layer: cuda. Private to :mod:`acts_gnn.cuda.frnn`, whose docstring states the contract. The
arrays of the query are rewritten in place (the caller owns them).

Each row of the query (the grid query of :mod:`acts_gnn.cuda._frnn_grid`, in the k-d tree's
format) holds a point's neighbours (index ``n``: none): all of them in the order found while
they fit, else the nearest by (distance, index). :func:`kept_neighbours` moves each row's
candidates (not the point itself, closer than the radius) to its front and counts the kept ones
(at most ``max_neighbours``); only a row with more candidates than that is sorted, by (distance,
index), to keep the nearest. Sorting every row by insertion, O(m²) with ~58 candidates per
point, cost a μ = 200 event's grid query 0.37–0.45 s against 0.28 s for the same scan into
16 columns (2026-12-02). :func:`directed_pairs` lists every kept pair once where it
can tell that the other end keeps it too (the copy in the larger index's row is left out),
oriented inner → outer. :func:`sorted_unique` sorts them by (source, target) with a counting
sort on the source and a sort of each source's few targets, dropping the doubles that remain.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["directed_pairs", "insert_down", "kept_neighbours", "sort_row", "sorted_unique"]


@njit(cache=True)
def insert_down(distance, index, c):
    """Entry ``c`` of one row moved left past the entries after it by (distance, index), the
    first ``c`` being sorted: one step of an insertion sort."""
    d, j = distance[c], index[c]
    at = c
    while at > 0 and (distance[at - 1] > d or (distance[at - 1] == d and index[at - 1] > j)):
        distance[at] = distance[at - 1]
        index[at] = index[at - 1]
        at -= 1
    distance[at] = d
    index[at] = j


@njit(cache=True)
def sort_row(distance, index, m):
    """The first ``m`` entries of one row sorted in place by (distance, index) (insertion)."""
    for c in range(1, m):
        insert_down(distance, index, c)


@njit(cache=True, parallel=True)
def kept_neighbours(distance, index, radius, max_neighbours):
    """Rows reordered in place (the kept candidates in front, sorted only in a row with more
    than ``max_neighbours``); per point: kept count, (distance, index) of the last kept one by
    (distance, index), and whether ties at that distance filled the rest of what the query
    returned."""
    n, k = index.shape
    kept = np.zeros(n, np.int64)
    last_d = np.full(n, np.inf)
    last_i = np.full(n, n, np.int64)
    cut_ties = np.zeros(n, np.bool_)
    for i in prange(n):
        farthest = distance[i, k - 1]
        m = 0
        for c in range(k):  # the candidates to the front, in the row's order (m ≤ c)
            j, d = index[i, c], distance[i, c]
            if j < n and j != i and d < radius:
                distance[i, m] = d
                index[i, m] = j
                m += 1
        count = min(m, max_neighbours)
        kept[i] = count
        if count == 0:
            continue
        if m > max_neighbours:  # keep the nearest: the front sorted (dense points only)
            sort_row(distance[i], index[i], m)
            last_d[i], last_i[i] = distance[i, count - 1], index[i, count - 1]
        else:  # every candidate kept, in any order: the last by (distance, index)
            last_d[i], last_i[i] = distance[i, 0], index[i, 0]
            for c in range(1, count):
                d, j = distance[i, c], index[i, c]
                if d > last_d[i] or (d == last_d[i] and j > last_i[i]):
                    last_d[i], last_i[i] = d, j
        cut_ties[i] = farthest == last_d[i]
    return kept, last_d, last_i, cut_ties


@njit(cache=True)
def _listed_here(i, j, d, kept, last_d, last_i, cut_ties, max_neighbours):
    """Whether i's row lists the pair i–j: always when i < j; when i > j, only if j's row may
    not hold it (j keeps fewer than it could, or i is beyond j's last kept one, or ties cut
    j's row short — then both copies stay and :func:`sorted_unique` drops one)."""
    if i < j or cut_ties[j]:
        return True
    if kept[j] < max_neighbours:
        return False  # j keeps every candidate, i among them (distances are symmetric)
    return d > last_d[j] or (d == last_d[j] and i > last_i[j])


@njit(cache=True, parallel=True)
def directed_pairs(distance, index, kept, last_d, last_i, cut_ties, max_neighbours, r):
    """(source, target) of the pairs listed, inner → outer by ``r`` (equal: smaller index)."""
    n, k = index.shape
    counts = np.zeros(n + 1, np.int64)
    # whether each kept column is listed, decided once (it reads the other end's row summary,
    # a random access per pair) and read again when the pairs are written
    listed = np.empty((n, k), np.bool_)
    for i in prange(n):
        c = 0
        for col in range(kept[i]):
            here = _listed_here(
                i, index[i, col], distance[i, col], kept, last_d, last_i, cut_ties, max_neighbours
            )
            listed[i, col] = here
            c += here
        counts[i + 1] = c
    offsets = np.cumsum(counts)
    source = np.empty(offsets[n], np.int64)
    target = np.empty(offsets[n], np.int64)
    for i in prange(n):
        at = offsets[i]
        for col in range(kept[i]):
            j = index[i, col]
            if listed[i, col]:
                if r[i] < r[j] or (r[i] == r[j] and i < j):
                    source[at], target[at] = i, j
                else:
                    source[at], target[at] = j, i
                at += 1
    return source, target


@njit(cache=True)
def _sort_small(values):
    """``values`` sorted in place: by insertion while short (a source's targets: ~28 on a μ = 200
    event), else by NumPy's sort."""
    if values.size > 64:
        values.sort()
        return
    for c in range(1, values.size):
        v = values[c]
        at = c
        while at > 0 and values[at - 1] > v:
            values[at] = values[at - 1]
            at -= 1
        values[at] = v


#: pairs are bucketed by source in this many slices, in parallel (any number gives the same
#: result: each source's targets are sorted afterwards)
_SLICES = 16


@njit(cache=True, parallel=True)
def sorted_unique(source, target, n):
    """[2, E] int64: the pairs sorted by (source, target), each once."""
    n_pairs = source.size
    per_slice = (n_pairs + _SLICES - 1) // _SLICES
    counts = np.zeros((_SLICES, n), np.int64)  # pairs per (slice, source)
    for b in prange(_SLICES):
        for e in range(b * per_slice, min(n_pairs, (b + 1) * per_slice)):
            counts[b, source[e]] += 1
    starts = np.zeros(n + 1, np.int64)
    for s in prange(n):
        for b in range(_SLICES):
            starts[s + 1] += counts[b, s]
    starts = np.cumsum(starts)
    for s in prange(n):  # each slice's first place in each source's bucket
        at = starts[s]
        for b in range(_SLICES):
            c = counts[b, s]
            counts[b, s] = at
            at += c
    targets = np.empty(n_pairs, np.int64)
    for b in prange(_SLICES):
        for e in range(b * per_slice, min(n_pairs, (b + 1) * per_slice)):
            targets[counts[b, source[e]]] = target[e]
            counts[b, source[e]] += 1
    unique = np.zeros(n + 1, np.int64)
    for s in prange(n):
        row = targets[starts[s] : starts[s + 1]]
        _sort_small(row)
        c = 0
        for t in range(row.size):
            if t == 0 or row[t] != row[t - 1]:
                row[c] = row[t]
                c += 1
        unique[s + 1] = c
    offsets = np.cumsum(unique)
    out = np.empty((2, offsets[n]), np.int64)
    for s in prange(n):
        for t in range(unique[s + 1]):
            out[0, offsets[s] + t] = s
            out[1, offsets[s] + t] = targets[starts[s] + t]
    return out
