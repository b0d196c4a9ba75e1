"""TFLite's integer requantization arithmetic, as plain Python (no TVM).

The integer path builds its Relax ops from these numbers; they follow TFLite's
``QuantizeMultiplier`` (frexp, round half away from zero) and the scale formulas of
TFLM's kernels, so that the generated code is bit-exact with the TFLM interpreter.
"""

from __future__ import annotations

import math

import numpy as np


def quantize_multiplier(real: float) -> tuple[int, int]:
    """(multiplier Q31, shift) with real = multiplier * 2^(shift - 31), as TFLite computes it."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    # std::round: half away from zero (Python's round() is half to even).
    q_fixed = int(math.copysign(math.floor(abs(q) * (1 << 31) + 0.5), q))
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:  # TFLite clamps the same way (a multiplier this large saturates anyway)
        shift = 30
        q_fixed = (1 << 31) - 1
    return q_fixed, shift


def conv_multipliers(
    input_scale: float, weight_scales: np.ndarray, output_scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (multiplier, shift) of CONV_2D / DEPTHWISE_CONV_2D (TFLM's per-channel path).

    effective = double(input_scale) * double(weight_scale[c]) / double(output_scale)
    """
    mult, shift = [], []
    for ws in np.asarray(weight_scales, dtype=np.float32).reshape(-1):
        m, s = quantize_multiplier(
            float(np.float32(input_scale)) * float(ws) / float(np.float32(output_scale))
        )
        mult.append(m)
        shift.append(s)
    return np.array(mult, dtype=np.int64), np.array(shift, dtype=np.int32)


def fc_multiplier(input_scale: float, weight_scale: float, output_scale: float) -> tuple[int, int]:
    """FULLY_CONNECTED: the product of the scales is a float, then divided in double."""
    product = np.float32(input_scale) * np.float32(weight_scale)
    return quantize_multiplier(float(product) / float(np.float32(output_scale)))


def add_params(
    scale1: float, scale2: float, scale_out: float
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int], int]:
    """ADD (int8): input multipliers, output multiplier and the left shift of TFLM's kernel."""
    left_shift = 20
    twice_max = 2.0 * float(max(np.float32(scale1), np.float32(scale2)))
    m1 = quantize_multiplier(float(np.float32(scale1)) / twice_max)
    m2 = quantize_multiplier(float(np.float32(scale2)) / twice_max)
    mo = quantize_multiplier(twice_max / ((1 << left_shift) * float(np.float32(scale_out))))
    return m1, m2, mo, left_shift


def multiply_by_quantized_multiplier(
    x: np.ndarray, mult: np.ndarray, shift: np.ndarray
) -> np.ndarray:
    """Reference (numpy, int64) of TFLite's MultiplyByQuantizedMultiplier, for tests."""
    x = np.asarray(x, dtype=np.int64)
    mult = np.asarray(mult, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    x = ((x << left) + 2**31) % 2**32 - 2**31  # int32 wrap-around like the C code
    ab = x * mult
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    t = ab + nudge
    high = np.where(t < 0, -((-t) >> 31), t >> 31)  # C division: truncation towards zero
    mask = (1 << right) - 1
    remainder = high & mask
    threshold = (mask >> 1) + (high < 0)
    return (high >> right) + (remainder > threshold)


def mean_multiplier(input_scale: float, output_scale: float, count: int) -> tuple[int, int]:
    """TFLM's int8 MEAN: input/output scale with 1/count folded in by integer division of
    the multiplier (QuantizedMeanOrSum), as cgen's quant.mean_multiplier."""
    mult, shift = quantize_multiplier(
        float(np.float32(input_scale)) / float(np.float32(output_scale))
    )
    if count <= 0:
        return mult, shift
    extra = min(count.bit_length() - 1, 32, 31 + shift)
    return (mult << extra) // count, shift - extra
