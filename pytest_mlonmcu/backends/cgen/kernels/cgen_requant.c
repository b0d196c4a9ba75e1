/*
 * cgen_requant.c - requantization of conv/depthwise/FC accumulators to int8:
 * TFLite's MultiplyByQuantizedMultiplier per output channel, output zero point,
 * activation clamp. Shared by the optimized kernels (one copy of the code).
 */
#include "cgen_kernels.h"
#include "cgen_params.h"

static inline int8_t clamp_store(int32_t v, int32_t lo, int32_t hi) {
  if (v < lo) v = lo;
  if (v > hi) v = hi;
  return (int8_t)v;
}

/* Requantize n accumulators of channels oc.. into int8 outputs o[0..n). */
void cgen_requant_store(const cgen_conv_params *p, const int32_t *acc, int n, int oc, int8_t *o) {
  const int32_t out_zp = p->out_zp, lo = p->act_min, hi = p->act_max;
  if (!p->quant_stride) { /* one multiplier for every channel */
    const int32_t m = p->mult[0], s = p->shift[0];
    for (int i = 0; i < n; ++i) {
      const int32_t v = p->requant_fast ? cgen_mbqm_fast(acc[i], m, -s) : cgen_mbqm(acc[i], m, s);
      o[i] = clamp_store(v + out_zp, lo, hi);
    }
    return;
  }
  const int32_t *mult = p->mult + oc;
  const int8_t *shift = p->shift + oc;
  if (!p->requant_fast) {
    for (int i = 0; i < n; ++i) o[i] = clamp_store(cgen_mbqm(acc[i], mult[i], shift[i]) + out_zp, lo, hi);
    return;
  }
  for (int i = 0; i < n; ++i) {
    o[i] = clamp_store(cgen_mbqm_fast(acc[i], mult[i], -shift[i]) + out_zp, lo, hi);
  }
}
