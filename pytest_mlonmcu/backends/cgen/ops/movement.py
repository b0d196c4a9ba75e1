"""Operators that copy input elements to new places, as per-dimension offset tables for one
kernel (cgen_gather): TRANSPOSE, SLICE, STRIDED_SLICE, SPLIT, SPLIT_V, UNPACK,
RESIZE_NEAREST_NEIGHBOR and GATHER (constant indices; run-time ones: cgen_gather_indices). TFLM moves the int8 values unchanged: input and output
quantization must be equal (the converter makes them so).

Output element (i0, ..., in) is input element tables[0][i0] + ... + tables[n][in], where
tables[d] lists the input element offset of each index of output dimension d.
"""

from __future__ import annotations

import numpy as np

from ....core.errors import BuildError
from .. import quant
from ..cemit import in_ptr, out_ptr
from ..model import Operator, Tensor
from ..params import MAX_DIMS, GatherIndicesParams, GatherParams
from .context import LoweringContext, lowers

# int8, or float32 between a DEQUANTIZE and a QUANTIZE (values moved, not computed).
MOVED_TYPES = frozenset({"int8", "float32"})
MOVEMENT_OPS = (
    *("TRANSPOSE", "SLICE", "STRIDED_SLICE", "SPLIT", "SPLIT_V", "UNPACK"),
    "RESIZE_NEAREST_NEIGHBOR",
)


def _strides(shape: tuple[int, ...]) -> list[int]:
    strides, acc = [], 1
    for dim in reversed(shape):
        strides.append(acc)
        acc *= dim
    return strides[::-1]


def _where(op: Operator) -> str:
    return f"cgen: {op.name} (operator index {op.index})"


def _moved(ctx: LoweringContext, op: Operator, index: int, role: str) -> Tensor:
    """A tensor these operators move: int8, or float32 (where the converter left a stretch
    of the model in float between DEQUANTIZE and QUANTIZE)."""
    tensor = ctx.tensor(index)
    if tensor.dtype == "FLOAT32":
        return tensor
    return ctx.int8_tensor(op, index, role)


def _emit(ctx: LoweringContext, op: Operator, x: Tensor, out: int, tables: list[list[int]]):
    """Output ``out`` = x's elements at the tables' offsets (one table per output dim)."""
    y = _moved(ctx, op, out, "output")
    if x.dtype != y.dtype:
        raise BuildError(f"{_where(op)}: input {x.dtype}, output {y.dtype}")
    if x.dtype == "INT8":
        ctx.require_same_quantization(op, x, y)
    if int(np.prod([len(t) for t in tables], dtype=np.int64)) != y.size:
        raise BuildError(
            f"{_where(op)}: the output has {y.size} elements, the operator gives more or fewer"
        )
    # A dimension of one index adds a constant: folded into the first table that remains.
    constant = sum(t[0] for t in tables if len(t) == 1)
    kept = [t for t in tables if len(t) > 1] or [[0]]
    kept[0] = [v + constant for v in kept[0]]
    if len(kept) > MAX_DIMS:
        raise BuildError(f"{_where(op)}: more than {MAX_DIMS} dimensions move independently")
    starts, flat = [], []
    for table in kept:
        starts.append(len(flat))
        flat.extend(table)
    inner = kept[-1]
    contiguous = len(inner) > 1 and all(b - a == 1 for a, b in zip(inner, inner[1:]))
    pad = [0] * (MAX_DIMS - len(kept))
    params = GatherParams(
        ndim=len(kept),
        out_dims=[len(t) for t in kept] + pad,
        start=starts + pad,
        offsets=ctx.code.array("offsets", np.asarray(flat, dtype=np.int32)),
        inner_run=len(inner) if contiguous else 1,
        elem_bytes=4 if x.dtype == "FLOAT32" else 1,
    )
    name = ctx.code.struct(params)
    ctx.code.call("cgen_gather.c", f"cgen_gather(&{name}, {in_ptr(x.index)}, {out_ptr(out)});")


def _const_ints(ctx: LoweringContext, op: Operator, index: int, role: str) -> list[int]:
    return [int(v) for v in ctx.const_tensor(op, index, role, ("INT32", "INT64")).data.reshape(-1)]


@lowers("TRANSPOSE", inputs=2, types=MOVED_TYPES)
def transpose(ctx: LoweringContext, op: Operator) -> None:
    x = _moved(ctx, op, op.inputs[0], "input")
    perm = _const_ints(ctx, op, op.inputs[1], "permutation")
    if sorted(perm) != list(range(len(x.shape))):
        raise BuildError(f"{_where(op)}: permutation {perm} of a rank-{len(x.shape)} tensor")
    strides = _strides(x.shape)
    tables = [[i * strides[p] for i in range(x.shape[p])] for p in perm]
    _emit(ctx, op, x, op.outputs[0], tables)


def _slice_tables(x: Tensor, ranges: list[range]) -> list[list[int]]:
    strides = _strides(x.shape)
    return [[i * s for i in r] for r, s in zip(ranges, strides)]


