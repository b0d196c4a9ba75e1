"""LOGISTIC and TANH (int8 -> int8), as TFLM's fixed-point implementations; LEAKY_RELU,
HARD_SWISH, and RSQRT as a table of TFLM's 256 results."""

from __future__ import annotations

import numpy as np

from ....core.errors import BuildError
from .. import quant
from ..cemit import in_ptr, out_ptr
from ..model import Operator
from ..params import ActivationParams, HardSwishParams, LeakyReluParams, LutParams
from .context import LoweringContext, lowers


@lowers("LOGISTIC", "TANH", elementwise=True)
def activation(ctx: LoweringContext, op: Operator) -> None:
    x = ctx.int8_tensor(op, op.inputs[0], "input")
    y = ctx.int8_tensor(op, op.outputs[0], "output")
    if op.name == "LOGISTIC" and y.zero_point != -128:
        raise BuildError(f"cgen: LOGISTIC (operator index {op.index}) needs output zero point -128")
    input_integer_bits = 4
    mult, left_shift = quant.frexp_multiplier(float(x.scale) * (1 << (31 - input_integer_bits)))
    if left_shift < 0:
        raise BuildError(f"cgen: {op.name} (operator index {op.index}): input scale too small")
    params = ActivationParams(
        size=x.size,
        in_zp=x.zero_point,
        range_radius=quant.calculate_input_radius(input_integer_bits, left_shift),
        input_multiplier=mult,
        input_left_shift=left_shift,
    )
    kernel = "cgen_logistic" if op.name == "LOGISTIC" else "cgen_tanh"
    ctx.call_unary(op, "cgen_activation.c", kernel, params)


@lowers("LEAKY_RELU", elementwise=True)
def leaky_relu(ctx: LoweringContext, op: Operator) -> None:
    x = ctx.int8_tensor(op, op.inputs[0], "input")
    y = ctx.int8_tensor(op, op.outputs[0], "output")
    alpha = np.float32(op.options["alpha"])
    if alpha < 0:
        raise BuildError(f"cgen: LEAKY_RELU (operator index {op.index}) with alpha {alpha} < 0")
    # TFLM computes both real multipliers in float32, then QuantizeMultiplier in double.
    alpha_mult, alpha_shift = quant.quantize_multiplier(float(x.scale * alpha / y.scale))
    identity_mult, identity_shift = quant.quantize_multiplier(float(x.scale / y.scale))
    params = LeakyReluParams(
        size=x.size,
        in_zp=x.zero_point,
        out_zp=y.zero_point,
        identity_mult=identity_mult,
        identity_shift=identity_shift,
        alpha_mult=alpha_mult,
        alpha_shift=alpha_shift,
    )
    ctx.call_unary(op, "cgen_activation.c", "cgen_leaky_relu", params)


@lowers("HARD_SWISH", elementwise=True)
def hard_swish(ctx: LoweringContext, op: Operator) -> None:
    x = ctx.int8_tensor(op, op.inputs[0], "input")
    y = ctx.int8_tensor(op, op.outputs[0], "output")
    try:
        out_mult, out_exp, reluish_mult, reluish_exp = quant.hard_swish_multipliers(
            x.scale, y.scale
        )
    except BuildError as exc:
        raise BuildError(f"cgen: {exc} (operator index {op.index})") from None
    params = HardSwishParams(
        size=x.size,
        in_zp=x.zero_point,
        out_zp=y.zero_point,
        out_mult=out_mult,
        out_exp=out_exp,
        reluish_mult=reluish_mult,
        reluish_exp=reluish_exp,
    )
    ctx.call_unary(op, "cgen_activation.c", "cgen_hard_swish", params)


@lowers("RSQRT", elementwise=True)
def rsqrt(ctx: LoweringContext, op: Operator) -> None:
    x = ctx.int8_tensor(op, op.inputs[0], "input")
    y = ctx.int8_tensor(op, op.outputs[0], "output")
    table = quant.rsqrt_table(x.scale, x.zero_point, y.scale, y.zero_point)
    values = np.array([-32768 if v is None else v for v in table], dtype=np.int16)
    params = LutParams(size=x.size, table=ctx.code.array("rsqrt", values))
    name = ctx.code.struct(params)
    args = f"&{name}, {in_ptr(op.inputs[0])}, {out_ptr(op.outputs[0])}"
    ctx.code.call("cgen_activation.c", f"if (cgen_lut({args}) != 0) return 1;")
