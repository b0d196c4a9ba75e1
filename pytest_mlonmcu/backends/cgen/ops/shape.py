"""Operators that move bytes: RESHAPE, SQUEEZE, EXPAND_DIMS (aliases), PAD, CONCATENATION."""

from __future__ import annotations

import numpy as np

from ....core.errors import BuildError
from .. import quant
from ..cemit import in_ptr, out_ptr
from ..model import Operator, Tensor
from ..params import ConcatParams, PadParams
from .context import AT_LEAST_1D, LoweringContext, lowers


@lowers("RESHAPE", "SQUEEZE", "EXPAND_DIMS", alias=True)
def reshape(ctx: LoweringContext, op: Operator) -> None:
    """No code: the memory plan gives the output the input's bytes."""


@lowers("PAD", "PADV2", inputs=2)
def pad(ctx: LoweringContext, op: Operator) -> None:
    x = ctx.int8_tensor(op, op.inputs[0], "input")
    y = ctx.int8_tensor(op, op.outputs[0], "output")
    pad_value = y.zero_point
    if op.name == "PADV2" and len(op.inputs) > 2 and op.inputs[2] >= 0:
        pad_value = int(
            ctx.const_tensor(op, op.inputs[2], "pad value", ("INT8",)).data.reshape(-1)[0]
        )
    ctx.call_unary(op, "cgen_shape.c", "cgen_pad", pad_params(ctx, op, x, y, pad_value))


def pad_params(
    ctx: LoweringContext, op: Operator, x: Tensor, y: Tensor, pad_value: int
) -> PadParams:
    """The paddings on a 4-D view, checked (float32: pad_value 0, the value elsewhere)."""
    pads = ctx.const_tensor(op, op.inputs[1], "paddings", ("INT32", "INT64")).data.reshape(-1, 2)
    rank = len(x.shape)
    if rank > 4 or pads.shape[0] != rank or np.any(pads < 0):
        raise BuildError(f"cgen: {op.name} (operator index {op.index}): unsupported paddings")
    lead = 4 - rank
    out_dims = [1] * lead + [int(d + p0 + p1) for d, (p0, p1) in zip(x.shape, pads)]
    if int(np.prod(out_dims)) != y.size:
        raise BuildError(f"cgen: {op.name} (operator index {op.index}): bad output shape")
    return PadParams(
        in_dims=[1] * lead + list(x.shape),
        out_dims=out_dims,
        before=[0] * lead + [int(p) for p in pads[:, 0]],
        pad_value=pad_value,
    )


@lowers("CONCATENATION", rank=AT_LEAST_1D, every_input=True, types=frozenset({"int8", "float32"}))
def concatenation(ctx: LoweringContext, op: Operator) -> None:
    """int8 (equal quantization), or float32: bytes copied in chunks either way."""
    is_float = ctx.tensor(op.outputs[0]).dtype == "FLOAT32"
    y = ctx.tensor(op.outputs[0]) if is_float else ctx.int8_tensor(op, op.outputs[0], "output")
    if op.options.get("activation", 0) != quant.ACT_NONE:
        raise BuildError(f"cgen: CONCATENATION (operator index {op.index}) with activation")
    rank = len(y.shape)
    axis = op.options["axis"] % rank
    chunks = []
    for i in op.inputs:
        if is_float:
            x = ctx.float_tensor(op, i, "input")
        else:
            x = ctx.int8_tensor(op, i, "input")
            ctx.require_same_quantization(op, x, y)
        chunks.append(int(np.prod(x.shape[axis:], dtype=np.int64)) * (4 if is_float else 1))
    params = ConcatParams(
        num_inputs=len(op.inputs),
        outer=int(np.prod(y.shape[:axis], dtype=np.int64)),
        chunk=ctx.code.array("chunks", np.asarray(chunks, np.int32)),
    )
    name = ctx.code.struct(params)
    cast = "(const int8_t *)" if is_float else ""
    ins = ", ".join(cast + in_ptr(i) for i in op.inputs)
    out = ("(int8_t *)" if is_float else "") + out_ptr(op.outputs[0])
    ctx.code.call(
        "cgen_shape.c",
        f"{{ const int8_t *const ins[{len(op.inputs)}] = {{{ins}}}; "
        f"cgen_concat(&{name}, ins, {out}); }}",
    )