@lowers("SLICE", inputs=3, types=MOVED_TYPES)
def slice_(ctx: LoweringContext, op: Operator) -> None:
    x = _moved(ctx, op, op.inputs[0], "input")
    begin = _const_ints(ctx, op, op.inputs[1], "begin")
    size = _const_ints(ctx, op, op.inputs[2], "size")
    if len(begin) != len(x.shape) or len(size) != len(x.shape):
        raise BuildError(f"{_where(op)}: begin/size need one entry per input dimension")
    ranges = []
    for b, n, dim in zip(begin, size, x.shape):
        end = dim if n == -1 else b + n
        if not 0 <= b <= end <= dim:
            raise BuildError(f"{_where(op)}: slice [{b}, {end}) outside a dimension of {dim}")
        ranges.append(range(b, end))
    _emit(ctx, op, x, op.outputs[0], _slice_tables(x, ranges))


def _clamp(v: int, lo: int, hi: int) -> int:
    return max(lo, min(hi, v))


def strided_range(o: dict, axis: int, dim: int, begin: int, end: int, stride: int) -> range:
    """One axis of TFLM's strided slice (StridedSliceStartForAxis / EndForAxis)."""
    start = begin + dim if begin < 0 else begin
    start = _clamp(start, 0, dim) if stride > 0 else _clamp(start, -1, dim - 1)
    if o["begin_mask"] & (1 << axis):
        start = 0 if stride > 0 else dim - 1
    if o["shrink_axis_mask"] & (1 << axis):
        return range(start, start if start >= dim else start + 1)
    stop = end + start if o["offset"] else end
    stop = stop + dim if stop < 0 else stop
    stop = _clamp(stop, 0, dim) if stride > 0 else _clamp(stop, -1, dim - 1)
    if o["end_mask"] & (1 << axis):
        stop = dim if stride > 0 else -1
    return range(start, stop, stride)


@lowers("STRIDED_SLICE", inputs=4, types=MOVED_TYPES)
def strided_slice(ctx: LoweringContext, op: Operator) -> None:
    x = _moved(ctx, op, op.inputs[0], "input")
    begin, end, steps = (
        _const_ints(ctx, op, op.inputs[k], role)
        for k, role in ((1, "begin"), (2, "end"), (3, "strides"))
    )
    rank = len(x.shape)
    if not len(begin) == len(end) == len(steps) == rank:
        raise BuildError(f"{_where(op)}: begin, end and strides need {rank} entries each")
    if 0 in steps:
        raise BuildError(f"{_where(op)}: a stride of 0")
    o = op.options
    if o["ellipsis_mask"] or o["new_axis_mask"]:  # TFLM ignores both: refuse rather than guess
        raise BuildError(f"{_where(op)}: ellipsis_mask and new_axis_mask are not supported")
    ranges = [strided_range(o, d, x.shape[d], begin[d], end[d], steps[d]) for d in range(rank)]
    _emit(ctx, op, x, op.outputs[0], _slice_tables(x, ranges))


def _split(ctx: LoweringContext, op: Operator, x: Tensor, axis: int, sizes: list[int]) -> None:
    rank = len(x.shape)
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis < rank or sum(sizes) != x.shape[axis] or len(sizes) != len(op.outputs):
        raise BuildError(f"{_where(op)}: sizes {sizes} do not split axis {axis} of {x.shape}")
    start = 0
    for out, size in zip(op.outputs, sizes):
        ranges = [range(d) for d in x.shape]
        ranges[axis] = range(start, start + size)
        _emit(ctx, op, x, out, _slice_tables(x, ranges))
        start += size


