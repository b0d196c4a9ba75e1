"""ADD, SUB, MUL, MAXIMUM, MINIMUM, PRELU and SQUARED_DIFFERENCE with numpy-style broadcasting."""

from __future__ import annotations

from ....core.errors import BuildError
from .. import quant
from ..cemit import in_ptr, out_ptr
from ..model import Operator
from ..params import MAX_DIMS, BinaryParams
from .context import LoweringContext, lowers


@lowers(
    *("ADD", "SUB", "MUL", "MAXIMUM", "MINIMUM", "PRELU", "SQUARED_DIFFERENCE"),
    inputs=2,
    elementwise=True,
)
def binary(ctx: LoweringContext, op: Operator) -> None:
    a = ctx.int8_tensor(op, op.inputs[0], "input 1")
    b = ctx.int8_tensor(op, op.inputs[1], "input 2")
    y = ctx.int8_tensor(op, op.outputs[0], "output")
    dims, s1, s2 = broadcast_strides(a.shape, b.shape, y.shape, op)
    activation = op.options.get("activation", quant.ACT_NONE)  # MAXIMUM/MINIMUM: none
    act_min, act_max = quant.activation_range(activation, y.scale, y.zero_point)
    if op.name in ("ADD", "SUB"):  # TFLM's SUB rescales as ADD does
        rescale = quant.add_params(a.scale, b.scale, y.scale)
        kernel = "cgen_add" if op.name == "ADD" else "cgen_sub"
    elif op.name == "SQUARED_DIFFERENCE":  # ADD's rescaling at left shift 7, then squared
        rescale = quant.squared_difference_params(a.scale, b.scale, y.scale)
        act_min, act_max = -128, 127
        kernel = "cgen_squared_difference"
    elif op.name == "PRELU":  # x >= 0: x * in1; x < 0: x * alpha * out (TFLM's two multipliers)
        mult1, shift1 = quant.quantize_multiplier(float(a.scale) / float(y.scale))
        mult2, shift2 = quant.quantize_multiplier(float(a.scale) * float(b.scale) / float(y.scale))
        rescale = {"left_shift": 0, "in2_mult": 0, "in2_shift": 0}
        rescale.update(in1_mult=mult1, in1_shift=shift1, out_mult=mult2, out_shift=shift2)
        act_min, act_max = -128, 127
        kernel = "cgen_prelu"
    elif op.name in ("MAXIMUM", "MINIMUM"):  # the stored values compared, as TFLM does
        rescale = dict.fromkeys(
            (
                "left_shift",
                "in1_mult",
                "in1_shift",
                "in2_mult",
                "in2_shift",
                "out_mult",
                "out_shift",
            ),
            0,
        )
        kernel = "cgen_maximum" if op.name == "MAXIMUM" else "cgen_minimum"
    else:
        m, s = quant.quantize_multiplier(float(a.scale) * float(b.scale) / float(y.scale))
        rescale = {"left_shift": 0, "in1_mult": 0, "in1_shift": 0, "in2_mult": 0, "in2_shift": 0}
        rescale.update(out_mult=m, out_shift=s)
        kernel = "cgen_mul"
    params = BinaryParams(
        ndim=len(dims),
        out_dims=pad_dims(dims),
        in1_strides=pad_dims(s1),
        in2_strides=pad_dims(s2),
        in1_offset=-a.zero_point,
        in2_offset=-b.zero_point,
        out_offset=y.zero_point,
        act_min=act_min,
        act_max=act_max,
        **rescale,
    )
    name = ctx.code.struct(params)
    args = f"{in_ptr(op.inputs[0])}, {in_ptr(op.inputs[1])}, {out_ptr(op.outputs[0])}"
    ctx.code.call("cgen_binary.c", f"{kernel}(&{name}, {args});")


def pad_dims(values: list[int]) -> list[int]:
    return list(values) + [0] * (MAX_DIMS - len(values))


def broadcast_strides(a_shape, b_shape, out_shape, op: Operator):
    """Collapsed output dims and per-input element strides (0 = broadcast)."""
    rank = max(len(a_shape), len(b_shape), len(out_shape), 1)

    def padded(shape):
        return [1] * (rank - len(shape)) + list(shape)

    a, b, o = padded(a_shape), padded(b_shape), padded(out_shape)
    for d in range(rank):
        for s in (a[d], b[d]):
            if s not in (1, o[d]):
                raise BuildError(f"cgen: {op.name} (operator index {op.index}): bad broadcast")

    def strides(shape):
        st, acc = [], 1
        for d in reversed(range(rank)):
            st.append(acc if shape[d] > 1 else 0)
            acc *= shape[d]
        return st[::-1]

    sa, sb = strides(a), strides(b)
    dims, s1, s2 = [], [], []
    for d in range(rank):
        if o[d] == 1:
            continue
        # Merge with the previous dim when both inputs stay contiguous across it.
        if dims and s1[-1] == sa[d] * o[d] and s2[-1] == sb[d] * o[d]:
            dims[-1] *= o[d]
            s1[-1], s2[-1] = sa[d], sb[d]
            continue
        dims.append(o[d])
        s1.append(sa[d])
        s2.append(sb[d])
    if not dims:
        dims, s1, s2 = [1], [0], [0]
    if len(dims) > MAX_DIMS:
        raise BuildError(f"cgen: {op.name} (operator index {op.index}): broadcast over > 6 dims")
    return dims, s1, s2
