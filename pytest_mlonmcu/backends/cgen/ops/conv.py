"""CONV_2D and DEPTHWISE_CONV_2D; the convolution emission FULLY_CONNECTED shares.

Every constant the kernels need (multipliers, shifts, folded biases, reordered weights,
padding, interior regions) is computed here with the same arithmetic as TFLite Micro's
Prepare functions (see quant.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ....core.errors import BuildError
from .. import quant
from ..model import Operator, Tensor
from ..params import NULL, ConvParams
from .context import LoweringContext, lowers
from .window import compute_out_size, compute_padding, interior_range

DW_MAX_CLASSES = 8  # as in cgen_depthwise3x3.c


@dataclass
class ConvConstants:
    """A convolution's constants before they become ROM arrays."""

    filter: Tensor  # in TFLite's layout
    bias: np.ndarray | None  # int64 per output channel; None without a bias input
    rows: np.ndarray  # int64 weights per output channel: [out_c][taps]
    mults: np.ndarray  # int32 per output channel (one for all when not per channel)
    shifts: np.ndarray


def conv_geometry(op: Operator, x: Tensor, w: Tensor, y: Tensor, depthwise: bool) -> dict:
    """The ConvParams fields of the window (shapes, strides, dilations, padding), checked."""
    if len(x.shape) != 4 or len(w.shape) != 4 or len(y.shape) != 4:
        raise BuildError(f"cgen: {op.name} (operator index {op.index}) needs 4-D tensors")
    n, in_h, in_w, in_c = x.shape
    _, out_h, out_w, out_c = y.shape
    k_h, k_w = w.shape[1], w.shape[2]
    (s_h, s_w), (d_h, d_w) = op.options["stride"], op.options["dilation"]
    pad = op.options["padding"]
    for size, k, s, d, got in ((in_h, k_h, s_h, d_h, out_h), (in_w, k_w, s_w, d_w, out_w)):
        if compute_out_size(pad, size, k, s, d) != got:
            raise BuildError(f"cgen: {op.name} (operator index {op.index}): bad output size")
    if depthwise:
        if w.shape[0] != 1 or w.shape[3] != out_c or out_c % in_c:
            raise BuildError(f"cgen: {op.name} (operator index {op.index}): bad filter shape")
        depth_multiplier = out_c // in_c
    else:
        if w.shape[0] != out_c or w.shape[3] != in_c:
            raise BuildError(
                f"cgen: {op.name} (operator index {op.index}): grouped convolutions "
                "are not supported"
            )
        depth_multiplier = 1
    return dict(
        batches=n,
        in_h=in_h,
        in_w=in_w,
        in_c=in_c,
        out_h=out_h,
        out_w=out_w,
        out_c=out_c,
        k_h=k_h,
        k_w=k_w,
        stride_h=s_h,
        stride_w=s_w,
        dil_h=d_h,
        dil_w=d_w,
        pad_top=compute_padding(s_h, d_h, in_h, k_h, out_h),
        pad_left=compute_padding(s_w, d_w, in_w, k_w, out_w),
        depth_multiplier=depth_multiplier,
    )


def _conv_operands(
    ctx: LoweringContext, op: Operator, depthwise: bool
) -> tuple[ConvParams, ConvConstants]:
    x = ctx.int8_tensor(op, op.inputs[0], "input")
    w = ctx.const_tensor(op, op.inputs[1], "filter", ("INT8",))
    y = ctx.int8_tensor(op, op.outputs[0], "output")
    bias = None
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        bias = ctx.const_tensor(op, op.inputs[2], "bias", ("INT32",)).data.astype(np.int64)
    geometry = conv_geometry(op, x, w, y, depthwise)
    out_c, k_h, k_w = geometry["out_c"], geometry["k_h"], geometry["k_w"]
    mults, shifts = quant.conv_multipliers(x.scale, w.scales, y.scale, out_c)
    act_min, act_max = quant.activation_range(op.options["activation"], y.scale, y.zero_point)
    # weights per output channel as rows: [out_c][taps]
    if depthwise:
        rows = w.data.reshape(k_h * k_w, out_c).T.astype(np.int64)
    else:
        rows = w.data.reshape(out_c, -1).astype(np.int64)
    params = ConvParams(
        **geometry,
        in_zp=x.zero_point,
        out_zp=y.zero_point,
        act_min=act_min,
        act_max=act_max,
        quant_stride=1,
    )
    return params, ConvConstants(w, bias, rows, mults, shifts)


def accumulator_bound(op: Operator, bias, rows: np.ndarray, in_zp: int) -> int:
    """Largest |int32| any partial sum can reach, in the reference or folded order."""
    abs_sum = np.abs(rows).sum(axis=1)
    b = np.abs(bias) if bias is not None else np.zeros(rows.shape[0], np.int64)
    bound = int((b + (2 * abs(in_zp) + 128) * abs_sum).max(initial=0))
    if bound > quant.INT32_MAX:
        raise BuildError(
            f"cgen: {op.name} (operator index {op.index}): the int32 accumulator may overflow"
        )
    return bound


