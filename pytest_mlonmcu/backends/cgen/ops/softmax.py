"""SOFTMAX (int8 in, int8 out with scale 1/256 and zero point -128)."""

from __future__ import annotations

import numpy as np

from ....core.errors import BuildError
from .. import quant
from ..model import Operator
from ..params import SoftmaxParams
from .context import AT_LEAST_1D, LoweringContext, lowers


@lowers("SOFTMAX", rank=AT_LEAST_1D)
def softmax(ctx: LoweringContext, op: Operator) -> None:
    x = ctx.int8_tensor(op, op.inputs[0], "input")
    y = ctx.int8_tensor(op, op.outputs[0], "output")
    if y.zero_point != -128 or y.scale != np.float32(1.0 / 256):
        raise BuildError(
            f"cgen: SOFTMAX (operator index {op.index}) needs output scale 1/256, zero point -128"
        )
    mult, left_shift, diff_min = quant.softmax_params(op.options["beta"], x.scale)
    depth = x.shape[-1]
    params = SoftmaxParams(
        outer=x.size // depth,
        depth=depth,
        input_multiplier=mult,
        input_left_shift=left_shift,
        diff_min=diff_min,
    )
    ctx.call_unary(op, "cgen_softmax.c", "cgen_softmax", params)
