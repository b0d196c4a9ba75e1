"""float32 forms of the operators (a float model, or a float stretch of a quantized one):
the int8 lowering's shape checks and parameter struct, float weights and the fused
activation in cgen_float_params, kernels in cgen_float.c computing as TFLM's float
reference kernels do. Registered with @lowers_float: the lowering runs when the operator's
output is float32; every activation tensor of the operator must be float32 then.
"""

from __future__ import annotations

import numpy as np

from ....core.errors import BuildError
from .. import quant
from ..cemit import in_ptr, out_ptr
from ..model import Operator, Tensor
from ..params import (
    NULL,
    BinaryParams,
    ConvParams,
    CStruct,
    FloatParams,
    MeanParams,
    SoftmaxParams,
)
from . import activation as _activation  # noqa: F401 (the int8 lowerings come first)
from . import fully_connected as _fully_connected  # noqa: F401
from . import softmax as _softmax  # noqa: F401
from .binary import broadcast_strides, pad_dims
from .context import LoweringContext, lowers_float
from .conv import conv_geometry
from .pool import pool_params
from .reduce import reduce_view
from .shape import pad_params

FLT_MAX = np.finfo(np.float32).max
KERNELS = "cgen_float.c"


def activation_range(activation: int) -> tuple[np.float32, np.float32]:
    """CalculateActivationRange<float>: lowest()..max() without an activation."""
    ranges = {
        quant.ACT_NONE: (-FLT_MAX, FLT_MAX),
        quant.ACT_RELU: (0.0, FLT_MAX),
        quant.ACT_RELU6: (0.0, 6.0),
        quant.ACT_RELU_N1_TO_1: (-1.0, 1.0),
    }
    if activation not in ranges:
        raise BuildError(f"cgen: fused activation {activation} is not supported")
    lo, hi = ranges[activation]
    return np.float32(lo), np.float32(hi)


def _float_const(ctx: LoweringContext, op: Operator, index: int, role: str) -> Tensor:
    tensor = ctx.tensor(index)
    if tensor.is_const and tensor.dtype in ("INT8", "INT16"):
        raise BuildError(
            f"cgen: {op.name} (operator index {op.index}): {role} '{tensor.name}' is "
            f"{tensor.dtype} with float32 activations (a hybrid model); cgen runs float32 "
            "models and quantized ones, not both in one operator"
        )
    return ctx.const_tensor(op, index, role, ("FLOAT32",))


def _float_params(
    ctx: LoweringContext,
    op: Operator,
    activation: int = quant.ACT_NONE,
    value: float = 0.0,
    weights: int | None = None,
) -> FloatParams:
    """The float constants: weights (input ``weights``) and bias (the input after it)."""
    code = ctx.code
    w_name = b_name = NULL
    if weights is not None:
        w = _float_const(ctx, op, op.inputs[weights], "weights")
        w_name = code.array("weights", w.data.astype(np.float32))
        b = weights + 1
        if len(op.inputs) > b and op.inputs[b] >= 0:
            bias = _float_const(ctx, op, op.inputs[b], "bias")
            b_name = code.array("bias", bias.data.astype(np.float32))
    lo, hi = activation_range(activation)
    return FloatParams(weights=w_name, bias=b_name, act_min=lo, act_max=hi, value=value)


def _call(
    ctx: LoweringContext,
    op: Operator,
    kernel: str,
    shape_params: CStruct | int,
    fparams: FloatParams,
    *ins: int,
) -> None:
    """``kernel(&shape, &float, inputs..., output);`` (shape: a struct, or an element count)."""
    first = (
        str(shape_params) if isinstance(shape_params, int) else f"&{ctx.code.struct(shape_params)}"
    )
    fname = ctx.code.struct(fparams, "fparams")
    args = ", ".join([first, f"&{fname}", *(in_ptr(i) for i in ins), out_ptr(op.outputs[0])])
    ctx.code.call(KERNELS, f"{kernel}({args});")


def _io(ctx: LoweringContext, op: Operator, inputs: int = 1) -> tuple[list[Tensor], Tensor]:
    xs = [ctx.float_tensor(op, op.inputs[k], f"input {k + 1}") for k in range(inputs)]
    return xs, ctx.float_tensor(op, op.outputs[0], "output")


@lowers_float("CONV_2D", "DEPTHWISE_CONV_2D")
def conv_f32(ctx: LoweringContext, op: Operator) -> None:
    (x,), y = _io(ctx, op)
    w = _float_const(ctx, op, op.inputs[1], "filter")
    depthwise = op.name == "DEPTHWISE_CONV_2D"
    geometry = conv_geometry(op, x, w, y, depthwise)
    params = ConvParams(**geometry, in_zp=0, out_zp=0, act_min=0, act_max=0, quant_stride=0)
    fparams = _float_params(ctx, op, op.options["activation"], weights=1)
    kernel = "cgen_depthwise_f32" if depthwise else "cgen_conv_f32"
    _call(ctx, op, kernel, params, fparams, op.inputs[0])


