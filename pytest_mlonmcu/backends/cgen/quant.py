"""TFLite's quantization arithmetic in Python, for generation-time constants.

Every function reproduces the double/float rounding of TFLite (Micro)'s Prepare
step exactly: the kernels then only see integers, and the results are
bit-exact with the TFLM reference kernels. Python floats are IEEE doubles;
float32 steps are done with numpy float32 scalars.
"""

from __future__ import annotations

import math

import numpy as np

from ...core.errors import BuildError

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

# tflite::ActivationFunctionType
ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6 = 0, 1, 2, 3


def round_half_away(x: float) -> int:
    """std::round / TfLiteRound: halves away from zero."""
    r = math.floor(abs(x) + 0.5)
    return int(r if x >= 0 else -r)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """tflite::QuantizeMultiplier: (q31 multiplier, shift) with real = m * 2^(shift-31)."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = round_half_away(q * (1 << 31))
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if q_fixed > INT32_MAX:
        raise BuildError(f"cgen: multiplier {real} out of range")
    return q_fixed, shift


def frexp_multiplier(real: float) -> tuple[int, int]:
    """The frexp form of LOGISTIC/TANH Prepare: no renormalisation of q == 1.0."""
    q, shift = math.frexp(real)
    q_fixed = round_half_away(q * (1 << 31))
    if q_fixed == 1 << 31:  # static_cast<int32_t> wraps this on the reference host
        q_fixed = INT32_MIN
    return q_fixed, shift


def calculate_input_radius(input_integer_bits: int, input_left_shift: int, total_bits=31) -> int:
    """tflite::CalculateInputRadius (double form)."""
    max_input_rescaled = (
        1.0
        * ((1 << input_integer_bits) - 1)
        * (1 << (total_bits - input_integer_bits))
        / (1 << input_left_shift)
    )
    return int(math.floor(max_input_rescaled))


def _quantize_float(scale: np.float32, zero_point: int, value: float) -> int:
    """The static Quantize() of kernel_util.cc: float32 division, round, add zp."""
    tmp = np.float32(value) / np.float32(scale)
    return zero_point + round_half_away(float(tmp))


def activation_range(
    activation: int, scale: np.float32, zero_point: int, bits: int = 8
) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for int8 (or int16) outputs."""
    qmin, qmax = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if activation == ACT_NONE:
        return qmin, qmax
    if activation == ACT_RELU:
        return max(qmin, _quantize_float(scale, zero_point, 0.0)), qmax
    if activation == ACT_RELU6:
        lo = max(qmin, _quantize_float(scale, zero_point, 0.0))
        return lo, min(qmax, _quantize_float(scale, zero_point, 6.0))
    if activation == ACT_RELU_N1_TO_1:
        lo = max(qmin, _quantize_float(scale, zero_point, -1.0))
        return lo, min(qmax, _quantize_float(scale, zero_point, 1.0))
    raise BuildError(f"cgen: fused activation {activation} is not supported")


