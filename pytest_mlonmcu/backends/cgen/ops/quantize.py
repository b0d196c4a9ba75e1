"""QUANTIZE (float32 -> int8 at a model boundary, or int8 -> int8) and DEQUANTIZE."""

from __future__ import annotations

import numpy as np

from ....core.errors import BuildError
from .. import quant
from ..model import Operator
from ..params import QuantParams
from .context import LoweringContext, lowers


@lowers("QUANTIZE", elementwise=True, types=frozenset({"int8", "float32"}))
def quantize(ctx: LoweringContext, op: Operator) -> None:
    x, y = ctx.tensor(op.inputs[0]), ctx.int8_tensor(op, op.outputs[0], "output")
    if x.dtype == "FLOAT32":
        params = QuantParams(
            size=y.size, in_zp=0, out_zp=y.zero_point, mult=0, shift=0, scale=y.scale
        )
        kernel = "cgen_quantize_f32"
    else:
        x = ctx.int8_tensor(op, op.inputs[0], "input")
        m, s = quant.quantize_multiplier(float(x.scale) / float(y.scale))
        params = QuantParams(
            size=y.size,
            in_zp=x.zero_point,
            out_zp=y.zero_point,
            mult=m,
            shift=s,
            scale=np.float32(0),
        )
        kernel = "cgen_requantize"
    ctx.call_unary(op, "cgen_quantize.c", kernel, params)


@lowers("DEQUANTIZE", types=frozenset({"int8", "float32"}))
def dequantize(ctx: LoweringContext, op: Operator) -> None:
    x, y = ctx.int8_tensor(op, op.inputs[0], "input"), ctx.tensor(op.outputs[0])
    if y.dtype != "FLOAT32":
        raise BuildError(f"cgen: DEQUANTIZE (operator index {op.index}) to {y.dtype}")
    params = QuantParams(size=x.size, in_zp=x.zero_point, out_zp=0, mult=0, shift=0, scale=x.scale)
    ctx.call_unary(op, "cgen_quantize.c", "cgen_dequantize", params)