@lowers_float("FULLY_CONNECTED")
def fully_connected_f32(ctx: LoweringContext, op: Operator) -> None:
    (x,), y = _io(ctx, op)
    w = _float_const(ctx, op, op.inputs[1], "weights")
    if op.options.get("weights_format", 0) != 0:
        raise BuildError(f"cgen: FULLY_CONNECTED (operator index {op.index}): shuffled weights")
    out_c, depth = w.shape[0], w.shape[-1]
    batches = x.size // depth
    if batches * depth != x.size or y.size != batches * out_c:
        raise BuildError(f"cgen: FULLY_CONNECTED (operator index {op.index}): bad shapes")
    # cgen_fc_f32 reads batches, in_c and out_c: a 1x1 window over one pixel per batch.
    window = dict.fromkeys(("in_h", "in_w", "out_h", "out_w", "k_h", "k_w"), 1)
    window.update(dict.fromkeys(("stride_h", "stride_w", "dil_h", "dil_w"), 1))
    params = ConvParams(
        batches=batches,
        in_c=depth,
        out_c=out_c,
        pad_top=0,
        pad_left=0,
        depth_multiplier=1,
        **window,
        **dict.fromkeys(("in_zp", "out_zp", "act_min", "act_max", "quant_stride"), 0),
    )
    fparams = _float_params(ctx, op, op.options["activation"], weights=1)
    _call(ctx, op, "cgen_fc_f32", params, fparams, op.inputs[0])


@lowers_float("AVERAGE_POOL_2D", "MAX_POOL_2D")
def pool_f32(ctx: LoweringContext, op: Operator) -> None:
    (x,), y = _io(ctx, op)
    params = pool_params(op, x, y, 0, 0)
    kernel = "cgen_avg_pool_f32" if op.name == "AVERAGE_POOL_2D" else "cgen_max_pool_f32"
    _call(ctx, op, kernel, params, _float_params(ctx, op, op.options["activation"]), op.inputs[0])


@lowers_float("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN")
def reduce_f32(ctx: LoweringContext, op: Operator) -> None:
    (x,), _ = _io(ctx, op)
    outer, count, inner = reduce_view(ctx, op, x)
    params = MeanParams(outer=outer, reduce=count, inner=inner, in_zp=0, out_zp=0, mult=0, shift=0)
    kernel = f"cgen_{op.name.lower()}_f32"
    _call(ctx, op, kernel, params, _float_params(ctx, op), op.inputs[0])


@lowers_float("SOFTMAX")
def softmax_f32(ctx: LoweringContext, op: Operator) -> None:
    (x,), _ = _io(ctx, op)
    depth = x.shape[-1]
    params = SoftmaxParams(
        outer=x.size // depth, depth=depth, input_multiplier=0, input_left_shift=0, diff_min=0
    )
    fparams = _float_params(ctx, op, value=float(op.options["beta"]))
    _call(ctx, op, "cgen_softmax_f32", params, fparams, op.inputs[0])


@lowers_float("PAD", "PADV2")
def pad_f32(ctx: LoweringContext, op: Operator) -> None:
    (x,), y = _io(ctx, op)
    value = 0.0
    if op.name == "PADV2" and len(op.inputs) > 2 and op.inputs[2] >= 0:
        value = float(_float_const(ctx, op, op.inputs[2], "pad value").data.reshape(-1)[0])
    params = pad_params(ctx, op, x, y, 0)
    _call(ctx, op, "cgen_pad_f32", params, _float_params(ctx, op, value=value), op.inputs[0])


@lowers_float("ADD", "SUB", "MUL", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE", "PRELU")
def binary_f32(ctx: LoweringContext, op: Operator) -> None:
    y = ctx.float_tensor(op, op.outputs[0], "output")
    a, b = (ctx.tensor(i) for i in op.inputs[:2])
    for k, t in enumerate((a, b)):
        if t.is_const:
            _float_const(ctx, op, op.inputs[k], f"input {k + 1}")
        else:
            ctx.float_tensor(op, op.inputs[k], f"input {k + 1}")
    dims, s1, s2 = broadcast_strides(a.shape, b.shape, y.shape, op)
    quant_fields = ("in1_offset", "in2_offset", "out_offset", "left_shift", "in1_mult")
    quant_fields += ("in1_shift", "in2_mult", "in2_shift", "out_mult", "out_shift")
    params = BinaryParams(
        ndim=len(dims),
        out_dims=pad_dims(dims),
        in1_strides=pad_dims(s1),
        in2_strides=pad_dims(s2),
        act_min=0,
        act_max=0,
        **dict.fromkeys(quant_fields, 0),
    )
    activation = op.options.get("activation", quant.ACT_NONE)
    kernel = f"cgen_{op.name.lower()}_f32"
    _call(ctx, op, kernel, params, _float_params(ctx, op, activation), *op.inputs[:2])


@lowers_float("LOGISTIC", "TANH", "LEAKY_RELU", "HARD_SWISH")
def elementwise_f32(ctx: LoweringContext, op: Operator) -> None:
    (x,), y = _io(ctx, op)
    if x.size != y.size:
        raise BuildError(f"cgen: {op.name} (operator index {op.index}): input and output differ")
    value = float(op.options["alpha"]) if op.name == "LEAKY_RELU" else 0.0
    kernel = f"cgen_{op.name.lower()}_f32"
    _call(ctx, op, kernel, x.size, _float_params(ctx, op, value=value), op.inputs[0])
