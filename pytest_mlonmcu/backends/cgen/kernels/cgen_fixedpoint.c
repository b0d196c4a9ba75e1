/*
 * cgen_fixedpoint.c - gemmlowp's fixed-point exp and reciprocal on raw int32
 * values (Q(integer_bits).(31 - integer_bits)), as used by TFLite's integer
 * SOFTMAX, LOGISTIC and TANH. Written from gemmlowp's published algorithms:
 * a Taylor expansion of exp around -1/8 on [-1/4, 0), a barrel shifter of
 * exp(-2^k) constants for the rest, and three Newton-Raphson steps for 1/(1+x).
 */
#include "cgen_kernels.h"

/* Plain int32 add/sub that wrap like the fixed-point code they mirror. */
static inline int32_t wadd(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static inline int32_t wsub(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }

/* Multiply by 2^exponent: saturating to the left, rounding to the right. */
int32_t cgen_saturating_rounding_mul_pot(int32_t x, int exponent) {
  if (exponent > 0) {
    const int32_t threshold = (int32_t)(((uint32_t)1 << (31 - exponent)) - 1u);
    if (x > threshold) return INT32_MAX;
    if (x < -threshold) return INT32_MIN;
    return (int32_t)((uint32_t)x << exponent);
  }
  if (exponent < 0) return cgen_rdbpot(x, -exponent);
  return x;
}

/* exp(a) for a in [-1/4, 0), Q0.31 in and out. */
static int32_t exp_on_interval_between_negative_one_quarter_and_0_excl(int32_t a) {
  const int32_t constant_term = 1895147668;     /* exp(-1/8) */
  const int32_t constant_1_over_3 = 715827883;  /* 1/3 */
  const int32_t x = wadd(a, 1 << 28);           /* a + 1/8 */
  const int32_t x2 = cgen_srdhm(x, x);
  const int32_t x3 = cgen_srdhm(x2, x);
  const int32_t x4 = cgen_srdhm(x2, x2);
  const int32_t x4_over_4 = cgen_rdbpot(x4, 2);
  const int32_t poly =
      cgen_rdbpot(wadd(cgen_srdhm(wadd(x4_over_4, x3), constant_1_over_3), x2), 1);
  return wadd(constant_term, cgen_srdhm(constant_term, wadd(x, poly)));
}

int32_t cgen_exp_on_negative_values(int32_t a, int integer_bits) {
  static const int32_t multipliers[7] = {1672461947, 1302514674, 790015084, 290630308,
                                         39332535,   720401,     242};
  const int fractional_bits = 31 - integer_bits;
  const int32_t one_quarter = (int32_t)1 << (fractional_bits - 2);
  const int32_t mask = one_quarter - 1;
  const int32_t a_mod_quarter_minus_one_quarter = wsub(a & mask, one_quarter);
  int32_t result = exp_on_interval_between_negative_one_quarter_and_0_excl(
      cgen_saturating_rounding_mul_pot(a_mod_quarter_minus_one_quarter, integer_bits));
  const int32_t remainder = wsub(a_mod_quarter_minus_one_quarter, a);
  /* Multiply by exp(-2^k) for each set bit of the remainder, k = -2..4. */
  for (int k = -2; k <= 4; ++k) {
    if (integer_bits > k) {
      const int shift = fractional_bits + k;
      if (remainder & ((int32_t)1 << shift)) result = cgen_srdhm(result, multipliers[k + 2]);
    }
  }
  if (integer_bits > 5) {
    const int32_t clamp = -((int32_t)1 << (36 - integer_bits)); /* -32.0 */
    if (a < clamp) result = 0;
  }
  if (a == 0) result = INT32_MAX;
  return result;
}

/* Newton-Raphson iteration for 1 / (1 + a); returns x in Q2.29. */
static int32_t reciprocal_q2(int32_t a) {
  /* RoundingHalfSum(a, one): (a + one + sign) / 2 with truncation. */
  const int64_t sum = (int64_t)a + INT32_MAX;
  const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
  const int32_t constant_48_over_17 = 1515870810;
  const int32_t constant_neg_32_over_17 = -1010580540;
  int32_t x = wadd(constant_48_over_17, cgen_srdhm(half_denominator, constant_neg_32_over_17));
  for (int i = 0; i < 3; ++i) {
    const int32_t half_denominator_times_x = cgen_srdhm(half_denominator, x);
    const int32_t one_minus = wsub((int32_t)1 << 29, half_denominator_times_x);
    x = wadd(x, cgen_saturating_rounding_mul_pot(cgen_srdhm(x, one_minus), 2));
  }
  return x;
}

int32_t cgen_one_over_one_plus_x_for_x_in_0_1(int32_t a) {
  return cgen_saturating_rounding_mul_pot(reciprocal_q2(a), 1);
}

int32_t cgen_one_minus_x_over_one_plus_x_for_x_in_0_1(int32_t a) {
  return cgen_saturating_rounding_mul_pot(wsub(reciprocal_q2(a), (int32_t)1 << 29), 2);
}
