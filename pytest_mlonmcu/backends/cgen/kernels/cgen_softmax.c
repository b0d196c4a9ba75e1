/*
 * cgen_softmax.c - int8 -> int8 SOFTMAX in TFLite's fixed-point form: input
 * differences to the row maximum are scaled to Q5.26 (beta folded into
 * input_multiplier/input_left_shift by the generator), exponentiated with
 * gemmlowp's exp_on_negative_values, summed in Q12.19, and multiplied by the
 * fixed-point reciprocal of the sum. Output scale 1/256, zero point -128.
 */
#include "cgen_kernels.h"
#include "cgen_params.h"

enum { kScaledDiffIntegerBits = 5, kAccumulationIntegerBits = 12 };

static int count_leading_zeros(uint32_t x) {
#if defined(__GNUC__)
  return x ? __builtin_clz(x) : 32;
#else
  int n = 0;
  if (x == 0) return 32;
  while (!(x & 0x80000000u)) {
    x <<= 1;
    ++n;
  }
  return n;
#endif
}

static inline int32_t scaled_exp(const cgen_softmax_params *p, int32_t diff) {
  /* MultiplyByQuantizedMultiplierGreaterThanOne */
  const int32_t rescaled = cgen_srdhm((int32_t)((uint32_t)diff << p->input_left_shift),
                                      p->input_multiplier);
  return cgen_exp_on_negative_values(rescaled, kScaledDiffIntegerBits);
}

void cgen_softmax(const cgen_softmax_params *p, const int8_t *in, int8_t *out) {
  const int depth = p->depth;
  for (int i = 0; i < p->outer; ++i, in += depth, out += depth) {
    int32_t max_in_row = -128;
    for (int c = 0; c < depth; ++c) max_in_row = in[c] > max_in_row ? in[c] : max_in_row;

    int32_t sum_of_exps = 0; /* Q12.19 */
    for (int c = 0; c < depth; ++c) {
      const int32_t diff = in[c] - max_in_row;
      if (diff >= p->diff_min) {
        sum_of_exps += cgen_saturating_rounding_mul_pot(scaled_exp(p, diff),
                                                        -kAccumulationIntegerBits);
      }
    }

    /* GetReciprocal: normalise the sum to [1, 2), then 1 / (1 + x). */
    const int headroom_plus_one = count_leading_zeros((uint32_t)sum_of_exps);
    const int num_bits_over_unit = kAccumulationIntegerBits - headroom_plus_one;
    const int32_t shifted_sum_minus_one =
        (int32_t)(((uint32_t)sum_of_exps << headroom_plus_one) - ((uint32_t)1 << 31));
    const int32_t shifted_scale = cgen_one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one);
    const int exponent = num_bits_over_unit + 31 - 8;

    for (int c = 0; c < depth; ++c) {
      const int32_t diff = in[c] - max_in_row;
      int32_t v = -128;
      if (diff >= p->diff_min) {
        const int32_t e = scaled_exp(p, diff);
        v = cgen_rdbpot(cgen_srdhm(shifted_scale, e), exponent) - 128;
      }
      out[c] = cgen_clamp_i8(v, -128, 127);
    }
  }
}
