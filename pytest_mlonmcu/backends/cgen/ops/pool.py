"""AVERAGE_POOL_2D and MAX_POOL_2D."""

from __future__ import annotations

from ....core.errors import BuildError
from .. import quant
from ..model import Operator, Tensor
from ..params import PoolParams
from .context import LoweringContext, lowers
from .window import compute_out_size, compute_padding


@lowers("AVERAGE_POOL_2D", "MAX_POOL_2D", rank=4)
def pool(ctx: LoweringContext, op: Operator) -> None:
    x = ctx.int8_tensor(op, op.inputs[0], "input")
    y = ctx.int8_tensor(op, op.outputs[0], "output")
    ctx.require_same_quantization(op, x, y)
    act_min, act_max = quant.activation_range(op.options["activation"], y.scale, y.zero_point)
    params = pool_params(op, x, y, act_min, act_max)
    kernel = "cgen_avg_pool" if op.name == "AVERAGE_POOL_2D" else "cgen_max_pool"
    ctx.call_unary(op, "cgen_pool.c", kernel, params)


def pool_params(op: Operator, x: Tensor, y: Tensor, act_min: int, act_max: int) -> PoolParams:
    """The window geometry, checked (float32 pools leave the int8 range at 0)."""
    n, in_h, in_w, ch = x.shape
    _, out_h, out_w, _ = y.shape
    (s_h, s_w), (k_h, k_w) = op.options["stride"], op.options["filter"]
    pad = op.options["padding"]
    if compute_out_size(pad, in_h, k_h, s_h, 1) != out_h:
        raise BuildError(f"cgen: {op.name} (operator index {op.index}): bad output size")
    if compute_out_size(pad, in_w, k_w, s_w, 1) != out_w:
        raise BuildError(f"cgen: {op.name} (operator index {op.index}): bad output size")
    return PoolParams(
        batches=n,
        in_h=in_h,
        in_w=in_w,
        channels=ch,
        out_h=out_h,
        out_w=out_w,
        k_h=k_h,
        k_w=k_w,
        stride_h=s_h,
        stride_w=s_w,
        pad_top=compute_padding(s_h, 1, in_h, k_h, out_h),
        pad_left=compute_padding(s_w, 1, in_w, k_w, out_w),
        act_min=act_min,
        act_max=act_max,
    )
