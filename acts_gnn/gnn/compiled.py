"""Compiled CPU inference of the embedding and of the per-edge networks of the filter and the
GNN (Numba).

Layer: gnn.

A per-edge network (:func:`acts_gnn.gnn.models.mlp`) is a first linear layer over
``[node part of the source, node part of the target, the edge's own inputs]``, then LayerNorm,
SiLU and further linear layers. In PyTorch each step is one pass over an ``[E, h]`` tensor in
memory — gather, add, matrix product, LayerNorm, SiLU, residual — and on a μ = 200 event the
passes, not the arithmetic, took most of the time. Here each tile of :data:`TILE` edges goes
through the whole network while its rows stay in the L1 cache:

* the node parts of the first layer are applied once per node (N ≪ E) and gathered per edge;
* the matrix products and LayerNorm use register-wide float vectors of :data:`~acts_gnn.simd.LANES`
  floats (:mod:`acts_gnn.simd`: 16 with AVX-512, else 8): a block of four edges × two vectors
  of outputs (× one for the last outputs of an odd count; four × three while three are left
  with AVX2; eight edges × three vectors for the GNN's 48 with AVX-512's 32 vector registers)
  is held in registers while the inputs stream by, so each weight loaded serves every edge of
  the block and no output ends in a horizontal sum;
* SiLU is ``t · (1 + tanh(t/2)) / 2`` with tanh as a rational function (largest error 4·10⁻⁷ in
  float32 on the whole line; SiLU within 2·10⁻⁶ relative), in vectors where ``exp`` is one
  library call per element, and its one division as the CPU's reciprocal estimate refined by
  Newton steps (:func:`acts_gnn.simd.vrecip`; on a μ = 200 event no faster than the division
  measurably: the GNN's update waits on memory, not on arithmetic).

The embedding is the same kind of network with no node parts: each point is one row.

With ``bf16`` (``Pipeline(precision="bf16")``, a CPU with AVX-512 BF16:
:data:`~acts_gnn.simd.HAS_BF16`) the filter's and the GNN's products over the edges take their
inputs and weights rounded to bf16 and sum the exact products in float32, two per lane and
instruction (``vdpbf16ps``: twice the float32 rate on an AMD Zen 4); the rest stays float32.

Every edge's arithmetic is the same whatever the thread count: edges never share a sum, and
tiles are padded to a multiple of :data:`ROW_BLOCK` with zero rows; and whatever the blocks:
each output is the same chain of fused multiply-adds over the inputs in order. The results
equal PyTorch's to float32 rounding (about 10⁻⁶ relative), not bit for bit: the sums are
reordered.

The sums of the GNN's edges into their nodes run per node over the edges sorted by node (a
stable sort), in edge order: the order of ``scatter_add_``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numba import njit, prange

from acts_gnn.cpus import numba_threads
from acts_gnn.gnn.geometry import (
    EDGE_INPUTS,
    INVERSE_PT_SCALE,
    NODE_INPUTS,
    node_inputs,
    point_eta,
)
from acts_gnn.simd import (
    BF16_MISSING,
    HAS_BF16,
    LANES,
    vadd,
    vdot_bf16,
    vfma,
    vless,
    vload,
    vmax,
    vmin,
    vmul,
    vrecip,
    vsplat,
    vstore,
    vstore_bf16,
    vsum,
)

if TYPE_CHECKING:
    import torch
    from torch import nn

    from acts_gnn.gnn.models import EmbeddingMLP, FilterMLP, InteractionGNN

__all__ = [
    "TILE",
    "EdgeNetwork",
    "bf16_pairs",
    "edges_by_node",
    "embed",
    "filter_inputs",
    "filter_scores",
    "gnn_logits",
    "kernels_cached",
    "silu",
]

#: nodes per parallel task of the GNN's sums into its nodes
_NODE_BLOCK = 256
#: edges per tile: two [TILE, h] float32 buffers of a 64-wide network fit a 32 KiB L1 cache
TILE = 32
#: rows the tiles are padded to a multiple of: the matrix products' blocks (:func:`_times`); with
#: 32 vector registers (AVX-512) the GNN's 48 outputs take eight rows × three vectors at once
#: (24 accumulators), with 16 (AVX2) blocks stay four rows × three or two vectors
ROW_BLOCK = 8 if LANES == 16 else 4
#: edges per parallel task of an edge network (each task makes its tile buffers once)
_EDGE_BLOCK = 64 * TILE

# tanh(x) ≈ x·P(x²)/Q(x²) on |x| ≤ 9 (beyond, tanh is 1 in float32 to 3·10⁻⁸); P and Q fitted
# by iteratively reweighted least squares; all coefficients positive, so Q ≥ 1
_P = (9.9999992306899876e-01, 1.3384769938718372e-01, 3.5002712132766933e-03,
      2.0695049877523380e-05, 1.3489845795966460e-08)  # fmt: skip
_Q = (4.6718072937144595e-01, 2.5894197391905006e-02, 3.2936830332398412e-04,
      7.8285204401992714e-07)  # fmt: skip
_F = np.float32
_P0, _P1, _P2, _P3, _P4 = (_F(c) for c in _P)
_Q1, _Q2, _Q3, _Q4 = (_F(c) for c in _Q)
_HALF, _ONE, _CLAMP, _TINY = _F(0.5), _F(1.0), _F(9.0), _F(2.0**-23)


@njit(fastmath=True, error_model="numpy")
def _vsilu(t):
    """SiLU of a vector: ``t/2 · (1 + x·P(x²)/Q(x²))``, x = t/2 clamped to ±9, with 1/Q from
    :func:`~acts_gnn.simd.vrecip`."""
    half_t = vmul(vsplat(_HALF), t)
    x = vmin(vmax(half_t, vsplat(-_CLAMP)), vsplat(_CLAMP))
    u = vmul(x, x)
    p = vfma(u, vsplat(_P4), vsplat(_P3))
    p = vfma(u, vfma(u, vfma(u, p, vsplat(_P2)), vsplat(_P1)), vsplat(_P0))
    q = vfma(u, vsplat(_Q4), vsplat(_Q3))
    q = vfma(u, vfma(u, vfma(u, q, vsplat(_Q2)), vsplat(_Q1)), vsplat(_ONE))
    one_plus = vadd(vsplat(_ONE), vmul(vmul(x, p), vrecip(q)))
    # below 2⁻²³ (t < −16.6, where |SiLU| < 10⁻⁶) an estimate's last bit would be multiplied by
    # a huge |t|: 0, as the exact division gives there
    one_plus = vless(one_plus, vsplat(_TINY), vsplat(_F(0.0)), one_plus)
    return vmul(half_t, one_plus)


@njit(fastmath=True, error_model="numpy")
def _silu_rows(y, rows):
    """SiLU of the first ``rows`` rows of ``y`` (its width a multiple of LANES), in place."""
    for t in range(rows):
        for i in range(0, y.shape[1], LANES):
            vstore(y, t, i, _vsilu(vload(y, t, i)))


@njit(cache=True)
def _silu_all(y):
    _silu_rows(y, y.shape[0])


def silu(values: np.ndarray) -> np.ndarray:
    """The kernels' SiLU of a float32 array (for tests: compare with ``torch.nn.functional``)."""
    flat = np.ascontiguousarray(values, dtype=np.float32).ravel()
    rows = np.zeros((-(-flat.size // LANES), LANES), np.float32)
    rows.ravel()[: flat.size] = flat
    _silu_all(rows)
    return rows.ravel()[: flat.size].reshape(np.shape(values))


@njit(fastmath=True, error_model="numpy")
def _norm_silu(y, rows, h, weight, bias, eps):
    """LayerNorm over the first ``h`` columns, then SiLU, of the first ``rows`` rows of ``y``,
    in place (the padding columns, zeros, stay zeros; SiLU runs over them too: SiLU(0) = 0).

    ``weight`` and ``bias``: [1, h]."""
    inverse_h = _ONE / _F(h)  # float32 throughout: a float32 divided by an integer is a float64
    if h % LANES == 0:
        one = vsplat(_ONE)
        for t in range(rows):
            total = vload(y, t, 0)
            for i in range(LANES, h, LANES):
                total = vadd(total, vload(y, t, i))
            mean = vsum(total) * inverse_h
            minus_mean = vsplat(-mean)
            squares = vsplat(_F(0.0))
            for i in range(0, h, LANES):
                d = vfma(one, vload(y, t, i), minus_mean)
                squares = vfma(d, d, squares)
            scale = _ONE / np.sqrt(vsum(squares) * inverse_h + eps)
            lane_scale = vsplat(scale)
            shift = vsplat(-mean * scale)
            for i in range(0, h, LANES):
                normed = vfma(vload(y, t, i), lane_scale, shift)
                vstore(y, t, i, vfma(normed, vload(weight, 0, i), vload(bias, 0, i)))
    else:
        for t in range(rows):
            mean = _F(0.0)
            for i in range(h):
                mean += y[t, i]
            mean *= inverse_h
            var = _F(0.0)
            for i in range(h):
                d = y[t, i] - mean
                var += d * d
            scale = _ONE / np.sqrt(var * inverse_h + eps)
            for i in range(h):
                y[t, i] = (y[t, i] - mean) * scale * weight[0, i] + bias[0, i]
    _silu_rows(y, rows)


@njit(fastmath=True, error_model="numpy")
def _times(x, rows, w, b, y):
    """``y[t] = b + x[t] @ w`` for the first ``rows`` rows (a multiple of :data:`ROW_BLOCK`)
    of ``x``.

    ``w`` [h_in, h_out] and ``b`` [1, h_out] with h_out a multiple of LANES. A block of rows ×
    vectors of outputs — eight × three for the GNN's 48 with AVX-512; else four × three while
    three are left (AVX2 only), four × two, and four × one for a last odd vector — is held in
    registers while the inputs stream by, so each weight loaded serves every row of the block
    and no output ends in a horizontal sum.
    Every output is the same sum in the same order whatever the blocks.
    """
    h_out = w.shape[1]
    vectors = h_out // LANES
    # with AVX2's 16 registers, three vectors per block while three are left, then two, then one
    triples = vectors // 3 * 3 * LANES if LANES == 8 else 0
    pairs = triples + (h_out - triples) // (2 * LANES) * 2 * LANES
    for t in range(0, rows, ROW_BLOCK):
        if ROW_BLOCK == 8 and vectors == 3:  # the GNN's 48 with AVX-512
            _block8x3(x, t, w, b, y)
            continue
        # other widths: four rows at a time (eight gave the filter's 64 nothing measurable)
        for u in range(t, t + ROW_BLOCK, 4):
            for i in range(0, triples, 3 * LANES):
                _block4x3(x, u, w, b, y, i)
            for i in range(triples, pairs, 2 * LANES):
                _block4x2(x, u, w, b, y, i)
            if pairs < h_out:
                _block4x1(x, u, w, b, y, pairs)


@njit(fastmath=True, error_model="numpy")
def _block8x3(x, t, w, b, y):
    """Rows t … t + 7, the three vectors of outputs: 24 accumulators."""
    a00 = a10 = a20 = a30 = a40 = a50 = a60 = a70 = vload(b, 0, 0)
    a01 = a11 = a21 = a31 = a41 = a51 = a61 = a71 = vload(b, 0, LANES)
    a02 = a12 = a22 = a32 = a42 = a52 = a62 = a72 = vload(b, 0, 2 * LANES)
    for j in range(w.shape[0]):
        w0, w1, w2 = vload(w, j, 0), vload(w, j, LANES), vload(w, j, 2 * LANES)
        a00, a01, a02 = _outer3(x[t, j], w0, w1, w2, a00, a01, a02)
        a10, a11, a12 = _outer3(x[t + 1, j], w0, w1, w2, a10, a11, a12)
        a20, a21, a22 = _outer3(x[t + 2, j], w0, w1, w2, a20, a21, a22)
        a30, a31, a32 = _outer3(x[t + 3, j], w0, w1, w2, a30, a31, a32)
        a40, a41, a42 = _outer3(x[t + 4, j], w0, w1, w2, a40, a41, a42)
        a50, a51, a52 = _outer3(x[t + 5, j], w0, w1, w2, a50, a51, a52)
        a60, a61, a62 = _outer3(x[t + 6, j], w0, w1, w2, a60, a61, a62)
        a70, a71, a72 = _outer3(x[t + 7, j], w0, w1, w2, a70, a71, a72)
    _store(y, t, 0, a00, a01, a02)
    _store(y, t + 1, 0, a10, a11, a12)
    _store(y, t + 2, 0, a20, a21, a22)
    _store(y, t + 3, 0, a30, a31, a32)
    _store(y, t + 4, 0, a40, a41, a42)
    _store(y, t + 5, 0, a50, a51, a52)
    _store(y, t + 6, 0, a60, a61, a62)
    _store(y, t + 7, 0, a70, a71, a72)


@njit(fastmath=True, error_model="numpy", inline="always")
def _outer3(xj, w0, w1, w2, a0, a1, a2):
    """One row's three accumulators plus ``xj`` times one input's three vectors of weights."""
    xs = vsplat(xj)
    return vfma(xs, w0, a0), vfma(xs, w1, a1), vfma(xs, w2, a2)


@njit(fastmath=True, error_model="numpy")
def _block4x3(x, t, w, b, y, i):
    """Rows t … t + 3, outputs i … i + 3·LANES − 1: 12 accumulators, three vectors of weights
    and one of the row's input in AVX2's 16 registers (four × two use each input broadcast for
    two multiply-adds only: the GNN's 48 × 48 layer 50–61 → 71–80 GFLOP/s on one AMD EPYC
    core)."""
    a00 = a10 = a20 = a30 = vload(b, 0, i)
    a01 = a11 = a21 = a31 = vload(b, 0, i + LANES)
    a02 = a12 = a22 = a32 = vload(b, 0, i + 2 * LANES)
    for j in range(w.shape[0]):
        w0, w1, w2 = vload(w, j, i), vload(w, j, i + LANES), vload(w, j, i + 2 * LANES)
        a00, a01, a02 = _outer3(x[t, j], w0, w1, w2, a00, a01, a02)
        a10, a11, a12 = _outer3(x[t + 1, j], w0, w1, w2, a10, a11, a12)
        a20, a21, a22 = _outer3(x[t + 2, j], w0, w1, w2, a20, a21, a22)
        a30, a31, a32 = _outer3(x[t + 3, j], w0, w1, w2, a30, a31, a32)
    _store(y, t, i, a00, a01, a02)
    _store(y, t + 1, i, a10, a11, a12)
    _store(y, t + 2, i, a20, a21, a22)
    _store(y, t + 3, i, a30, a31, a32)


@njit(fastmath=True, error_model="numpy")
def _block4x2(x, t, w, b, y, i):
    """Rows t … t + 3, outputs i … i + 2·LANES − 1: 8 accumulators (16 vector registers)."""
    a00 = a10 = a20 = a30 = vload(b, 0, i)
    a01 = a11 = a21 = a31 = vload(b, 0, i + LANES)
    for j in range(w.shape[0]):
        w0, w1 = vload(w, j, i), vload(w, j, i + LANES)
        x0 = vsplat(x[t, j])
        a00, a01 = vfma(x0, w0, a00), vfma(x0, w1, a01)
        x1 = vsplat(x[t + 1, j])
        a10, a11 = vfma(x1, w0, a10), vfma(x1, w1, a11)
        x2 = vsplat(x[t + 2, j])
        a20, a21 = vfma(x2, w0, a20), vfma(x2, w1, a21)
        x3 = vsplat(x[t + 3, j])
        a30, a31 = vfma(x3, w0, a30), vfma(x3, w1, a31)
    _store(y, t, i, a00, a01)
    _store(y, t + 1, i, a10, a11)
    _store(y, t + 2, i, a20, a21)
    _store(y, t + 3, i, a30, a31)


@njit(fastmath=True, error_model="numpy")
def _block4x1(x, t, w, b, y, i):
    """Rows t … t + 3, outputs i … i + LANES − 1: 4 accumulators."""
    a0 = a1 = a2 = a3 = vload(b, 0, i)
    for j in range(w.shape[0]):
        w0 = vload(w, j, i)
        a0, a1 = vfma(vsplat(x[t, j]), w0, a0), vfma(vsplat(x[t + 1, j]), w0, a1)
        a2, a3 = vfma(vsplat(x[t + 2, j]), w0, a2), vfma(vsplat(x[t + 3, j]), w0, a3)
    _store(y, t, i, a0)
    _store(y, t + 1, i, a1)
    _store(y, t + 2, i, a2)
    _store(y, t + 3, i, a3)


@njit(fastmath=True, error_model="numpy")
def _store(y, t, i, *vectors):
    """``vectors`` into row t of ``y`` from column i on, one after the other."""
    for v in vectors:
        vstore(y, t, i, v)
        i += LANES


@njit(fastmath=True, error_model="numpy", inline="always")
def _bf16_bits(u):
    """The bf16 nearest to the float32 of bits ``u`` (ties to even), as the top 16 bits; a NaN
    the quiet one (rounding would carry it to ±0)."""
    if (u & 0x7FFFFFFF) > 0x7F800000:
        return 0x7FC0
    return (u + 0x7FFF + ((u >> 16) & 1)) >> 16


@njit(fastmath=True, error_model="numpy")
def _pairs(x, rows, xb, n_pairs):
    """The first ``rows`` rows of ``x`` rounded to bf16 and packed into ``xb[:rows, :n_pairs]``
    (uint32): column j holds ``x[:, 2j]`` in its low half and ``x[:, 2j + 1]`` (0 past the last
    column) in its high half — the layout :func:`~acts_gnn.simd.vdot_bf16` takes. A width that
    is a multiple of LANES goes 2·LANES floats at a time (:func:`~acts_gnn.simd.vstore_bf16`,
    denormals to zero; ``xb`` then needs room for a last vector of pairs); another one float
    by float."""
    k = x.shape[1]
    if k % LANES == 0:
        zero = vsplat(_F(0.0))
        for t in range(rows):
            for c in range(0, k, 2 * LANES):
                high = vload(x, t, c + LANES) if c + LANES < k else zero
                vstore_bf16(xb, t, c // 2, vload(x, t, c), high)
        return
    bits = x.view(np.uint32)
    for t in range(rows):
        for j in range(n_pairs):
            low = _bf16_bits(np.uint64(bits[t, 2 * j]))
            high = _bf16_bits(np.uint64(bits[t, 2 * j + 1])) if 2 * j + 1 < k else 0
            xb[t, j] = np.uint32(low | (high << 16))


@njit(fastmath=True, error_model="numpy")
def _times_bf16(xb, rows, wp, b, y):
    """:func:`_times` in bf16: ``y[t] = b + x[t] @ w`` with ``x`` and ``w`` rounded to bf16,
    given as pairs (``xb`` from :func:`_pairs`, ``wp`` [h_in / 2, h_out] from
    :func:`bf16_pairs`), each output a chain of :func:`~acts_gnn.simd.vdot_bf16` over the
    pairs in order, summed in float32. The same blocks of rows × vectors of outputs as
    :func:`_times`."""
    h_out = wp.shape[1]
    vectors = h_out // LANES
    pairs = vectors // 2 * 2 * LANES
    for t in range(0, rows, ROW_BLOCK):
        if ROW_BLOCK == 8 and vectors == 3:  # the GNN's 48
            _pair_block8x3(xb, t, wp, b, y)
            continue
        for u in range(t, t + ROW_BLOCK, 4):
            for i in range(0, pairs, 2 * LANES):
                _pair_block4x2(xb, u, wp, b, y, i)
            if pairs < h_out:
                _pair_block4x1(xb, u, wp, b, y, pairs)


@njit(fastmath=True, error_model="numpy", inline="always")
def _dot3(p, wp, j, a0, a1, a2):
    """One row's three accumulators plus the pair ``p`` times pair row j's three vectors."""
    return (
        vdot_bf16(a0, p, wp, j, 0),
        vdot_bf16(a1, p, wp, j, LANES),
        vdot_bf16(a2, p, wp, j, 2 * LANES),
    )


@njit(fastmath=True, error_model="numpy")
def _pair_block8x3(xb, t, wp, b, y):
    """Rows t … t + 7, the three vectors of outputs, in bf16: 24 accumulators."""
    a00 = a10 = a20 = a30 = a40 = a50 = a60 = a70 = vload(b, 0, 0)
    a01 = a11 = a21 = a31 = a41 = a51 = a61 = a71 = vload(b, 0, LANES)
    a02 = a12 = a22 = a32 = a42 = a52 = a62 = a72 = vload(b, 0, 2 * LANES)
    for j in range(wp.shape[0]):
        a00, a01, a02 = _dot3(xb[t, j], wp, j, a00, a01, a02)
        a10, a11, a12 = _dot3(xb[t + 1, j], wp, j, a10, a11, a12)
        a20, a21, a22 = _dot3(xb[t + 2, j], wp, j, a20, a21, a22)
        a30, a31, a32 = _dot3(xb[t + 3, j], wp, j, a30, a31, a32)
        a40, a41, a42 = _dot3(xb[t + 4, j], wp, j, a40, a41, a42)
        a50, a51, a52 = _dot3(xb[t + 5, j], wp, j, a50, a51, a52)
        a60, a61, a62 = _dot3(xb[t + 6, j], wp, j, a60, a61, a62)
        a70, a71, a72 = _dot3(xb[t + 7, j], wp, j, a70, a71, a72)
    _store(y, t, 0, a00, a01, a02)
    _store(y, t + 1, 0, a10, a11, a12)
    _store(y, t + 2, 0, a20, a21, a22)
    _store(y, t + 3, 0, a30, a31, a32)
    _store(y, t + 4, 0, a40, a41, a42)
    _store(y, t + 5, 0, a50, a51, a52)
    _store(y, t + 6, 0, a60, a61, a62)
    _store(y, t + 7, 0, a70, a71, a72)


@njit(fastmath=True, error_model="numpy")
def _pair_block4x2(xb, t, wp, b, y, i):
    """Rows t … t + 3, outputs i … i + 2·LANES − 1, in bf16: 8 accumulators."""
    a00 = a10 = a20 = a30 = vload(b, 0, i)
    a01 = a11 = a21 = a31 = vload(b, 0, i + LANES)
    for j in range(wp.shape[0]):
        p = xb[t, j]
        a00, a01 = vdot_bf16(a00, p, wp, j, i), vdot_bf16(a01, p, wp, j, i + LANES)
        p = xb[t + 1, j]
        a10, a11 = vdot_bf16(a10, p, wp, j, i), vdot_bf16(a11, p, wp, j, i + LANES)
        p = xb[t + 2, j]
        a20, a21 = vdot_bf16(a20, p, wp, j, i), vdot_bf16(a21, p, wp, j, i + LANES)
        p = xb[t + 3, j]
        a30, a31 = vdot_bf16(a30, p, wp, j, i), vdot_bf16(a31, p, wp, j, i + LANES)
    _store(y, t, i, a00, a01)
    _store(y, t + 1, i, a10, a11)
    _store(y, t + 2, i, a20, a21)
    _store(y, t + 3, i, a30, a31)


@njit(fastmath=True, error_model="numpy")
def _pair_block4x1(xb, t, wp, b, y, i):
    """Rows t … t + 3, outputs i … i + LANES − 1, in bf16: 4 accumulators."""
    a0 = a1 = a2 = a3 = vload(b, 0, i)
    for j in range(wp.shape[0]):
        a0, a1 = vdot_bf16(a0, xb[t, j], wp, j, i), vdot_bf16(a1, xb[t + 1, j], wp, j, i)
        a2, a3 = vdot_bf16(a2, xb[t + 2, j], wp, j, i), vdot_bf16(a3, xb[t + 3, j], wp, j, i)
    _store(y, t, i, a0)
    _store(y, t + 1, i, a1)
    _store(y, t + 2, i, a2)
    _store(y, t + 3, i, a3)


@njit(fastmath=True, error_model="numpy")
def _pair_columns(wp_rest, wp_tail):
    """Columns of a tile's buffer of bf16 pairs: the widest input's, rounded up to a vector."""
    return -(-max(wp_rest.shape[0], wp_tail.shape[1]) // LANES) * LANES


@njit(fastmath=True, error_model="numpy")
def _product(x, rows, w, wp, b, y, xb):
    """``y[t] = b + x[t] @ w`` for the first ``rows`` rows: in bf16 where the network has the
    weights as pairs (``wp`` not empty), else in float32."""
    if wp.shape[0] > 0:
        _pairs(x, rows, xb, wp.shape[0])
        _times_bf16(xb, rows, wp, b, y)
    else:
        _times(x, rows, w, b, y)


@njit(fastmath=True, error_model="numpy")
def _tile_through(
    x_in, count, ids, src, dst, from_src, from_dst, w_rest, bias, norm_w, norm_b, eps, w_tail,
    b_tail, wp_rest, wp_tail, xb, y, z,
):  # fmt: skip
    """One tile through the network up to its last LayerNorm + SiLU: ``x_in`` holds the own
    inputs of the tile's ``count`` edges ``ids[:count]``, padded here with rows of zeros up to
    a multiple of :data:`ROW_BLOCK`. Products whose weights ``wp_rest``/``wp_tail`` hold as
    bf16 pairs run in bf16 (``xb``: the tile's inputs as pairs). Returns the buffer (``y`` or
    ``z``) that holds the result."""
    h = norm_w.shape[1]
    n_tail = w_tail.shape[0]
    rows = -(-count // ROW_BLOCK) * ROW_BLOCK
    for t in range(count, rows):
        for j in range(x_in.shape[1]):
            x_in[t, j] = 0.0
    _product(x_in, rows, w_rest, wp_rest, bias, y, xb)
    for t in range(count):
        s, d = src[ids[t]], dst[ids[t]]
        for i in range(h):
            y[t, i] += from_src[s, i] + from_dst[d, i]
    for k in range(n_tail):
        _norm_silu(y, rows, h, norm_w[k : k + 1], norm_b[k : k + 1], eps)
        _product(y, rows, w_tail[k], wp_tail[k], b_tail[k], z, xb)
        y, z = z, y
    _norm_silu(y, rows, h, norm_w[n_tail : n_tail + 1], norm_b[n_tail : n_tail + 1], eps)
    return y


@njit(fastmath=True, error_model="numpy")
def _head(y, count, ids, head_w, head_b, logits):
    """The head's outputs of a tile's ``count`` edges ``ids[:count]`` into ``logits``."""
    h = head_w.shape[1]
    for t in range(count):
        for o in range(head_w.shape[0]):
            acc = head_b[o]
            for i in range(h):
                acc += head_w[o, i] * y[t, i]
            logits[ids[t], o] = acc


@njit(fastmath=True, error_model="numpy")
def _edges_through(
    first, last, from_src, from_dst, src, dst, rest, w_rest, bias, norm_w, norm_b, eps, w_tail,
    b_tail, wp_rest, wp_tail, head_w, head_b, head, residual, out, logits,
):  # fmt: skip
    """Edges ``first`` to ``last`` through the network, a tile at a time (one thread)."""
    h = norm_w.shape[1]
    padded = bias.shape[1]
    n_rest = rest.shape[1]
    x_in = np.empty((TILE, n_rest), np.float32)
    y = np.empty((TILE, padded), np.float32)
    z = np.empty((TILE, padded), np.float32)
    xb = np.empty((TILE, _pair_columns(wp_rest, wp_tail)), np.uint32)
    ids = np.empty(TILE, np.int64)
    for start in range(first, last, TILE):
        count = min(last, start + TILE) - start
        for t in range(count):
            ids[t] = start + t
            for j in range(n_rest):
                x_in[t, j] = rest[start + t, j]
        done = _tile_through(
            x_in, count, ids, src, dst, from_src, from_dst, w_rest, bias, norm_w, norm_b, eps,
            w_tail, b_tail, wp_rest, wp_tail, xb, y, z,
        )  # fmt: skip
        if head:
            _head(done, count, ids, head_w, head_b, logits)
        elif residual:
            for t in range(count):
                for i in range(h):
                    out[start + t, i] = x_in[t, i] + done[t, i]
        else:
            for t in range(count):
                for i in range(h):
                    out[start + t, i] = done[t, i]


@njit(cache=True, parallel=True)
def _edge_network(
    from_src, from_dst, src, dst, rest, w_rest, bias, norm_w, norm_b, eps, w_tail, b_tail,
    wp_rest, wp_tail, head_w, head_b, head, residual, out, logits,
):  # fmt: skip
    """Every edge through one network; see :meth:`EdgeNetwork.run` for the arguments."""
    n_edges = src.shape[0]
    for block in prange((n_edges + _EDGE_BLOCK - 1) // _EDGE_BLOCK):
        _edges_through(
            block * _EDGE_BLOCK, min(n_edges, (block + 1) * _EDGE_BLOCK), from_src, from_dst,
            src, dst, rest, w_rest, bias, norm_w, norm_b, eps, w_tail, b_tail, wp_rest, wp_tail,
            head_w, head_b, head, residual, out, logits,
        )  # fmt: skip


@njit(fastmath=True, error_model="numpy")
def _sum_rows3(values, order, first, last, c, inputs, v, at):
    """``inputs[v, at + c:…]`` = the sum of ``values[order[k], c:…]`` for k in first … last − 1,
    in that order, three vectors of columns at once (each column the same sum as alone)."""
    zero = vsplat(_F(0.0))
    s0 = s1 = s2 = zero
    for k in range(first, last):
        e = order[k]
        s0 = vadd(s0, vload(values, e, c))
        s1 = vadd(s1, vload(values, e, c + LANES))
        s2 = vadd(s2, vload(values, e, c + 2 * LANES))
    vstore(inputs, v, at + c, s0)
    vstore(inputs, v, at + c + LANES, s1)
    vstore(inputs, v, at + c + 2 * LANES, s2)


@njit(cache=True, parallel=True)
def _node_inputs(x, values, in_order, in_offsets, out_order, out_offsets, inputs):
    """``inputs[v]`` = [x[v], the sum of v's incoming edges' ``values``, of its outgoing ones].

    The edges of node v are ``order[offsets[v]:offsets[v + 1]]``, summed in that order: three
    vectors of columns per pass over them when the width allows (the GNN's 48: one pass instead
    of three, 0.18 → 0.14 s of a μ = 200 event's six steps), else one vector, else one column
    at a time — the same sums.
    """
    n, h = x.shape
    for block in prange((n + _NODE_BLOCK - 1) // _NODE_BLOCK):
        for v in range(block * _NODE_BLOCK, min(n, (block + 1) * _NODE_BLOCK)):
            for i in range(h):
                inputs[v, i] = x[v, i]
            if h % (3 * LANES) == 0:  # three vectors of columns per pass over the edges
                for c in range(0, h, 3 * LANES):
                    _sum_rows3(values, in_order, in_offsets[v], in_offsets[v + 1], c, inputs, v, h)
                    _sum_rows3(
                        values, out_order, out_offsets[v], out_offsets[v + 1], c, inputs, v, 2 * h
                    )
            elif h % LANES == 0:
                for c in range(0, h, LANES):
                    incoming = vsplat(_F(0.0))
                    for k in range(in_offsets[v], in_offsets[v + 1]):
                        incoming = vadd(incoming, vload(values, in_order[k], c))
                    vstore(inputs, v, h + c, incoming)
                    outgoing = vsplat(_F(0.0))
                    for k in range(out_offsets[v], out_offsets[v + 1]):
                        outgoing = vadd(outgoing, vload(values, out_order[k], c))
                    vstore(inputs, v, 2 * h + c, outgoing)
            else:
                for i in range(h, 3 * h):
                    inputs[v, i] = 0.0
                for k in range(in_offsets[v], in_offsets[v + 1]):
                    for i in range(h):
                        inputs[v, h + i] += values[in_order[k], i]
                for k in range(out_offsets[v], out_offsets[v + 1]):
                    for i in range(h):
                        inputs[v, 2 * h + i] += values[out_order[k], i]


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(tensor.detach().cpu().numpy(), dtype=np.float32)


def _padded(matrix: np.ndarray, columns: int) -> np.ndarray:
    """``matrix`` with zero columns added up to ``columns``."""
    out = np.zeros((matrix.shape[0], columns), np.float32)
    out[:, : matrix.shape[1]] = matrix
    return out


def _transposed(weight: torch.Tensor, padded: int, padded_inputs: bool = True) -> np.ndarray:
    """A linear layer's weight [outputs, inputs] as [inputs, padded]: zero columns for the
    padding outputs and, with ``padded_inputs``, zero rows for the padding inputs."""
    matrix = _padded(_numpy(weight).T, padded)
    if not padded_inputs:
        return matrix
    out = np.zeros((padded, padded), np.float32)
    out[: matrix.shape[0]] = matrix
    return out


def bf16_pairs(matrix: np.ndarray) -> np.ndarray:
    """A float32 matrix [K, O] rounded to bf16 (to nearest, ties to even) and packed by pairs
    of rows into uint32 [⌈K/2⌉, O]: row j holds row 2j in its low halves and row 2j + 1 (zeros
    past the last) in its high halves — what :func:`~acts_gnn.simd.vdot_bf16` reads."""
    bits = np.ascontiguousarray(matrix, np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    rounded[(bits & 0x7FFFFFFF) > 0x7F800000] = 0x7FC0  # a NaN: the quiet one, not ±0
    if rounded.shape[0] % 2:
        rounded = np.concatenate([rounded, np.zeros((1, rounded.shape[1]), np.uint64)])
    return np.ascontiguousarray((rounded[0::2] | (rounded[1::2] << 16)).astype(np.uint32))


@dataclass(frozen=True)
class EdgeNetwork:
    """One per-edge network's weights, laid out for :func:`_edge_network`.

    The first linear layer ``W·[a_src, a_dst, rest] + b`` is split into its node parts
    (``node_src``, ``node_dst``: torch [h, node_width], applied per node by the caller) and the
    rest. Then come LayerNorm + SiLU and an h → h layer, ``len(w_tail)`` times, and a last
    LayerNorm + SiLU; a network ending in an h → d layer (``head``) gives d outputs per edge
    (the filter's and the GNN's one logit, the embedding's latent position).
    The matrices are stored transposed (inputs × outputs) and their outputs padded with zeros
    to a multiple of :data:`~acts_gnn.simd.LANES` (``padded``), the width of a vector; the
    padding columns of the activations stay zero through every layer.
    """

    node_src: torch.Tensor
    node_dst: torch.Tensor
    w_rest: np.ndarray  # [rest, padded]
    bias: np.ndarray  # [1, padded]
    norm_w: np.ndarray  # [len(w_tail) + 1, h]
    norm_b: np.ndarray
    eps: np.float32
    w_tail: np.ndarray  # [T, padded, padded]
    b_tail: np.ndarray  # [T, 1, padded]
    head_w: np.ndarray  # [d, h] ([0, h] without a head)
    head_b: np.ndarray  # [d]
    head: bool
    #: ``w_rest`` and ``w_tail`` as bf16 pairs (:func:`bf16_pairs`) where those products run in
    #: bf16: [rest / 2, padded] and [T, padded / 2, padded]; [0, padded], [T, 0, padded] if not
    wp_rest: np.ndarray
    wp_tail: np.ndarray

    @classmethod
    def of(cls, net: nn.Sequential, node_width: int, bf16: bool = False) -> EdgeNetwork:
        """The weights of ``net`` (:func:`~acts_gnn.gnn.models.mlp`), its first layer's input
        being ``[node_width, node_width, rest]``.

        ``bf16``: its h → h products over the edges, and the first layer's own inputs when
        they are at least a vector wide (a hidden state, not a few geometric inputs), run in
        bf16 (:func:`_times_bf16`; needs :data:`~acts_gnn.simd.HAS_BF16`); the node parts
        (once per node, in torch) stay float32.

        Raises:
            ValueError: a network of another shape (no hidden layer, or not made by ``mlp``);
                ``bf16`` on a CPU without AVX-512 BF16.
        """
        from torch import nn

        if bf16 and not HAS_BF16:
            raise ValueError(f"bf16 products do not run here: {BF16_MISSING}")

        modules = list(net)
        head = isinstance(modules[-1], nn.Linear) and len(modules) > 1
        body = modules[:-1] if head else modules
        shape = [type(m) for m in body]
        blocks = (len(body) - 1) // 3
        if (
            not body
            or shape != [nn.Linear] + [nn.LayerNorm, nn.SiLU, nn.Linear] * blocks
            + [nn.LayerNorm, nn.SiLU]
        ):  # fmt: skip
            raise ValueError("compiled inference needs Linear, (LayerNorm, SiLU, Linear)*, …")
        linears = [m for m in body if isinstance(m, nn.Linear)]
        norms = [m for m in body if isinstance(m, nn.LayerNorm)]
        first = linears[0].weight
        h = first.shape[0]
        if any(m.weight.shape != (h, h) for m in linears[1:]) or len({m.eps for m in norms}) != 1:
            raise ValueError("compiled inference needs one hidden width and one LayerNorm eps")
        padded = -(-h // LANES) * LANES
        tail = linears[1:]
        w_rest = _transposed(first[:, 2 * node_width :], padded, padded_inputs=False)
        w_tail = (
            np.stack([_transposed(m.weight, padded) for m in tail])
            if tail
            else np.zeros((0, padded, padded), np.float32)
        )
        wide_rest = bf16 and w_rest.shape[0] >= LANES
        return cls(
            node_src=first[:, :node_width].detach(),
            node_dst=first[:, node_width : 2 * node_width].detach(),
            w_rest=w_rest,
            bias=_padded(_numpy(linears[0].bias)[None, :], padded),
            norm_w=np.stack([_numpy(m.weight) for m in norms]),
            norm_b=np.stack([_numpy(m.bias) for m in norms]),
            eps=np.float32(norms[0].eps),
            w_tail=w_tail,
            b_tail=np.stack([_padded(_numpy(m.bias)[None, :], padded) for m in tail])
            if tail
            else np.zeros((0, 1, padded), np.float32),
            head_w=_numpy(modules[-1].weight) if head else np.zeros((0, h), np.float32),
            head_b=_numpy(modules[-1].bias) if head else np.zeros(0, np.float32),
            head=head,
            wp_rest=bf16_pairs(w_rest) if wide_rest else np.zeros((0, padded), np.uint32),
            wp_tail=np.stack([bf16_pairs(w) for w in w_tail])
            if bf16 and tail
            else np.zeros((len(tail), 0, padded), np.uint32),
        )

    def node_parts(self, nodes: torch.Tensor | None) -> tuple[np.ndarray, np.ndarray]:
        """The first layer's node parts of every node [N, h]: as a source, as a target (one
        row of zeros for ``nodes`` None)."""
        if nodes is None:
            zeros = np.zeros((1, self.norm_w.shape[1]), np.float32)
            return zeros, zeros
        return _numpy(nodes @ self.node_src.T), _numpy(nodes @ self.node_dst.T)

    def run(
        self,
        nodes: torch.Tensor | None,
        src: np.ndarray,
        dst: np.ndarray,
        rest: np.ndarray,
        out: np.ndarray | None = None,
        residual: bool = False,
    ) -> np.ndarray:
        """The network on every edge ``(src, dst)`` [E] with node inputs ``nodes`` [N, w].

        ``rest`` [E, r]: each edge's own inputs. Returns, for a network with a head, its
        outputs [E, d] (logits [E] when d is 1);
        otherwise ``out`` [E, h] (new when None) = the network's output, plus the first h
        columns of ``rest`` when ``residual`` (``out`` may be ``rest`` itself: updated in
        place). A network without node parts (``node_width`` 0) takes ``nodes`` None and
        ``src``, ``dst`` of zeros: then each row of ``rest`` is one input.
        """
        import torch

        if rest.shape[1] != self.w_rest.shape[0]:  # the products read as many columns
            raise ValueError(
                f"rest has {rest.shape[1]} columns, the network takes {self.w_rest.shape[0]}"
            )
        h = self.norm_w.shape[1]
        from_src, from_dst = self.node_parts(nodes)
        n_edges = src.shape[0]
        logits = np.empty((n_edges if self.head else 0, self.head_w.shape[0]), np.float32)
        if out is None:
            out = np.empty((0 if self.head else n_edges, h), np.float32)
        with torch.profiler.record_function("compiled edge network"):
            _edge_network(
                from_src, from_dst, src, dst, np.ascontiguousarray(rest, dtype=np.float32),
                self.w_rest, self.bias, self.norm_w, self.norm_b, self.eps, self.w_tail,
                self.b_tail, self.wp_rest, self.wp_tail, self.head_w, self.head_b, self.head,
                residual, out, logits,
            )  # fmt: skip
        if not self.head:
            return out
        return np.ascontiguousarray(logits[:, 0]) if logits.shape[1] == 1 else logits


@njit(cache=True)
def edges_by_node(index, n):
    """The edges sorted by ``index`` (stable: a counting sort) and each node's start in that
    order, [n + 1]."""
    offsets = np.zeros(n + 1, np.int64)
    for e in range(index.shape[0]):
        offsets[index[e] + 1] += 1
    for v in range(n):
        offsets[v + 1] += offsets[v]
    filled = offsets[:-1].copy()
    order = np.empty(index.shape[0], np.int64)
    for e in range(index.shape[0]):
        order[filled[index[e]]] = e
        filled[index[e]] += 1
    return order, offsets


def embed(net: EmbeddingMLP, features: torch.Tensor) -> torch.Tensor:
    """:meth:`EmbeddingMLP.forward <acts_gnn.gnn.models.EmbeddingMLP.forward>`, compiled: each
    point is one row through the network. ``features`` float32 [N, 3] on the CPU → [N, d]."""
    import torch

    with numba_threads(torch.get_num_threads()):  # as many as torch's intra-op work
        rows = _numpy(node_inputs(features))
        every_point = np.zeros(rows.shape[0], np.int64)  # no node parts: one row each
        network = EdgeNetwork.of(net.net, 0)
        return torch.from_numpy(network.run(None, every_point, every_point, rows))


def gnn_logits(
    gnn: InteractionGNN, features: torch.Tensor, edges: torch.Tensor, bf16: bool = False
) -> torch.Tensor:
    """:meth:`InteractionGNN.forward <acts_gnn.gnn.models.InteractionGNN.forward>`, compiled.

    ``features`` float32 [N, 3] and ``edges`` int64 [2, E] on the CPU → logits float32 [E].
    ``bf16``: the networks' products over the edges in bf16 (:meth:`EdgeNetwork.of`).
    """
    import torch

    with numba_threads(torch.get_num_threads()):  # as many as torch's intra-op work
        n, h = features.shape[0], gnn.config.hidden
        src = np.ascontiguousarray(edges[0].numpy())
        dst = np.ascontiguousarray(edges[1].numpy())
        encoder = EdgeNetwork.of(gnn.edge_encoder, h, bf16)
        update = EdgeNetwork.of(gnn.edge_update, h, bf16)
        node_update = EdgeNetwork.of(gnn.node_update, 0, bf16)
        decoder = EdgeNetwork.of(gnn.decoder, h, bf16)
        sorted_edges = (*edges_by_node(dst, n), *edges_by_node(src, n))
        every_node = np.zeros(n, np.int64)  # the node network's "edges": one row each
        inputs = np.empty((n, 3 * h), np.float32)
        x = gnn.node_encoder(node_inputs(features))
        rest = np.empty((src.shape[0], EDGE_INPUTS), np.float32)
        eta = _numpy(point_eta(features))
        none = np.zeros((1, 1), np.float32)  # no latent: no distance column
        filter_inputs(_numpy(features), eta, none, src, dst, False, rest)
        e = encoder.run(x, src, dst, rest)
        for _ in range(gnn.config.iterations):
            update.run(x, src, dst, e, out=e, residual=True)
            with torch.profiler.record_function("compiled node sums"):
                _node_inputs(_numpy(x), e, *sorted_edges, inputs)
            x = torch.from_numpy(
                node_update.run(None, every_node, every_node, inputs, residual=True)
            )
        return torch.from_numpy(decoder.run(x, src, dst, e))


@njit(error_model="numpy")
def _turn(features, s, d):
    """Edge ``s → d``: (Δr, Δφ wrapped to [−π, π), Δr kept ≥ 1 mm away from 0, curvature of
    the circle through the beam line), as :func:`~acts_gnn.gnn.geometry.edge_inputs`."""
    pi, one, two = _F(np.pi), _F(1.0), _F(2.0)
    tiny, curvature = _F(1e-3), _F(INVERSE_PT_SCALE * 2.0)
    dr = features[d, 0] - features[s, 0]
    turned = np.fmod((features[d, 1] - features[s, 1]) + one, two)
    if turned < 0:
        turned += two
    dphi = (turned - one) * pi
    safe_dr = dr if abs(dr) >= tiny else (tiny if dr >= 0 else -tiny)
    return dr, dphi, safe_dr, curvature * dphi / safe_dr


@njit(error_model="numpy")
def _inputs_into(rest, row, features, eta, latent, s, d, turn, use_distance):
    """Edge ``s → d``'s own inputs into ``rest[row]`` (see :func:`filter_inputs`), ``turn``
    being its :func:`_turn`."""
    two = _F(2.0)
    dr, dphi, safe_dr, inverse = turn
    dz = features[d, 2] - features[s, 2]
    z0 = features[s, 2] - features[s, 0] * dz / safe_dr
    rest[row, 0] = dr * _F(5.0)
    rest[row, 1] = dphi * _F(5.0)
    rest[row, 2] = eta[d] - eta[s]
    rest[row, 3] = np.tanh(inverse)
    rest[row, 4] = np.tanh(z0 / _F(0.3))
    rest[row, 5] = dz * two
    if use_distance:
        total = _F(0.0)
        for j in range(latent.shape[1]):
            diff = latent[s, j] - latent[d, j]
            total += diff * diff
        rest[row, 6] = np.sqrt(total)


@njit(cache=True, parallel=True)
def filter_inputs(features, eta, latent, src, dst, use_distance, rest):
    """Each edge's own inputs into ``rest`` [E, 6 (+1)], as
    :func:`~acts_gnn.gnn.geometry.edge_inputs` in float32 and the same order of operations
    (the GNN's), and with ``use_distance`` the latent distance after them (the filter's, which
    :func:`_filter_network` makes a tile at a time; otherwise ``latent`` is not read)."""
    for e in prange(src.shape[0]):
        s, d = src[e], dst[e]
        _inputs_into(rest, e, features, eta, latent, s, d, _turn(features, s, d), use_distance)


@njit(cache=True, parallel=True)
def _filter_network(
    features, eta, latent, use_distance, max_inverse_pt, src, dst, from_src, from_dst, w_rest,
    bias, norm_w, norm_b, eps, w_tail, b_tail, wp_rest, wp_tail, head_w, head_b, logits, kept,
):  # fmt: skip
    """The filter's logit of every edge into ``logits`` [E, 1] and whether the pre-selection
    keeps it into ``kept`` [E] (a dropped edge's logit: 0). The kept edges of a block are
    packed into tiles whose inputs are made in the tile's buffer: none of them is stored for
    the whole graph."""
    n_edges = src.shape[0]
    padded = bias.shape[1]
    for block in prange((n_edges + _EDGE_BLOCK - 1) // _EDGE_BLOCK):
        x_in = np.empty((TILE, w_rest.shape[0]), np.float32)
        y = np.empty((TILE, padded), np.float32)
        z = np.empty((TILE, padded), np.float32)
        xb = np.empty((TILE, _pair_columns(wp_rest, wp_tail)), np.uint32)
        ids = np.empty(TILE, np.int64)
        count = 0
        last = min(n_edges, (block + 1) * _EDGE_BLOCK)
        for e in range(block * _EDGE_BLOCK, last):
            s, d = src[e], dst[e]
            turn = _turn(features, s, d)
            kept[e] = abs(turn[3]) <= max_inverse_pt
            if kept[e]:
                _inputs_into(x_in, count, features, eta, latent, s, d, turn, use_distance)
                ids[count] = e
                count += 1
            else:
                logits[e, 0] = 0.0
            if count == TILE or (e == last - 1 and count > 0):
                done = _tile_through(
                    x_in, count, ids, src, dst, from_src, from_dst, w_rest, bias, norm_w,
                    norm_b, eps, w_tail, b_tail, wp_rest, wp_tail, xb, y, z,
                )  # fmt: skip
                _head(done, count, ids, head_w, head_b, logits)
                count = 0


def filter_scores(
    net: FilterMLP,
    features: torch.Tensor,
    edges: torch.Tensor,
    latent: torch.Tensor,
    max_inverse_pt: float | None = None,
    bf16: bool = False,
) -> torch.Tensor:
    """:meth:`FilterMLP.scores_in_chunks <acts_gnn.gnn.models.FilterMLP.scores_in_chunks>`,
    compiled: the same pre-selection (an edge tighter than ``max_inverse_pt`` gets 0). Only
    the edges the pre-selection keeps get inputs and go through the network, their inputs made
    a tile at a time (:func:`_filter_network`). ``bf16``: its h → h products in bf16
    (:meth:`EdgeNetwork.of`)."""
    import torch

    with numba_threads(torch.get_num_threads()):  # as many as torch's intra-op work
        network = EdgeNetwork.of(net.net, NODE_INPUTS, bf16)
        from_src, from_dst = network.node_parts(node_inputs(features))
        logits = np.empty((edges.shape[1], 1), np.float32)
        kept = np.empty(edges.shape[1], np.bool_)
        with torch.profiler.record_function("compiled edge network"):
            _filter_network(
                _numpy(features), _numpy(point_eta(features)), _numpy(latent),
                net.config.use_latent_distance,
                np.float32(np.inf if max_inverse_pt is None else max_inverse_pt),
                np.ascontiguousarray(edges[0].numpy()), np.ascontiguousarray(edges[1].numpy()),
                from_src, from_dst, network.w_rest, network.bias, network.norm_w,
                network.norm_b, network.eps, network.w_tail, network.b_tail, network.wp_rest,
                network.wp_tail, network.head_w, network.head_b, logits, kept,
            )  # fmt: skip
        # no −∞ logits for the dropped edges: exp(∞) would raise an FPE in ACTS's trapping jobs
        scores = torch.sigmoid(torch.from_numpy(logits[:, 0]))
        return scores.masked_fill_(torch.from_numpy(~kept), 0.0)


def kernels_cached() -> bool:
    """Whether Numba's on-disk cache holds the engine's kernels: False on the first use after
    installing (or after an upgrade), when the first event compiles them (about 30–40 s on 2
    cores) before it runs.

    Looks for each kernel's index file where Numba keeps it (``__pycache__`` beside this
    module, or Numba's user cache directory when that is read-only). An index that exists but
    no longer matches the source is not detected: Numba then compiles again, quietly.
    """
    version = f"py{sys.version_info.major}{sys.version_info.minor}"
    for kernel in (_edge_network, _filter_network, _node_inputs, edges_by_node, filter_inputs):
        # the dispatcher's cache object is Numba's (no public accessor); without it, say cached
        directory = getattr(getattr(kernel, "_cache", None), "cache_path", None)
        if directory is None:
            continue
        code = kernel.py_func.__code__
        index = f"{Path(code.co_filename).stem}.{kernel.py_func.__qualname__}-"
        index += f"{code.co_firstlineno}.{version}.nbi"
        if not (Path(directory) / index).is_file():
            return False
    return True
