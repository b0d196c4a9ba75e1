"""FULLY_CONNECTED, lowered as a 1x1 convolution over an image of 1 x batches pixels."""

from __future__ import annotations

import numpy as np

from ....core.errors import BuildError
from .. import quant
from ..model import Operator
from ..params import ConvParams
from .context import LoweringContext, lowers
from .conv import ConvConstants, accumulator_bound, block_weights, emit_conv, optimize


@lowers("FULLY_CONNECTED", inputs=2)
def fully_connected(ctx: LoweringContext, op: Operator) -> None:
    x = ctx.int8_tensor(op, op.inputs[0], "input")
    w = ctx.const_tensor(op, op.inputs[1], "weights", ("INT8",))
    y = ctx.int8_tensor(op, op.outputs[0], "output")
    if op.options.get("weights_format", 0) != 0:
        raise BuildError(f"cgen: FULLY_CONNECTED (operator index {op.index}): shuffled weights")
    if np.any(w.zero_points != 0):
        raise BuildError(
            f"cgen: FULLY_CONNECTED (operator index {op.index}): weight zero point != 0"
        )
    bias = None
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        bias = ctx.const_tensor(op, op.inputs[2], "bias", ("INT32",)).data.astype(np.int64)
    out_c, depth = w.shape[0], w.shape[-1]
    batches = x.size // depth
    if batches * depth != x.size or y.size != batches * out_c:
        raise BuildError(f"cgen: FULLY_CONNECTED (operator index {op.index}): bad shapes")
    per_channel = w.scales.size > 1
    if per_channel:
        mults, shifts = quant.conv_multipliers(x.scale, w.scales, y.scale, out_c)
    else:
        m, s = quant.fc_per_tensor_multiplier(x.scale, w.scale, y.scale)
        mults, shifts = np.array([m], np.int32), np.array([s], np.int32)
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