def emit_conv(
    ctx: LoweringContext,
    op: Operator,
    params: ConvParams,
    constants: ConvConstants,
    kernel: str,
    kernel_file: str,
    weights: np.ndarray,
    bias: np.ndarray | None,
) -> None:
    code = ctx.code
    params.weights = code.array("weights", np.asarray(weights, np.int8))
    params.bias = code.array("bias", np.asarray(bias, np.int32)) if bias is not None else NULL
    params.mult = code.array("mult", constants.mults)
    params.shift = code.array("shift", constants.shifts.astype(np.int8))
    ctx.call_unary(op, kernel_file, kernel, params)


def optimize(op: Operator, params: ConvParams, constants: ConvConstants) -> np.ndarray:
    """Interior region, pairing direction, fast requantization; returns the folded bias."""
    p = params
    bound = accumulator_bound(op, constants.bias, constants.rows, p.in_zp)
    p.y_lo, p.y_hi = interior_range(p.out_h, p.stride_h, p.pad_top, p.k_h, p.dil_h, p.in_h)
    p.x_lo, p.x_hi = interior_range(p.out_w, p.stride_w, p.pad_left, p.k_w, p.dil_w, p.in_w)
    rows, cols = p.y_hi - p.y_lo, p.x_hi - p.x_lo
    p.pair_vertical = int(cols * (rows // 2) > rows * (cols // 2))
    # The fast requantization (cgen_mbqm_fast, and the depthwise kernel that also
    # adds out_zp * 2^r before shifting) must not overflow int32: |acc| < 2^30,
    # 1 <= r <= 22 gives |x| + 2^(r-1) + 128 * 2^r < 2^31.
    shifts = constants.shifts
    p.requant_fast = int(bool(np.all((shifts <= -1) & (shifts >= -22))) and bound < (1 << 30))
    bias = constants.bias if constants.bias is not None else np.zeros(p.out_c, np.int64)
    return bias - p.in_zp * constants.rows.sum(axis=1)


def block_weights(rows: np.ndarray) -> np.ndarray:
    """[out_c][k] -> blocks of 8 channels interleaved per k ([k][8]), then the rest by row.

    The layout cgen_conv.c expects.
    """
    out_c, k = rows.shape
    full = out_c // 8 * 8
    blocks = rows[:full].reshape(-1, 8, k).transpose(0, 2, 1).reshape(-1)
    return np.concatenate([blocks, rows[full:].reshape(-1)]).astype(np.int8)


def _shift_classes(out_size: int, stride: int, pad: int, in_size: int) -> int:
    """Number of distinct 3x3 block shifts along one axis (dw_classes in C)."""
    shifts = []
    for o in range(out_size):
        origin = o * stride - pad
        shift = min(max(origin, 0), in_size - 3) - origin
        if not shifts or shifts[-1] != shift:
            shifts.append(shift)
    return len(shifts)


def _dw3x3_applies(p: ConvParams) -> bool:
    """Whether cgen_depthwise3x3.c's preconditions hold for these parameters."""
    return (
        p.k_h == 3
        and p.k_w == 3
        and p.dil_h == 1
        and p.dil_w == 1
        and p.in_h >= 3
        and p.in_w >= 3
        and p.depth_multiplier == 1
        and bool(p.requant_fast)
        and _shift_classes(p.out_h, p.stride_h, p.pad_top, p.in_h) <= DW_MAX_CLASSES
        and _shift_classes(p.out_w, p.stride_w, p.pad_left, p.in_w) <= DW_MAX_CLASSES
    )


@lowers("CONV_2D", inputs=2, rank=4)
def conv2d(ctx: LoweringContext, op: Operator) -> None:
    params, constants = _conv_operands(ctx, op, depthwise=False)
    if not ctx.optimized:
        accumulator_bound(op, constants.bias, constants.rows, params.in_zp)
        weights = constants.filter.data
        emit_conv(
            ctx, op, params, constants, "cgen_conv_ref", "cgen_ref.c", weights, constants.bias
        )
        return
    folded = optimize(op, params, constants)
    weights = block_weights(constants.rows)
    emit_conv(ctx, op, params, constants, "cgen_conv_opt", "cgen_conv.c", weights, folded)


@lowers("DEPTHWISE_CONV_2D", inputs=2, rank=4)
def depthwise_conv2d(ctx: LoweringContext, op: Operator) -> None:
    params, constants = _conv_operands(ctx, op, depthwise=True)
    weights = constants.filter.data
    if not ctx.optimized or params.depth_multiplier != 1:
        accumulator_bound(op, constants.bias, constants.rows, params.in_zp)
        kernel = "cgen_depthwise_ref"
        emit_conv(ctx, op, params, constants, kernel, "cgen_ref.c", weights, constants.bias)
        return
    folded = optimize(op, params, constants)
    if _dw3x3_applies(params):
        kernel, kernel_file = "cgen_depthwise_3x3", "cgen_depthwise3x3.c"
    else:
        kernel, kernel_file = "cgen_depthwise_opt", "cgen_depthwise.c"
    emit_conv(ctx, op, params, constants, kernel, kernel_file, weights, folded)
