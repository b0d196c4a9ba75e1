"""LOGISTIC and TANH (int8 -> int8), as TFLM's fixed-point implementations."""

from __future__ import annotations

from ....core.errors import BuildError
from .. import quant
from ..model import Operator
from ..params import ActivationParams
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
