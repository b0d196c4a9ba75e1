"""FULLY_CONNECTED with int16 activations and int8 weights (TFLM's 16x8 kernel) for the TVM
integer path: TVM's importer fails on it, so the import emits TFLM's arithmetic directly.

An int64 bias (or none, by default) means int64 accumulation and TFLM's 64-bit
MultiplyByQuantizedMultiplier, whose multiplier is rounded to 16 bits:
``(acc * reduced + 2^(14 - shift)) >> (15 - shift)``; an int32 bias means int32 accumulation
and the int8 kernels' requantization. Input and output zero points are 0 (symmetric).
"""

from __future__ import annotations

import numpy as np
from tvm import relax

from ..cgen import quant as tflm_arith
from .intpath import requantize
from .lut import quantization

_INT16, _INT32, _INT64 = 7, 2, 4  # tflite.TensorType


def _options(op) -> tuple[int, int]:
    from tflite.FullyConnectedOptions import FullyConnectedOptions

    options = FullyConnectedOptions()
    table = op.BuiltinOptions()
    options.Init(table.Bytes, table.Pos)
    return options.FusedActivationFunction(), options.QuantizedBiasType()


def _reduced_multiply(acc: relax.Expr, mults: np.ndarray, shifts: np.ndarray) -> relax.Expr:
    """TFLite's MultiplyByQuantizedMultiplier(int64_t x, ...) of the double-rounding build,
    per output channel (the last axis), as int64 Relax ops; the result as int32."""
    mults = mults.astype(np.int64)
    reduced = np.where(mults < 0x7FFF0000, (mults + (1 << 15)) >> 16, 0x7FFF)
    total_shift = 15 - shifts.astype(np.int64)
    rounding = np.left_shift(np.int64(1), total_shift - 1)
    op = relax.op
    x = op.multiply(acc, relax.const(reduced, "int64"))
    x = op.add(x, relax.const(rounding, "int64"))
    return op.astype(op.right_shift(x, relax.const(total_shift, "int64")), "int32")


def fully_connected(converter, name: str, fallback, op) -> relax.Expr:
    """TFLM's 16x8 FULLY_CONNECTED; ``fallback(op)`` (TVM's converter) for any other form."""
    inputs = converter.get_input_tensors(op)
    (y,) = converter.get_output_tensors(op)
    x, w = inputs[0], inputs[1]
    if x.tensor.Type() != _INT16 or y.tensor.Type() != _INT16:
        return fallback(op)
    activation, bias_type = _options(op)
    x_scale, _ = quantization(x)
    y_scale, _ = quantization(y)
    weights = np.asarray(converter.get_tensor_value(w)).astype(np.int64)  # [out_c, depth]
    out_c, depth = weights.shape[0], weights.shape[-1]
    wq = w.tensor.Quantization()
    w_scales = np.asarray(wq.ScaleAsNumpy(), dtype=np.float32).reshape(-1)
    if w_scales.size > 1:
        mults, shifts = tflm_arith.conv_multipliers(x_scale, w_scales, y_scale, out_c)
    else:
        mult, shift = tflm_arith.fc_per_tensor_multiplier(x_scale, w_scales[0], y_scale)
        mults, shifts = np.array([mult]), np.array([shift])
    bias = inputs[2] if len(inputs) > 2 and inputs[2].tensor_idx >= 0 else None
    wide = bias.tensor.Type() == _INT64 if bias is not None else bias_type != _INT32
    acc_type = "int64" if wide else "int32"
    rop = relax.op
    data = rop.reshape(converter.get_expr(x.tensor_idx), [-1, depth])
    acc = rop.matmul(
        rop.astype(data, acc_type),
        relax.const(np.ascontiguousarray(weights.T), acc_type),
        out_dtype=acc_type,
    )
    if bias is not None:
        acc = rop.add(acc, relax.const(np.asarray(converter.get_tensor_value(bias)), acc_type))
    lo, hi = tflm_arith.activation_range(activation, y_scale, 0, bits=16)
    if wide:
        out = rop.astype(rop.clip(_reduced_multiply(acc, mults, shifts), lo, hi), "int16")
    else:
        out = requantize(acc, mults, shifts, 0, lo, hi, "int16")
    return rop.reshape(out, [int(d) for d in y.tensor.ShapeAsNumpy()])
