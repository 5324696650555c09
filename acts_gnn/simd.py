"""float32 vectors as one value in Numba kernels: LLVM's ``<LANES x float>``, one register
wide — 16 lanes (512 bits) where the CPU Numba compiles for has AVX-512, else 8 (AVX).

Layer: bottom (beside ``cpus``; Numba and llvmlite only).

Numba vectorises a loop only when LLVM's loop vectoriser can, and that cannot keep a matrix
product's accumulators in registers: over the inputs it ends each output with a horizontal sum,
and over the outputs it loads and stores them at every step. With these intrinsics a kernel
holds a block of outputs in vector values and adds one outer product per input, the way a BLAS
kernel does (:mod:`acts_gnn.gnn.compiled` for its matrix products and LayerNorm;
:mod:`acts_gnn.cuda._frnn_grid` for K1's lower bound, :data:`LANES` candidates at a time, the
ones it keeps as a bit mask: :func:`vbelow`, :func:`lowest_lane`). LLVM's
loop vectoriser may keep to 256-bit registers on AVX-512 CPUs (its tuning for most of them);
these values use the full width. On a CPU without registers that wide LLVM splits each value
into what it has; the results are the same.

:data:`LANES` is fixed when this module is imported, from the CPU Numba compiles for (the host,
or ``NUMBA_CPU_NAME``/``NUMBA_CPU_FEATURES``), which is also part of the key of Numba's on-disk
cache: a kernel compiled for one width is never loaded for the other. Sums across lanes (LayerNorm's
mean and variance, :func:`vsum`) group their terms by lanes, so results on the two widths differ
by float32 rounding.

Numba's on-disk cache does not see edits to this module: after changing it, clear the users'
caches (``__pycache__/*.nbi``) or edit the users too. An installed upgrade rewrites every file.

Only for 2-D C-contiguous float32 arrays (uint32 matrices of bf16 pairs for :func:`vdot_bf16`
and :func:`vstore_bf16`); a row's :data:`LANES` lanes from ``col`` must lie inside the row (the
callers' widths are multiples of :data:`LANES`). Nothing is checked at run time.
"""

from __future__ import annotations

from llvmlite import binding, ir
from numba import config, types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

__all__ = [
    "BF16_MISSING",
    "HAS_BF16",
    "LANES",
    "F32Vector",
    "lowest_lane",
    "vadd",
    "vbelow",
    "vdot_bf16",
    "vfma",
    "vless",
    "vload",
    "vmax",
    "vmin",
    "vmul",
    "vrecip",
    "vsplat",
    "vstore",
    "vstore_bf16",
    "vsum",
]


def _features() -> set[str]:
    """The features of the CPU Numba compiles for (``+avx2`` → ``avx2``)."""
    if not binding.get_process_triple().startswith(("x86_64", "i686", "i386")):
        return set()
    if config.CPU_FEATURES is not None:  # NUMBA_CPU_FEATURES: compiling for another CPU
        return {f[1:] for f in config.CPU_FEATURES.split(",") if f.startswith("+")}
    return {name for name, on in binding.get_host_cpu_features().items() if on}


_CPU = _features()
#: floats per vector: 16 where the CPU has AVX-512 (512-bit registers), else 8
LANES = 16 if "avx512f" in _CPU else 8
#: the CPU's reciprocal estimate for a vector (relative error below 2⁻¹⁴ and 1.5·2⁻¹²), if any
_ESTIMATE = (
    "llvm.x86.avx512.rcp14.ps.512"
    if LANES == 16
    else "llvm.x86.avx.rcp.ps.256"
    if "avx" in _CPU
    else None
)

_VECTOR = ir.VectorType(ir.FloatType(), LANES)
#: a vector of bf16 pairs, each lane's two halves one bf16 each (:func:`vdot_bf16`)
_PAIRS = ir.VectorType(ir.IntType(32), LANES)
#: LLVM's version under Numba: its bf16 intrinsics take ``bfloat`` vectors from LLVM 17 on
#: (llvmlite 0.45, Numba 0.62), ``i32``/``i16`` ones before, which these do not declare
_LLVM_BFLOAT = binding.llvm_version_info >= (17,)
#: whether the bf16 dot product (``vdpbf16ps``: :func:`vdot_bf16`) runs here: the CPU has
#: AVX-512 BF16 and Numba's LLVM declares it as this module does
HAS_BF16 = LANES == 16 and "avx512bf16" in _CPU and _LLVM_BFLOAT
#: why not, when not (for messages)
BF16_MISSING = (
    ""
    if HAS_BF16
    else "this CPU has no AVX-512 BF16 (avx512_bf16)"
    if not (LANES == 16 and "avx512bf16" in _CPU)
    else f"Numba's LLVM {binding.llvm_version_info[0]} predates its bf16 types (Numba 0.62 and "
    "later have them)"
)


