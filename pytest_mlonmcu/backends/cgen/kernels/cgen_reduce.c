/*
 * cgen_reduce.c - int8 MEAN and SUM over a contiguous block of axes. For MEAN the
 * generator folds 1/count into mult/shift the way TFLite does (integer division of
 * the multiplier), so the result matches TFLite Micro's integer mean; SUM is the same
 * without it. REDUCE_MAX and REDUCE_MIN compare the stored values, as TFLM does.
 */
#include "cgen_kernels.h"
#include "cgen_params.h"

void cgen_mean(const cgen_mean_params *p, const int8_t *in, int8_t *out) {
  const int32_t zp_total = p->in_zp * p->reduce;
  for (int32_t o = 0; o < p->outer; ++o) {
    const int8_t *block = in + o * p->reduce * p->inner;
    for (int32_t i = 0; i < p->inner; ++i) {
      int32_t sum = 0;
      const int8_t *ip = block + i;
      for (int32_t r = 0; r < p->reduce; ++r, ip += p->inner) sum += *ip;
      const int32_t v = cgen_mbqm(sum - zp_total, p->mult, p->shift) + p->out_zp;
      *out++ = cgen_clamp_i8(v, -128, 127);
    }
  }
}

#define CGEN_REDUCE_EXTREME(NAME, BETTER)                                      \
  void NAME(const cgen_mean_params *p, const int8_t *in, int8_t *out) {          \
    for (int32_t o = 0; o < p->outer; ++o) {                                     \
      const int8_t *block = in + o * p->reduce * p->inner;                       \
      for (int32_t i = 0; i < p->inner; ++i) {                                   \
        const int8_t *ip = block + i;                                            \
        int8_t best = *ip;                                                       \
        for (int32_t r = 1; r < p->reduce; ++r) {                                \
          ip += p->inner;                                                        \
          if (*ip BETTER best) best = *ip;                                       \
        }                                                                        \
        *out++ = best;                                                           \
      }                                                                          \
    }                                                                            \
  }

CGEN_REDUCE_EXTREME(cgen_reduce_max, >)
CGEN_REDUCE_EXTREME(cgen_reduce_min, <)
