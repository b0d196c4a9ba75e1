/*
 * cgen_activation.c - int8 LOGISTIC and TANH in gemmlowp fixed point; LEAKY_RELU.
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