class F32Vector(types.Type):
    """The Numba type of :data:`LANES` float32 lanes."""

    def __init__(self) -> None:
        super().__init__(name=f"f32x{LANES}")


_f32_vector = F32Vector()


@register_model(F32Vector)
class _Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type) -> None:
        super().__init__(dmm, fe_type, _VECTOR)


def _lanes_at(context, builder, array_type, array, row, col, vector=_VECTOR):
    """A pointer to ``array[row, col]`` as one ``vector`` (``<LANES x float>*``)."""
    view = context.make_array(array_type)(context, builder, array)
    pointer = cgutils.get_item_pointer2(
        context,
        builder,
        data=view.data,
        shape=cgutils.unpack_tuple(builder, view.shape),
        strides=cgutils.unpack_tuple(builder, view.strides),
        layout=array_type.layout,
        inds=[row, col],
        wraparound=False,
        boundscheck=False,
    )
    return builder.bitcast(pointer, vector.as_pointer())


def _is_matrix(array, dtype=types.float32) -> bool:
    return (
        isinstance(array, types.Array)
        and array.ndim == 2
        and array.layout == "C"
        and array.dtype == dtype
    )


@intrinsic
def vload(typingctx, array, row, col):
    """``array[row, col:col + LANES]`` as one vector."""
    if not _is_matrix(array):
        return None

    def codegen(context, builder, signature, args):
        return builder.load(_lanes_at(context, builder, signature.args[0], *args), align=4)

    return _f32_vector(array, row, col), codegen


@intrinsic
def vstore(typingctx, array, row, col, vector):
    """``array[row, col:col + LANES] = vector``."""
    if not _is_matrix(array) or not isinstance(vector, F32Vector):
        return None

    def codegen(context, builder, signature, args):
        pointer = _lanes_at(context, builder, signature.args[0], *args[:3])
        builder.store(args[3], pointer, align=4)
        return context.get_dummy_value()

    return types.void(array, row, col, vector), codegen


@intrinsic
def vsplat(typingctx, value):
    """A float32 in every lane."""
    if value != types.float32:
        return None

    def codegen(context, builder, signature, args):
        one = builder.insert_element(
            ir.Constant(_VECTOR, ir.Undefined), args[0], ir.Constant(ir.IntType(32), 0)
        )
        lanes = ir.Constant(ir.VectorType(ir.IntType(32), LANES), [0] * LANES)
        return builder.shuffle_vector(one, ir.Constant(_VECTOR, ir.Undefined), lanes)

    return _f32_vector(value), codegen


def _fma(builder):
    """LLVM's ``fma`` on vectors, declared in the builder's module."""
    return cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(_VECTOR, [_VECTOR] * 3), f"llvm.fma.v{LANES}f32"
    )


@intrinsic
def vfma(typingctx, a, b, c):
    """``a · b + c`` lane by lane, with one rounding (LLVM's ``fma``)."""
    if not all(isinstance(v, F32Vector) for v in (a, b, c)):
        return None

    def codegen(context, builder, signature, args):
        return builder.call(_fma(builder), list(args))

    return _f32_vector(a, b, c), codegen


@intrinsic
def vsum(typingctx, vector):
    """The sum of the lanes (in any order: a float32 rounding apart)."""
    if not isinstance(vector, F32Vector):
        return None

    def codegen(context, builder, signature, args):
        function = cgutils.get_or_insert_function(
            builder.module,
            ir.FunctionType(ir.FloatType(), [ir.FloatType(), _VECTOR]),
            f"llvm.vector.reduce.fadd.v{LANES}f32",
        )
        return builder.call(
            function, [ir.Constant(ir.FloatType(), 0.0), args[0]], fastmath=("fast",)
        )

    return types.float32(vector), codegen


def _binary(name: str, doc: str, build):
    """An intrinsic of two vectors, lane by lane: ``build(builder, a, b)`` makes its LLVM value."""

    def typer(typingctx, a, b):
        if not all(isinstance(v, F32Vector) for v in (a, b)):
            return None

        def codegen(context, builder, signature, args):
            return build(builder, *args)

        return _f32_vector(a, b), codegen

    typer.__name__ = typer.__qualname__ = name
    typer.__doc__ = doc
    return intrinsic(typer)


