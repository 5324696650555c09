"""Eight float32 lanes as one value in Numba kernels: LLVM's ``<8 x float>`` (an AVX register).

Layer: bottom (beside ``cpus``; Numba and llvmlite only).

Numba vectorises a loop only when LLVM's loop vectoriser can, and that cannot keep a matrix
product's accumulators in registers: over the inputs it ends each output with a horizontal sum,
and over the outputs it loads and stores them at every step. With these intrinsics a kernel
holds a block of outputs in vector values and adds one outer product per input, the way a BLAS
kernel does (:mod:`acts_gnn.gnn.compiled` for its matrix products and LayerNorm;
:mod:`acts_gnn.cuda._frnn_grid` for K1's lower bound, eight candidates at a time). On a CPU without
256-bit registers LLVM splits each value into what the CPU has; the results are the same.

Only for 2-D C-contiguous float32 arrays; a row's eight lanes from ``col`` must lie inside the
row (the caller's widths are multiples of eight). Nothing is checked at run time.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

__all__ = ["LANES", "F32x8", "add8", "fma8", "load8", "splat8", "store8", "sum8"]

#: floats per vector
LANES = 8

_VECTOR = ir.VectorType(ir.FloatType(), LANES)


class F32x8(types.Type):
    """The Numba type of eight float32 lanes."""

    def __init__(self) -> None:
        super().__init__(name="f32x8")


_f32x8 = F32x8()


@register_model(F32x8)
class _Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type) -> None:
        super().__init__(dmm, fe_type, _VECTOR)


def _lanes_at(context, builder, array_type, array, row, col):
    """A ``<8 x float>*`` to ``array[row, col]``."""
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
    return builder.bitcast(pointer, _VECTOR.as_pointer())


def _is_matrix(array) -> bool:
    return (
        isinstance(array, types.Array)
        and array.ndim == 2
        and array.layout == "C"
        and array.dtype == types.float32
    )


@intrinsic
def load8(typingctx, array, row, col):
    """``array[row, col:col + 8]`` as one vector."""
    if not _is_matrix(array):
        return None

    def codegen(context, builder, signature, args):
        return builder.load(_lanes_at(context, builder, signature.args[0], *args), align=4)

    return _f32x8(array, row, col), codegen


@intrinsic
def store8(typingctx, array, row, col, vector):
    """``array[row, col:col + 8] = vector``."""
    if not _is_matrix(array) or not isinstance(vector, F32x8):
        return None

    def codegen(context, builder, signature, args):
        pointer = _lanes_at(context, builder, signature.args[0], *args[:3])
        builder.store(args[3], pointer, align=4)
        return context.get_dummy_value()

    return types.void(array, row, col, vector), codegen


@intrinsic
def splat8(typingctx, value):
    """A float32 in every lane."""
    if value != types.float32:
        return None

    def codegen(context, builder, signature, args):
        one = builder.insert_element(
            ir.Constant(_VECTOR, ir.Undefined), args[0], ir.Constant(ir.IntType(32), 0)
        )
        lanes = ir.Constant(ir.VectorType(ir.IntType(32), LANES), [0] * LANES)
        return builder.shuffle_vector(one, ir.Constant(_VECTOR, ir.Undefined), lanes)

    return _f32x8(value), codegen


@intrinsic
def fma8(typingctx, a, b, c):
    """``a · b + c`` lane by lane, with one rounding (LLVM's ``fma``)."""
    if not all(isinstance(v, F32x8) for v in (a, b, c)):
        return None

    def codegen(context, builder, signature, args):
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(_VECTOR, [_VECTOR] * 3), "llvm.fma.v8f32"
        )
        return builder.call(function, list(args))

    return _f32x8(a, b, c), codegen


@intrinsic
def add8(typingctx, a, b):
    """``a + b`` lane by lane (never reassociated: a chain of them sums in its order)."""
    if not all(isinstance(v, F32x8) for v in (a, b)):
        return None

    def codegen(context, builder, signature, args):
        return builder.fadd(args[0], args[1])

    return _f32x8(a, b), codegen


@intrinsic
def sum8(typingctx, vector):
    """The sum of the eight lanes (in any order: a float32 rounding apart)."""
    if not isinstance(vector, F32x8):
        return None

    def codegen(context, builder, signature, args):
        function = cgutils.get_or_insert_function(
            builder.module,
            ir.FunctionType(ir.FloatType(), [ir.FloatType(), _VECTOR]),
            "llvm.vector.reduce.fadd.v8f32",
        )
        return builder.call(
            function, [ir.Constant(ir.FloatType(), 0.0), args[0]], fastmath=("fast",)
        )

    return types.float32(vector), codegen
