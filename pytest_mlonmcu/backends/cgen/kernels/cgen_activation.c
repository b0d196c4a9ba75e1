/*
 * cgen_activation.c - int8 LOGISTIC and TANH in gemmlowp fixed point; LEAKY_RELU, HARD_SWISH;
 * table lookups (RSQRT).
 */
#include "cgen_kernels.h"
#include "cgen_params.h"

/* logistic on Q4.27 -> Q0.31 */
static int32_t logistic_q4(int32_t a) {
  if (a == 0) return (int32_t)1 << 30;
  const int32_t abs_a = a > 0 ? a : -a;
  const int32_t r = cgen_one_over_one_plus_x_for_x_in_0_1(cgen_exp_on_negative_values(-abs_a, 4));
  return a > 0 ? r : INT32_MAX - r;
}

/* tanh on Q4.27 -> Q0.31; exp(2a) is exp of the same raw value read as Q5.26. */
static int32_t tanh_q4(int32_t a) {
  if (a == 0) return 0;
  const int32_t neg_abs = a < 0 ? a : -a;
  const int32_t t =
      cgen_one_minus_x_over_one_plus_x_for_x_in_0_1(cgen_exp_on_negative_values(neg_abs, 5));
  return a < 0 ? -t : t;
}

void cgen_logistic(const cgen_activation_params *p, const int8_t *in, int8_t *out) {
  for (int32_t i = 0; i < p->size; ++i) {
    const int32_t x = in[i] - p->in_zp;
    if (x <= -p->range_radius) {
      out[i] = -128;
    } else if (x >= p->range_radius) {
      out[i] = 127;
    } else {
      const int32_t q4 = cgen_mbqm(x, p->input_multiplier, p->input_left_shift);
      out[i] = cgen_clamp_i8(cgen_rdbpot(logistic_q4(q4), 23) - 128, -128, 127);
    }
  }
}

void cgen_tanh(const cgen_activation_params *p, const int8_t *in, int8_t *out) {
  for (int32_t i = 0; i < p->size; ++i) {
    const int32_t x = in[i] - p->in_zp;
    if (x <= -p->range_radius) {
      out[i] = -128;
    } else if (x >= p->range_radius) {
      out[i] = 127;
    } else {
      const int32_t q4 = cgen_mbqm(x, p->input_multiplier, p->input_left_shift);
      out[i] = cgen_clamp_i8(cgen_rdbpot(tanh_q4(q4), 24), -128, 127);
    }
  }
}

/* TFLM's LEAKY_RELU (int8): the identity or the alpha multiplier by the input's sign. */
void cgen_leaky_relu(const cgen_leaky_relu_params *p, const int8_t *in, int8_t *out) {
  for (int32_t i = 0; i < p->size; ++i) {
    const int32_t x = in[i] - p->in_zp;
    const int32_t y = x >= 0 ? cgen_mbqm(x, p->identity_mult, p->identity_shift)
                             : cgen_mbqm(x, p->alpha_mult, p->alpha_shift);
    out[i] = cgen_clamp_i8(y + p->out_zp, -128, 127);
  }
}

/* 16-bit gemmlowp arithmetic of TFLM's HARD_SWISH. */
static inline int16_t srdhm16(int16_t a, int16_t b) { /* rounding */
  if (a == b && a == INT16_MIN) return INT16_MAX;
  const int32_t ab = (int32_t)a * (int32_t)b;
  const int32_t nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
  return (int16_t)((ab + nudge) / (1 << 15));
}

static inline int16_t sdhm16(int16_t a, int16_t b) { /* truncating (SQDMULH) */
  if (a == b && a == INT16_MIN) return INT16_MAX;
  return (int16_t)(((int32_t)a * (int32_t)b) / (1 << 15));
}

static inline int16_t rdbpot16(int16_t x, int exponent) {
  const int32_t mask = (1 << exponent) - 1;
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (int16_t)((x >> exponent) + (remainder > threshold ? 1 : 0));
}

static inline int16_t saturating_left_shift16(int16_t value, int amount) {
  int64_t r = (int64_t)value * ((int64_t)1 << amount);
  r = r > INT16_MAX ? INT16_MAX : r;
  r = r < INT16_MIN ? INT16_MIN : r;
  return (int16_t)r;
}

/* TFLM's HARD_SWISH (int8): x * relu6(x + 3) / 6 in 16-bit fixed point. */
void cgen_hard_swish(const cgen_hard_swish_params *p, const int8_t *in, int8_t *out) {
  for (int32_t i = 0; i < p->size; ++i) {
    const int16_t x = (int16_t)(in[i] - p->in_zp);
    const int16_t hires = (int16_t)(x * (1 << 7));
    const int16_t preshift_out = srdhm16(hires, p->out_mult);
    int16_t reluish = hires;
    if (p->reluish_exp > 0) reluish = saturating_left_shift16(reluish, p->reluish_exp - 1);
    reluish = srdhm16(reluish, p->reluish_mult);
    if (p->reluish_exp > 0) reluish = saturating_left_shift16(reluish, 1);
    if (p->reluish_exp < 0) reluish = rdbpot16(reluish, -p->reluish_exp);
    reluish = (int16_t)((reluish + (1 << 15)) >> 1); /* [-1, 1] -> [0, 1] */
    const int16_t preshift = sdhm16(reluish, preshift_out);
    const int32_t y = rdbpot16(preshift, -p->out_exp) + p->out_zp;
    out[i] = cgen_clamp_i8(y, -128, 127);
  }
}

/* An int8 elementwise operator by its table of 256 results; an input whose entry is
 * -32768 fails the invoke, as TFLM fails it (RSQRT of a negative value). */
int cgen_lut(const cgen_lut_params *p, const int8_t *in, int8_t *out) {
  for (int32_t i = 0; i < p->size; ++i) {
    const int16_t v = p->table[in[i] + 128];
    if (v == INT16_MIN) return 1;
    out[i] = (int8_t)v;
  }
  return 0;
}
