"""FULLY_CONNECTED: int8, lowered as a 1x1 convolution over an image of 1 x batches pixels;
int16 activations with int8 weights (TFLM's 16x8 kernel) in cgen_fc16.c."""

from __future__ import annotations

import numpy as np

from ....core.errors import BuildError
from .. import quant
from ..model import Operator, Tensor
from ..params import NULL, ConvParams, FcInt16Params
from .context import LoweringContext, lowers
from .conv import ConvConstants, accumulator_bound, block_weights, emit_conv, optimize

_SCHEMA_INT32 = 2  # TensorType INT32 in TFLite's schema (FullyConnectedOptions.quantized_bias_type)


@lowers("FULLY_CONNECTED", inputs=2, types=frozenset({"int8", "int16"}))
def fully_connected(ctx: LoweringContext, op: Operator) -> None:
    if ctx.tensor(op.inputs[0]).dtype == "INT16":
        fully_connected_int16(ctx, op)
        return
    x = ctx.int8_tensor(op, op.inputs[0], "input")
    w = ctx.const_tensor(op, op.inputs[1], "weights", ("INT8",))
    y = ctx.int8_tensor(op, op.outputs[0], "output")
    bias_tensor = _bias(ctx, op, ("INT32",))
    bias = bias_tensor.data.astype(np.int64) if bias_tensor else None
    out_c, depth, batches, per_channel, mults, shifts = _layout(op, x, w, y)
    act_min, act_max = quant.activation_range(op.options["activation"], y.scale, y.zero_point)
    rows = w.data.reshape(out_c, depth).astype(np.int64)
    constants = ConvConstants(w, bias, rows, mults, shifts)
    params = ConvParams(
        batches=1,
        in_h=1,
        in_w=batches,
        in_c=depth,
        out_h=1,
        out_w=batches,
        out_c=out_c,
        k_h=1,
        k_w=1,
        stride_h=1,
        stride_w=1,
        dil_h=1,
        dil_w=1,
        pad_top=0,
        pad_left=0,
        depth_multiplier=1,
        in_zp=x.zero_point,
        out_zp=y.zero_point,
        act_min=act_min,
        act_max=act_max,
        quant_stride=int(per_channel),
    )
    if not ctx.optimized:
        accumulator_bound(op, bias, rows, x.zero_point)
        # The reference kernel walks the batches itself.
        params.batches, params.in_w, params.out_w = batches, 1, 1
        emit_conv(ctx, op, params, constants, "cgen_fc_ref", "cgen_ref.c", w.data, bias)
        return
    folded = optimize(op, params, constants)
    emit_conv(
        ctx, op, params, constants, "cgen_conv_opt", "cgen_conv.c", block_weights(rows), folded
    )


def fully_connected_int16(ctx: LoweringContext, op: Operator) -> None:
    """TFLM's 16x8 FULLY_CONNECTED: symmetric int16 activations, int8 weights, an int64 bias
    (int64 accumulation) or an int32 one (int32 accumulation, as TFLM chooses)."""
    where = f"cgen: FULLY_CONNECTED (operator index {op.index})"
    x = ctx.int8_tensor(op, op.inputs[0], "input", "INT16")
    w = ctx.const_tensor(op, op.inputs[1], "weights", ("INT8",))
    y = ctx.int8_tensor(op, op.outputs[0], "output", "INT16")
    if x.zero_point != 0 or y.zero_point != 0:
        raise BuildError(f"{where}: int16 activations need zero point 0 (symmetric)")
    bias = _bias(ctx, op, ("INT32", "INT64"))
    wide = bias.dtype == "INT64" if bias else op.options.get("quantized_bias_type") != _SCHEMA_INT32
    out_c, depth, batches, per_channel, mults, shifts = _layout(op, x, w, y)
    act_min, act_max = quant.activation_range(op.options["activation"], y.scale, 0, bits=16)
    code = ctx.code
    params = FcInt16Params(
        batches=batches,
        in_c=depth,
        out_c=out_c,
        act_min=act_min,
        act_max=act_max,
        quant_stride=int(per_channel),
        wide=int(wide),
        weights=code.array("weights", w.data.astype(np.int8)),
        bias32=code.array("bias", bias.data) if bias and bias.dtype == "INT32" else NULL,
        bias64=code.array("bias", bias.data) if bias and bias.dtype == "INT64" else NULL,
        mult=code.array("mult", mults.astype(np.int32)),
        shift=code.array("shift", shifts.astype(np.int8)),
    )
    ctx.call_unary(op, "cgen_fc16.c", "cgen_fc_int16", params)


def _bias(ctx: LoweringContext, op: Operator, dtypes: tuple[str, ...]) -> Tensor | None:
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        return ctx.const_tensor(op, op.inputs[2], "bias", dtypes)
    return None


def _layout(op: Operator, x: Tensor, w: Tensor, y: Tensor):
    """(out_c, depth, batches, per_channel, multipliers, shifts), the weights checked."""
    where = f"cgen: FULLY_CONNECTED (operator index {op.index})"
    if op.options.get("weights_format", 0) != 0:
        raise BuildError(f"{where}: shuffled weights")
    if np.any(w.zero_points != 0):
        raise BuildError(f"{where}: weight zero point != 0")
    out_c, depth = w.shape[0], w.shape[-1]
    batches = x.size // depth
    if batches * depth != x.size or y.size != batches * out_c:
        raise BuildError(f"{where}: bad shapes")
    per_channel = w.scales.size > 1
    if per_channel:
        mults, shifts = quant.conv_multipliers(x.scale, w.scales, y.scale, out_c)
    else:
        m, s = quant.fc_per_tensor_multiplier(x.scale, w.scale, y.scale)
        mults, shifts = np.array([m], np.int32), np.array([s], np.int32)
    return out_c, depth, batches, per_channel, mults, shifts