@lowers("SPLIT", inputs=2, types=MOVED_TYPES)
def split(ctx: LoweringContext, op: Operator) -> None:
    (axis,) = _const_ints(ctx, op, op.inputs[0], "axis")
    x = _moved(ctx, op, op.inputs[1], "input")
    n = op.options["num_splits"] or len(op.outputs)
    rank_axis = axis + len(x.shape) if axis < 0 else axis
    dim = x.shape[rank_axis] if 0 <= rank_axis < len(x.shape) else 0
    if n < 1 or dim % n:
        raise BuildError(f"{_where(op)}: axis of {dim} cannot be split {n} ways")
    _split(ctx, op, x, axis, [dim // n] * n)


@lowers("SPLIT_V", inputs=3, types=MOVED_TYPES)
def split_v(ctx: LoweringContext, op: Operator) -> None:
    x = _moved(ctx, op, op.inputs[0], "input")
    sizes = _const_ints(ctx, op, op.inputs[1], "size_splits")
    (axis,) = _const_ints(ctx, op, op.inputs[2], "axis")
    rank_axis = axis + len(x.shape) if axis < 0 else axis
    if -1 in sizes and 0 <= rank_axis < len(x.shape):  # one size may be inferred
        sizes[sizes.index(-1)] = x.shape[rank_axis] - (sum(sizes) + 1)
    _split(ctx, op, x, axis, sizes)


def nearest(out: int, in_size: int, out_size: int, align: bool, half: bool) -> int:
    """TFLM's GetNearestNeighbor, in float32 as it computes."""
    f32 = np.float32
    if align and out_size > 1:
        scale = f32(in_size - 1) / f32(out_size - 1)
    else:
        scale = f32(in_size) / f32(out_size)
    value = (f32(out) + f32(0.5 if half else 0.0)) * scale
    index = quant.round_half_away(float(value)) if align else int(np.floor(value))
    index = min(index, in_size - 1)
    return max(0, index) if half else index


@lowers("RESIZE_NEAREST_NEIGHBOR", inputs=2, rank=4, types=MOVED_TYPES)
def resize_nearest(ctx: LoweringContext, op: Operator) -> None:
    x = _moved(ctx, op, op.inputs[0], "input")
    y = _moved(ctx, op, op.outputs[0], "output")
    height, width = _const_ints(ctx, op, op.inputs[1], "size")
    if (height, width) != (y.shape[1], y.shape[2]):
        raise BuildError(f"{_where(op)}: size ({height}, {width}) and output {y.shape} differ")
    align = op.options["align_corners"]
    half = op.options["half_pixel_centers"]
    strides = _strides(x.shape)
    rows = [nearest(i, x.shape[1], height, align, half) * strides[1] for i in range(height)]
    cols = [nearest(i, x.shape[2], width, align, half) * strides[2] for i in range(width)]
    batch = [b * strides[0] for b in range(x.shape[0])]
    channels = list(range(x.shape[3]))
    _emit(ctx, op, x, op.outputs[0], [batch, rows, cols, channels])


@lowers("UNPACK", types=MOVED_TYPES)
def unpack(ctx: LoweringContext, op: Operator) -> None:
    x = _moved(ctx, op, op.inputs[0], "input")
    rank = len(x.shape)
    axis = op.options["axis"] + rank if op.options["axis"] < 0 else op.options["axis"]
    if not 0 <= axis < rank or x.shape[axis] != len(op.outputs):
        raise BuildError(f"{_where(op)}: {len(op.outputs)} outputs from axis {axis} of {x.shape}")
    for k, out in enumerate(op.outputs):  # output k: index k of the axis, the axis dropped
        ranges = [range(d) for d in x.shape]
        ranges[axis] = range(k, k + 1)
        _emit(ctx, op, x, out, _slice_tables(x, ranges))


@lowers("GATHER", inputs=2, types=MOVED_TYPES | {"int32"})  # int32: the indices
def gather(ctx: LoweringContext, op: Operator) -> None:
    """Constant indices: an offset table; indices read at run time (an embedding lookup):
    cgen_gather_indices, which fails the invoke on an index outside the axis, as TFLM."""
    x = _moved(ctx, op, op.inputs[0], "params")
    indices = ctx.tensor(op.inputs[1])
    rank = len(x.shape)
    axis = op.options["axis"] + rank if op.options["axis"] < 0 else op.options["axis"]
    if op.options["batch_dims"] or not 0 <= axis < rank:
        raise BuildError(f"{_where(op)}: axis {axis}, batch_dims {op.options['batch_dims']}")
    strides = _strides(x.shape)
    if indices.is_const:
        values = [int(v) for v in indices.data.reshape(-1)]
        if any(not 0 <= v < x.shape[axis] for v in values):
            raise BuildError(f"{_where(op)}: an index outside axis {axis} of {x.shape}")
        tables = [[i * strides[d] for i in range(x.shape[d])] for d in range(axis)]
        tables.append([v * strides[axis] for v in values])  # the indices' dims, flattened
        tables += [[i * strides[d] for i in range(x.shape[d])] for d in range(axis + 1, rank)]
        _emit(ctx, op, x, op.outputs[0], tables)
        return
    if indices.dtype != "INT32":
        raise BuildError(f"{_where(op)}: indices of type {indices.dtype} (int32 only)")
    y = _moved(ctx, op, op.outputs[0], "output")
    if x.dtype != y.dtype:
        raise BuildError(f"{_where(op)}: params {x.dtype}, output {y.dtype}")
    if x.dtype == "INT8":
        ctx.require_same_quantization(op, x, y)
    item = 4 if x.dtype == "FLOAT32" else 1
    params = GatherIndicesParams(
        outer=int(np.prod(x.shape[:axis], dtype=np.int64)),
        axis_size=x.shape[axis],
        inner=int(np.prod(x.shape[axis + 1 :], dtype=np.int64)) * item,
        count=indices.size,
    )
    name = ctx.code.struct(params)
    cast = ("(const int8_t *)", "(int8_t *)") if item == 4 else ("", "")
    data, out = cast[0] + in_ptr(op.inputs[0]), cast[1] + out_ptr(op.outputs[0])
    args = f"&{name}, {data}, {in_ptr(op.inputs[1])}, {out}"
    ctx.code.call("cgen_gather.c", f"if (cgen_gather_indices({args}) != 0) return 1;")
