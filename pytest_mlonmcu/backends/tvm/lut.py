"""int8 HARD_SWISH, RSQRT and PRELU as lookup tables of TFLM's results.

TVM's importer computes these in float between dequantize and quantize (HARD_SWISH 1 LSB
off at times; RSQRT matched only by chance) and refuses quantized PRELU. An int8 input has
256 values, so the import instead emits ``take(table, x + 128)`` with the table TFLM's own
integer arithmetic gives (replayed in Python: cgen's quant.py, which cgen's kernels and
the TFLM wheel are tested against). PRELU's slopes are constant int8 values too: one table
row per distinct slope, each element indexing its row.
"""

from __future__ import annotations

import numpy as np
from tvm import relax

from ..cgen import quant as tflm_arith

_INT8 = 9  # tflite.TensorType.INT8


def quantization(tensor) -> tuple[np.float32, int]:
    q = tensor.tensor.Quantization()
    return np.float32(q.Scale(0)), int(q.ZeroPoint(0))


def lookup(converter, name: str, fallback, op) -> relax.Expr:
    """``take(table, x + 128)`` for an int8 HARD_SWISH, RSQRT or PRELU (constant slopes);
    ``fallback(op)`` (TVM's converter) for any other form."""
    inputs = converter.get_input_tensors(op)
    (y,) = converter.get_output_tensors(op)
    x = inputs[0]
    if x.tensor.Type() != _INT8 or y.tensor.Type() != _INT8 or not x.qnn_params:
        return fallback(op)
    x_scale, x_zp = quantization(x)
    y_scale, y_zp = quantization(y)
    index = relax.op.add(
        relax.op.astype(converter.get_expr(x.tensor_idx), "int32"), relax.const(128, "int32")
    )
    if name == "HARD_SWISH":
        table = tflm_arith.hard_swish_table(x_scale, x_zp, y_scale, y_zp)
    elif name == "RSQRT":  # TFLM fails the invoke on a negative input; the table gives 0
        rows = tflm_arith.rsqrt_table(x_scale, x_zp, y_scale, y_zp)
        table = [0 if v is None else v for v in rows]
    else:  # PRELU
        alpha = inputs[1]
        if alpha.buffer.DataLength() == 0 or alpha.tensor.Type() != _INT8:  # not constant
            return fallback(op)
        slopes = np.asarray(converter.get_tensor_value(alpha), dtype=np.int64)
        a_scale, a_zp = quantization(alpha)
        distinct, row_of = np.unique(slopes, return_inverse=True)
        table = []
        for slope in distinct:
            table += tflm_arith.prelu_table(x_scale, x_zp, int(slope), a_scale, a_zp, y_scale, y_zp)
        offsets = (row_of.reshape(slopes.shape) * 256).astype(np.int32)
        index = relax.op.add(index, relax.const(offsets, "int32"))
    return relax.op.take(relax.const(np.array(table, dtype=np.int8), "int8"), index, axis=0)
