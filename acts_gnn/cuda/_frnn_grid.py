"""K1's neighbour query on the CPU by a grid on the latent's leading principal axes: rows in the
format of SciPy's ``cKDTree.query(latent, k, distance_upper_bound=radius)``, but exact — the
``k`` nearest by (distance, index) however many tie — in compiled loops (Numba, parallel over
points).

Layer: cuda. Private to :mod:`acts_gnn.cuda.frnn`, whose docstring states the contract.

The points are binned on a grid over their first :data:`GRID_AXES` principal axes, with cells at
least the radius wide (:data:`REACH` 1): two points closer than the radius lie in the same or in
adjacent cells (a projection on orthonormal axes never lengthens a difference). Each point scans
the 3^G cells around its own (as 3^(G−1) runs of consecutive cells along the last axis: one range
of candidates each), skips the candidates whose difference on the first :data:`BOUND_AXES`
principal axes already reaches the radius (a lower bound on their distance,
:data:`~acts_gnn.simd.LANES` candidates at a time in float32 vectors, :mod:`acts_gnn.simd`; the
ones it keeps come out of one comparison as a bit mask, :func:`~acts_gnn.simd.vbelow`, and are
taken lowest lane first — a loop over the lanes branched on each: 0.27 → 0.21 s on a μ = 200 event,
the same rows), and measures the others exactly: in float64 from the float32 latent, as the
contract says. The bound only decides which candidates are measured: its threshold carries margins
far above the rounding of the projection (float64) and of the bound's own float32 arithmetic (each
difference within 4·2⁻²⁴ of the largest projected coordinate, the sum of five squares within 3·10⁻⁷
relative), so it never skips a point inside the radius. A row takes every point inside the radius
(the point itself included) in the order found until it holds ``k``; then it is sorted by
(distance, index) and keeps the ``k`` nearest. It pads with distance ∞ and index ``n`` — the tree
query's format but for the order of a row that never filled, ready for
:mod:`acts_gnn.cuda._frnn_select`.

On a μ = 200 event (106 k points in 8 dimensions) a point scans ~1,870 candidates (measured on
a 3-axis grid), ~98 pass the bound and ~58 are inside the radius.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from acts_gnn.cuda._frnn_select import insert_down, sort_row
from acts_gnn.simd import LANES, lowest_lane, vadd, vbelow, vfma, vload, vsplat

__all__ = ["BOUND_AXES", "GRID_AXES", "grid_query"]

#: principal axes the grid spans (3: ~45 k cells on a μ = 200 event)
GRID_AXES = 3
#: principal axes of the lower bound that skips a candidate before its exact distance (five:
#: :func:`_scan` spells them out)
BOUND_AXES = 5
#: cells per radius along each axis: a point scans 2·REACH + 1 cells along each grid axis
REACH = 1
#: the grid has at most this many cells per point (beyond, wider cells: correct, more candidates)
_CELLS_PER_POINT = 4
#: points per parallel task
_BLOCK = 64
#: margin of the cell width and of the bound over the radius, relative to the radius and to the
#: largest centred coordinate (the projections' rounding is ~1e-15 of the latter)
_MARGIN = 1e-9
#: the same for the float32 bound, relative to the reach and to the largest projected coordinate
#: (each float32 difference is within 4·2⁻²⁴ of the latter), and its relative margin (the sum of
#: five squares rounds within 3·10⁻⁷; the threshold's own rounding 6·10⁻⁸)
_MARGIN32 = 1e-5
_RELATIVE32 = 1e-4


def grid_query(latent: np.ndarray, radius: float, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(distance, index)`` [n, k]: each point's ``k`` nearest points closer than ``radius``
    (itself included): in the order found when fewer than ``k`` are inside, else the ``k``
    nearest by (distance, index) in that order; missing ones are (∞, n).

    ``latent``: float32 [n, D]. Distances are float64 from the float32 coordinates.
    """
    x = np.ascontiguousarray(latent, dtype=np.float32).astype(np.float64)
    n, dim = x.shape
    centred = x - x.mean(axis=0)
    # principal axes from the covariance (D × D); any orthonormal axes would be correct
    _, vectors = np.linalg.eigh(centred.T @ centred)
    axes = vectors[:, ::-1][:, : min(BOUND_AXES, dim)]  # BOUND_AXES is 5: see _scan
    projected = np.ascontiguousarray(centred @ axes)
    grid_axes = min(GRID_AXES, axes.shape[1])
    low = projected[:, :grid_axes].min(axis=0)
    extent = projected[:, :grid_axes].max(axis=0) - low
    most = max(1, round((_CELLS_PER_POINT * n) ** (1.0 / grid_axes)))
    reach = radius + _MARGIN * (radius + float(np.abs(centred).max(initial=0.0)))
    width = max(reach / REACH, float(extent.max()) / most, 1e-300)
    cells = np.minimum((projected[:, :grid_axes] - low) // width, most).astype(np.int64)
    shape = cells.max(axis=0) + 1 if n else np.ones(grid_axes, np.int64)
    key = np.ravel_multi_index(tuple(cells.T), tuple(shape)) if n else np.zeros(0, np.int64)
    order = np.argsort(key, kind="stable")
    starts = np.zeros(int(np.prod(shape)) + 1, np.int64)
    np.cumsum(np.bincount(key, minlength=starts.size - 1), out=starts[1:])
    # axes beyond D stay 0 (no help, no harm); LANES columns of padding: a vector read from a
    # cell's last candidates stays inside the array
    bound_axes = np.zeros((BOUND_AXES, n + LANES), np.float32)
    bound_axes[: projected.shape[1], :n] = projected[order].T
    largest = float(np.abs(projected).max(initial=0.0))
    reach32 = reach + _MARGIN32 * (reach + largest)
    distance = np.empty((n, k))
    index = np.empty((n, k), np.int64)
    _scan(
        np.ascontiguousarray(x[order]),
        bound_axes,
        np.ascontiguousarray(cells[order]),
        order,
        starts,
        np.asarray(shape, np.int64),
        float(radius),
        np.float32(reach32**2 * (1.0 + _RELATIVE32)),
        distance,
        index,
    )
    return distance, index


@njit(cache=True, parallel=True)
def _scan(x, bound_axes, cells, order, starts, shape, radius, bound, distance, index):
    """Fill each point's row (see :func:`grid_query`); ``x``, ``bound_axes`` (float32
    [BOUND_AXES, n + LANES]) and ``cells`` are in grid order, ``order`` maps grid order → point
    index; ``bound``: the float32 threshold of the lower bound."""
    n, dim = x.shape
    g = cells.shape[1]
    k = distance.shape[1]
    span = 2 * REACH + 1
    # the cells along the last grid axis are consecutive in the grid order: each run of span
    # cells there is one range of candidates, so only the first g - 1 axes are walked
    runs = span ** (g - 1)
    offsets = np.empty((runs, g), np.int64)  # the offset of each run's middle cell
    for code in range(runs):
        rest = code
        for a in range(g - 1):
            offsets[code, a] = rest % span - REACH
            rest //= span
        offsets[code, g - 1] = 0
    zero = vsplat(np.float32(0.0))
    threshold = vsplat(bound)
    for block in prange((n + _BLOCK - 1) // _BLOCK):
        for p in range(block * _BLOCK, min(n, (block + 1) * _BLOCK)):
            i = order[p]
            for c in range(k):
                distance[i, c] = np.inf
                index[i, c] = n
            # minus this point's five coordinates, in every lane
            m0 = vsplat(-bound_axes[0, p])
            m1 = vsplat(-bound_axes[1, p])
            m2 = vsplat(-bound_axes[2, p])
            m3 = vsplat(-bound_axes[3, p])
            m4 = vsplat(-bound_axes[4, p])
            m = 0  # row entries filled
            for code in range(runs):
                key = 0
                inside = True
                for a in range(g - 1):
                    c = cells[p, a] + offsets[code, a]
                    if c < 0 or c >= shape[a]:
                        inside = False
                        break
                    key = key * shape[a] + c
                if not inside:
                    continue
                row = key * shape[g - 1]
                along = cells[p, g - 1]
                first = starts[row + max(along - REACH, 0)]
                last = starts[row + min(along + REACH, shape[g - 1] - 1) + 1]
                for q0 in range(first, last, LANES):
                    # the lower bound of LANES candidates (beyond ``last``: not looked at)
                    d = vadd(vload(bound_axes, 0, q0), m0)
                    squares = vfma(d, d, zero)
                    d = vadd(vload(bound_axes, 1, q0), m1)
                    squares = vfma(d, d, squares)
                    d = vadd(vload(bound_axes, 2, q0), m2)
                    squares = vfma(d, d, squares)
                    d = vadd(vload(bound_axes, 3, q0), m3)
                    squares = vfma(d, d, squares)
                    d = vadd(vload(bound_axes, 4, q0), m4)
                    squares = vfma(d, d, squares)
                    near = vbelow(squares, threshold)
                    if last - q0 < LANES:  # lanes beyond ``last``: not looked at
                        near &= (1 << (last - q0)) - 1
                    while near:  # the candidates the bound keeps, in order
                        lane = lowest_lane(near)
                        near &= near - 1
                        q = q0 + lane
                        total = 0.0
                        for a in range(dim):
                            dd = x[q, a] - x[p, a]
                            total += dd * dd
                        dq = np.sqrt(total)
                        if not dq < radius:
                            continue
                        j = order[q]
                        if m < k:  # room left: append (the row is sorted once it fills)
                            distance[i, m] = dq
                            index[i, m] = j
                            m += 1
                            if m == k:
                                sort_row(distance[i], index[i], k)
                            continue
                        if dq > distance[i, k - 1] or (
                            dq == distance[i, k - 1] and j > index[i, k - 1]
                        ):
                            continue
                        # a full row: the last one drops out, the new one goes to its place
                        distance[i, k - 1] = dq
                        index[i, k - 1] = j
                        insert_down(distance[i], index[i], k - 1)
