"""MEAN, SUM, REDUCE_MAX and REDUCE_MIN over a contiguous block of axes."""

from __future__ import annotations

import numpy as np

from ....core.errors import BuildError
from .. import quant
from ..model import Operator, Tensor
from ..params import MeanParams
from .context import AT_LEAST_1D, LoweringContext, lowers


@lowers("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", inputs=2, rank=AT_LEAST_1D)
def mean(ctx: LoweringContext, op: Operator) -> None:
    x = ctx.int8_tensor(op, op.inputs[0], "input")
    y = ctx.int8_tensor(op, op.outputs[0], "output")
    outer, reduce, inner = reduce_view(ctx, op, x)
    if op.name in ("REDUCE_MAX", "REDUCE_MIN"):  # TFLM compares the stored values
        ctx.require_same_quantization(op, x, y)
        mult, shift = 0, 0
    else:  # SUM: TFLM's MEAN without 1/count in the multiplier
        mult, shift = quant.mean_multiplier(x.scale, y.scale, reduce if op.name == "MEAN" else 0)
    params = MeanParams(
        outer=outer,
        reduce=reduce,
        inner=inner,
        in_zp=x.zero_point,
        out_zp=y.zero_point,
        mult=mult,
        shift=shift,
    )
    kernel = {"REDUCE_MAX": "cgen_reduce_max", "REDUCE_MIN": "cgen_reduce_min"}
    ctx.call_unary(op, "cgen_reduce.c", kernel.get(op.name, "cgen_mean"), params)


def reduce_view(ctx: LoweringContext, op: Operator, x: Tensor) -> tuple[int, int, int]:
    """The input as [outer][reduce][inner]: the reduced axes must be adjacent (size-1 axes
    aside); ``reduce`` is the number of values each output takes."""
    axes_t = ctx.const_tensor(op, op.inputs[1], "axis", ("INT32", "INT64"))
    rank = len(x.shape)
    axes = sorted({int(a) % rank for a in axes_t.data.reshape(-1)})
    big = [d for d in range(rank) if x.shape[d] > 1]
    reduced = [d for d in big if d in axes]
    kept = [d for d in big if d not in axes]
    if reduced and kept and any(reduced[0] < k < reduced[-1] for k in kept):
        raise BuildError(
            f"cgen: {op.name} (operator index {op.index}) over non-adjacent axes is not supported"
        )
    first = reduced[0] if reduced else rank
    return (
        int(np.prod([x.shape[d] for d in kept if d < first], dtype=np.int64)),
        int(np.prod([x.shape[d] for d in reduced], dtype=np.int64)),
        int(np.prod([x.shape[d] for d in kept if d > first], dtype=np.int64)),
    )