vadd = _binary(
    "vadd",
    "``a + b`` lane by lane (never reassociated: a chain of them sums in its order).",
    lambda builder, a, b: builder.fadd(a, b),
)
vmul = _binary("vmul", "``a · b`` lane by lane.", lambda builder, a, b: builder.fmul(a, b))
vmin = _binary(
    "vmin",
    "The smaller of ``a`` and ``b`` lane by lane (``b`` where one is NaN).",
    lambda builder, a, b: builder.select(builder.fcmp_ordered("<", a, b), a, b),
)
vmax = _binary(
    "vmax",
    "The larger of ``a`` and ``b`` lane by lane (``b`` where one is NaN).",
    lambda builder, a, b: builder.select(builder.fcmp_ordered(">", a, b), a, b),
)


@intrinsic
def vrecip(typingctx, a):
    """``1 / a`` lane by lane, fast: the CPU's estimate refined by Newton steps (to within a
    few float32 roundings), or a division where the CPU has no estimate. For ``a`` of moderate
    size: no zero, infinity or denormal."""
    if not isinstance(a, F32Vector):
        return None

    def codegen(context, builder, signature, args):
        (q,) = args
        one = ir.Constant(_VECTOR, [1.0] * LANES)
        if _ESTIMATE is None:
            return builder.fdiv(one, q)
        if LANES == 16:
            estimate = cgutils.get_or_insert_function(
                builder.module,
                ir.FunctionType(_VECTOR, [_VECTOR, _VECTOR, ir.IntType(16)]),
                _ESTIMATE,
            )
            r = builder.call(
                estimate, [q, ir.Constant(_VECTOR, ir.Undefined), ir.Constant(ir.IntType(16), -1)]
            )
        else:
            estimate = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(_VECTOR, [_VECTOR]), _ESTIMATE
            )
            r = builder.call(estimate, [q])
        fma = _fma(builder)
        # Newton: r + r·(1 − q·r), squaring the relative error: once after AVX-512's 14-bit
        # estimate, twice after AVX's 12-bit one
        for _ in range(1 if LANES == 16 else 2):
            error = builder.call(fma, [builder.fneg(q), r, one])
            r = builder.call(fma, [r, error, r])
        return r

    return _f32_vector(a), codegen


@intrinsic
def vless(typingctx, a, b, x, y):
    """``x`` where ``a < b``, else ``y``, lane by lane."""
    if not all(isinstance(v, F32Vector) for v in (a, b, x, y)):
        return None

    def codegen(context, builder, signature, args):
        return builder.select(builder.fcmp_ordered("<", args[0], args[1]), args[2], args[3])

    return _f32_vector(a, b, x, y), codegen


@intrinsic
def vbelow(typingctx, a, b):
    """The lanes where ``a < b`` (or either is NaN: where ``a >= b`` is false), as the bits of
    an int64 (lane 0: the lowest bit) — a vector comparison and one mask move, where a loop
    over the lanes would branch on each."""
    if not all(isinstance(v, F32Vector) for v in (a, b)):
        return None

    def codegen(context, builder, signature, args):
        bits = builder.fcmp_unordered("<", args[0], args[1])
        mask = builder.bitcast(bits, ir.IntType(LANES))
        return builder.zext(mask, ir.IntType(64))

    return types.int64(a, b), codegen


@intrinsic
def lowest_lane(typingctx, mask):
    """The index of the lowest set bit of a non-zero int64 ``mask`` (one instruction)."""
    if mask != types.int64:
        return None

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        cttz = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(i64, [i64, ir.IntType(1)]), "llvm.cttz.i64"
        )
        return builder.call(cttz, [args[0], ir.Constant(ir.IntType(1), 1)])

    return types.int64(mask), codegen


class _BFloat(ir.Type):
    """LLVM's ``bfloat`` (llvmlite has no type for it): the element of ``vdpbf16ps``'s inputs."""

    def _to_string(self) -> str:
        return "bfloat"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _BFloat)

    def __hash__(self) -> int:
        return hash("bfloat")


def _is_pair_matrix(array) -> bool:
    """A matrix of bf16 pairs (uint32)."""
    return _is_matrix(array, types.uint32)