def conv_multipliers(
    input_scale: np.float32, filter_scales: np.ndarray, output_scale: np.float32, channels: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (multiplier, shift) as PopulateConvolutionQuantizationParams.

    effective = double(input_scale) * double(filter_scale[c]) / double(output_scale);
    a single filter scale is broadcast over all channels.
    """
    mults = np.zeros(channels, np.int32)
    shifts = np.zeros(channels, np.int32)
    for c in range(channels):
        fs = filter_scales[c] if filter_scales.size > 1 else filter_scales[0]
        real = float(input_scale) * float(np.float32(fs)) / float(output_scale)
        mults[c], shifts[c] = quantize_multiplier(real)
    return mults, shifts


def fc_per_tensor_multiplier(
    input_scale: np.float32, filter_scale: np.float32, output_scale: np.float32
) -> tuple[int, int]:
    """GetQuantizedConvolutionMultipler: the product is rounded to float first."""
    product = np.float32(input_scale) * np.float32(filter_scale)
    return quantize_multiplier(float(product) / float(output_scale))


def _two_input_rescale(
    s1: np.float32, s2: np.float32, left_shift: int, output_real: float, what: str
) -> dict[str, int]:
    """Both inputs onto twice the larger scale (multipliers < 1), then ``output_real``: the
    shared part of TFLM's ADD/SUB and SQUARED_DIFFERENCE preparation."""
    twice_max = 2 * float(max(np.float32(s1), np.float32(s2)))
    m1, sh1 = quantize_multiplier(float(s1) / twice_max)
    m2, sh2 = quantize_multiplier(float(s2) / twice_max)
    mo, sho = quantize_multiplier(output_real)
    if sh1 > 0 or sh2 > 0:
        raise BuildError(f"cgen: {what} input rescale multiplier >= 1 is not supported")
    return {
        "left_shift": left_shift,
        "in1_mult": m1,
        "in1_shift": sh1,
        "in2_mult": m2,
        "in2_shift": sh2,
        "out_mult": mo,
        "out_shift": sho,
    }


def add_params(s1: np.float32, s2: np.float32, s_out: np.float32) -> dict[str, int]:
    """Multipliers of the int8 ADD (left_shift 20), as TFLM's CalculateOpDataAdd."""
    twice_max = 2 * float(max(np.float32(s1), np.float32(s2)))
    params = _two_input_rescale(s1, s2, 20, twice_max / ((1 << 20) * float(s_out)), "ADD")
    if params["out_shift"] > 0:
        raise BuildError("cgen: ADD rescale multiplier >= 1 is not supported")
    return params


def squared_difference_params(s1: np.float32, s2: np.float32, s_out: np.float32) -> dict[str, int]:
    """Multipliers of the int8 SQUARED_DIFFERENCE (left_shift 7), as TFLM's PrepareQuantized
    (its output multiplier may exceed 1)."""
    twice_max = 2 * float(max(np.float32(s1), np.float32(s2)))
    output_real = twice_max * twice_max / float(np.float32(1 << 14) * np.float32(s_out))
    return _two_input_rescale(s1, s2, 7, output_real, "SQUARED_DIFFERENCE")


def softmax_params(beta: np.float32, input_scale: np.float32) -> tuple[int, int, int]:
    """(input_multiplier, input_left_shift, diff_min) as TFLM's SoftmaxPrepare (int8)."""
    scaled_diff_integer_bits = 5
    real = min(
        float(beta) * float(input_scale) * (1 << (31 - scaled_diff_integer_bits)),
        float((1 << 31) - 1),
    )
    mult, left_shift = quantize_multiplier(real)
    if left_shift < 0:
        raise BuildError("cgen: SOFTMAX input scale too small (multiplier < 1)")
    diff_min = -calculate_input_radius(scaled_diff_integer_bits, left_shift)
    return mult, left_shift, diff_min


def mean_multiplier(
    input_scale: np.float32, output_scale: np.float32, count: int
) -> tuple[int, int]:
    """Multiplier/shift of the int8 MEAN with 1/count folded in, as QuantizedMeanOrSum."""
    mult, shift = quantize_multiplier(float(input_scale) / float(output_scale))
    if count <= 0:
        return mult, shift
    extra = count.bit_length() - 1  # 63 - CountLeadingZeros(count)
    extra = min(extra, 32, 31 + shift)
    mult = (mult << extra) // count  # int64 division of positive values
    return mult, shift - extra


# Integer helpers (bit-exact models of the C kernels, used in tests and range checks).


def srdhm(a: int, b: int) -> int:
    if a == b == INT32_MIN:
        return INT32_MAX
    return (a * b + (1 << 30)) >> 31


def rdbpot(x: int, exponent: int) -> int:
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def multiply_by_quantized_multiplier(x: int, multiplier: int, shift: int) -> int:
    left = max(shift, 0)
    right = max(-shift, 0)
    shifted = ((x << left) + 2**31) % 2**32 - 2**31  # int32 wrap, as the C code
    return rdbpot(srdhm(shifted, multiplier), right)


def _wrap32(x: int) -> int:
    return (x + 2**31) % 2**32 - 2**31


def _saturating_mul_pot(x: int, exponent: int) -> int:
    """gemmlowp's SaturatingRoundingMultiplyByPOT for a positive exponent."""
    threshold = (1 << (31 - exponent)) - 1
    if x > threshold:
        return INT32_MAX
    if x < -threshold:
        return INT32_MIN
    return x << exponent


def inv_sqrt_multiplier(value: int) -> tuple[int, int]:
    """TFLite's GetInvSqrtQuantizedMultiplierExp(value, kReverseShift): gemmlowp's Newton
    iteration in 32-bit fixed point, step for step (F3 = 3 integer bits)."""
    if value <= 1:
        return INT32_MAX, 0
    shift = 11
    while value >= 1 << 29:
        value //= 4
        shift += 1
    leading_zeros = 32 - value.bit_length()
    left_shift_bit_pairs = (leading_zeros - 1) // 2 - 1
    shift -= left_shift_bit_pairs
    value <<= 2 * left_shift_bit_pairs
    f3_input = value >> 1
    f3_half_input = rdbpot(f3_input, 1)
    f3_half_three = (1 << 28) + (1 << 27)
    x = 1 << 28  # F3 one
    for _ in range(5):
        x3 = _saturating_mul_pot(srdhm(srdhm(x, x), x), 6)  # F9 -> F3
        diff = _wrap32(srdhm(f3_half_three, x) - srdhm(f3_half_input, x3))  # F6
        x = _saturating_mul_pot(diff, 3)  # F6 -> F3
    x = srdhm(x, 1518500250)  # times sqrt(2)/2 (F0)
    if shift < 0:
        x = _wrap32(x << -shift)
        shift = 0
    return x, -shift


def rsqrt_table(in_scale: np.float32, in_zp: int, out_scale: np.float32, out_zp: int) -> list:
    """TFLM's int8 RSQRT for every input value -128..127: the output, or None where TFLM
    fails the invoke (an input below the zero point: a negative value)."""
    real = 1.0 / float(np.float32(np.sqrt(np.float32(in_scale))) * np.float32(out_scale))
    mult, shift = quantize_multiplier(real)
    table = []
    for raw in range(-128, 128):
        value = raw - in_zp
        if value < 0:
            table.append(None)
            continue
        if value == 0:
            table.append(127)
            continue
        inv_mult, inv_shift = inv_sqrt_multiplier(value)
        data = multiply_by_quantized_multiplier(1, inv_mult, inv_shift + 20)
        out = multiply_by_quantized_multiplier(data, mult, shift - 20) + out_zp
        table.append(min(127, max(-128, out)))
    return table


# -- HARD_SWISH and PRELU for every int8 input (the TVM integer path's lookup tables) --------
INT16_MIN, INT16_MAX = -(2**15), 2**15 - 1


def _trunc_div(a: int, b: int) -> int:
    """C's integer division (towards zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _srdhm16(a: int, b: int) -> int:
    if a == b == INT16_MIN:
        return INT16_MAX
    ab = a * b
    return _trunc_div(ab + ((1 << 14) if ab >= 0 else 1 - (1 << 14)), 1 << 15)


def _sdhm16(a: int, b: int) -> int:
    if a == b == INT16_MIN:
        return INT16_MAX
    return _trunc_div(a * b, 1 << 15)


def _saturating_left_shift16(value: int, amount: int) -> int:
    return max(INT16_MIN, min(INT16_MAX, value * (1 << amount)))


def int16_multiplier(real: float) -> tuple[int, int]:
    """QuantizeMultiplier, then DownScaleInt32ToInt16Multiplier (TFLM's HARD_SWISH)."""
    mult, exponent = quantize_multiplier(real)
    mult16 = 32767 if mult >= 2**31 - 1 - (1 << 15) else (mult + (1 << 15)) >> 16
    return mult16, exponent


def hard_swish_multipliers(in_scale: np.float32, out_scale: np.float32) -> tuple[int, ...]:
    """(out_mult, out_exp, reluish_mult, reluish_exp) as TFLM's Prepare: the scales in
    float32, each real multiplier then in double; out_exp > 0 is refused (as TFLM does)."""
    hires_input_scale = np.float32(1.0 / 128.0) * np.float32(in_scale)
    reluish_scale = np.float32(3.0) / np.float32(32768.0)
    out_mult, out_exp = int16_multiplier(float(hires_input_scale / np.float32(out_scale)))
    if out_exp > 0:
        raise BuildError(
            "HARD_SWISH: output scale too small for TFLM's 16-bit evaluation (TFLM refuses it too)"
        )
    reluish_mult, reluish_exp = int16_multiplier(float(hires_input_scale / reluish_scale))
    return out_mult, out_exp, reluish_mult, reluish_exp


def hard_swish_table(
    in_scale: np.float32, in_zp: int, out_scale: np.float32, out_zp: int
) -> list[int]:
    """TFLM's int8 HARD_SWISH for every input -128..127 (its 16-bit fixed point, step for
    step as cgen_activation.c computes it)."""
    out_mult, out_exp, reluish_mult, reluish_exp = hard_swish_multipliers(in_scale, out_scale)
    table = []
    for raw in range(-128, 128):
        hires = (raw - in_zp) * (1 << 7)
        preshift_out = _srdhm16(hires, out_mult)
        reluish = hires
        if reluish_exp > 0:
            reluish = _saturating_left_shift16(reluish, reluish_exp - 1)
        reluish = _srdhm16(reluish, reluish_mult)
        if reluish_exp > 0:
            reluish = _saturating_left_shift16(reluish, 1)
        if reluish_exp < 0:
            reluish = rdbpot(reluish, -reluish_exp)
        reluish = (reluish + (1 << 15)) >> 1
        value = rdbpot(_sdhm16(reluish, preshift_out), -out_exp) + out_zp
        table.append(max(-128, min(127, value)))
    return table


def prelu_table(
    in_scale: np.float32,
    in_zp: int,
    alpha: int,
    alpha_scale: np.float32,
    alpha_zp: int,
    out_scale: np.float32,
    out_zp: int,
) -> list[int]:
    """TFLM's int8 PRELU for every input -128..127 and one stored slope ``alpha``: the input
    on its own multiplier where it is >= 0, else times the slope on the product's."""
    mult1, shift1 = quantize_multiplier(float(in_scale) / float(out_scale))
    mult2, shift2 = quantize_multiplier(float(in_scale) * float(alpha_scale) / float(out_scale))
    table = []
    for raw in range(-128, 128):
        x = raw - in_zp
        if x >= 0:
            value = multiply_by_quantized_multiplier(x, mult1, shift1)
        else:
            value = multiply_by_quantized_multiplier(x * (alpha - alpha_zp), mult2, shift2)
        table.append(max(-128, min(127, value + out_zp)))
    return table