@intrinsic
def vdot_bf16(typingctx, acc, pair, array, row, col):
    """``acc`` plus, in each lane i, the dot product of two bf16 pairs: ``pair`` (a uint32,
    bf16 ``a0`` in its low half and ``a1`` in its high half, the same in every lane) with
    ``array[row, col + i]`` (a uint32 matrix of such pairs): ``acc + a1·w1`` rounded to
    float32, then ``+ a0·w0`` rounded (each product of two bf16 exact in float32; denormals
    flushed to zero) — AVX-512's ``vdpbf16ps``, two multiply-adds per lane in one instruction.

    Only where :data:`HAS_BF16`: on another CPU the same sums are made of float32 operations
    (a float32 rounding apart where denormals occur), so that kernels holding it still compile.
    """
    if not (isinstance(acc, F32Vector) and pair == types.uint32 and _is_pair_matrix(array)):
        return None

    def codegen(context, builder, signature, args):
        acc_v, pair_v, matrix, r, c = args
        i32, ints = ir.IntType(32), _PAIRS
        pointer = _lanes_at(context, builder, signature.args[2], matrix, r, c, ints)
        weights = builder.load(pointer, align=4)
        one = builder.insert_element(ir.Constant(ints, ir.Undefined), pair_v, ir.Constant(i32, 0))
        pairs = builder.shuffle_vector(
            one, ir.Constant(ints, ir.Undefined), ir.Constant(ints, [0] * LANES)
        )
        if HAS_BF16:
            bf16s = ir.VectorType(_BFloat(), 2 * LANES)
            dot = cgutils.get_or_insert_function(
                builder.module,
                ir.FunctionType(_VECTOR, [_VECTOR, bf16s, bf16s]),
                "llvm.x86.avx512bf16.dpbf16ps.512",
            )
            return builder.call(
                dot, [acc_v, builder.bitcast(pairs, bf16s), builder.bitcast(weights, bf16s)]
            )
        high = ir.Constant(ints, [0xFFFF0000 - 2**32] * LANES)

        def halves(v):  # (low, high) bf16 halves of each lane, as float32
            low = builder.bitcast(builder.shl(v, ir.Constant(ints, [16] * LANES)), _VECTOR)
            return low, builder.bitcast(builder.and_(v, high), _VECTOR)

        (a0, a1), (w0, w1) = halves(pairs), halves(weights)
        total = builder.fadd(acc_v, builder.fmul(a1, w1))
        return builder.fadd(total, builder.fmul(a0, w0))

    return _f32_vector(acc, pair, array, row, col), codegen


@intrinsic
def vstore_bf16(typingctx, array, row, col, low, high):
    """``array[row, col:col + LANES]`` (a uint32 matrix) = the 2·LANES floats of ``low`` then
    ``high`` rounded to bf16 (to nearest, ties to even; denormals to zero) and packed by
    pairs, as :func:`vdot_bf16` reads them: lane i holds floats 2i and 2i + 1 — AVX-512's
    ``vcvtne2ps2bf16``. Only where :data:`HAS_BF16` (elsewhere the same rounding in integer
    operations, denormals kept, a NaN the quiet one)."""
    if not (_is_pair_matrix(array) and isinstance(low, F32Vector) and isinstance(high, F32Vector)):
        return None

    def codegen(context, builder, signature, args):
        matrix, r, c, low_v, high_v = args
        i32, ints = ir.IntType(32), _PAIRS
        pointer = _lanes_at(context, builder, signature.args[0], matrix, r, c, ints)
        if HAS_BF16:
            bf16s = ir.VectorType(_BFloat(), 2 * LANES)
            convert = cgutils.get_or_insert_function(
                builder.module,
                ir.FunctionType(bf16s, [_VECTOR, _VECTOR]),
                "llvm.x86.avx512bf16.cvtne2ps2bf16.512",
            )
            packed = builder.bitcast(builder.call(convert, [high_v, low_v]), ints)
        else:

            def rounded(v):  # the top 16 bits of the nearest bf16, in the low half
                bits = builder.bitcast(v, ints)
                odd = builder.and_(
                    builder.lshr(bits, ir.Constant(ints, [16] * LANES)),
                    ir.Constant(ints, [1] * LANES),
                )
                up = builder.add(builder.add(bits, ir.Constant(ints, [0x7FFF] * LANES)), odd)
                nearest = builder.lshr(up, ir.Constant(ints, [16] * LANES))
                nan = builder.fcmp_unordered("uno", v, v)  # rounding would carry it to ±0
                return builder.select(nan, ir.Constant(ints, [0x7FC0] * LANES), nearest)

            both = builder.shuffle_vector(
                rounded(low_v),
                rounded(high_v),
                ir.Constant(ir.VectorType(i32, 2 * LANES), list(range(2 * LANES))),
            )
            evens = builder.shuffle_vector(
                both, both, ir.Constant(ints, list(range(0, 2 * LANES, 2)))
            )
            odds = builder.shuffle_vector(
                both, both, ir.Constant(ints, list(range(1, 2 * LANES, 2)))
            )
            packed = builder.or_(evens, builder.shl(odds, ir.Constant(ints, [16] * LANES)))
        builder.store(packed, pointer, align=4)
        return context.get_dummy_value()

    return types.void(array, row, col, low, high), codegen
