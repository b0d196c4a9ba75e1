/*
 * cgen_fc16.c - FULLY_CONNECTED with int16 activations and int8 weights, as
 * TFLite Micro's 16x8 reference kernel: symmetric int16 input and output (zero
 * points 0), int64 accumulation and the 64-bit MultiplyByQuantizedMultiplier
 * (its multiplier rounded to 16 bits) with an int64 bias or none, or with an
 * int32 bias the int32 accumulation and multiply of the int8 kernels.
 */
#include "cgen_kernels.h"
#include "cgen_params.h"

/* TFLite's MultiplyByQuantizedMultiplier(int64_t x, ...), double-rounding build:
 * the multiplier reduced to 16 bits, one rounding shift of the 64-bit product. */
static inline int32_t mbqm64(int64_t x, int32_t multiplier, int shift) {
  const int32_t reduced = multiplier < 0x7FFF0000 ? (multiplier + (1 << 15)) >> 16 : 0x7FFF;
  const int total_shift = 15 - shift;
  x = x * (int64_t)reduced + ((int64_t)1 << (total_shift - 1));
  return (int32_t)(x >> total_shift);
}

static inline int16_t clamp_i16(int32_t v, int32_t lo, int32_t hi) {
  v = v < lo ? lo : v;
  v = v > hi ? hi : v;
  return (int16_t)v;
}

void cgen_fc_int16(const cgen_fc16_params *p, const int16_t *in, int16_t *out) {
  for (int b = 0; b < p->batches; ++b) {
    const int16_t *x = in + b * p->in_c;
    for (int oc = 0; oc < p->out_c; ++oc) {
      const int8_t *w = p->weights + oc * p->in_c;
      const int q = p->quant_stride ? oc : 0;
      int32_t scaled;
      if (!p->wide) {
        int32_t acc = 0;
        for (int d = 0; d < p->in_c; ++d) acc += w[d] * (int32_t)x[d];
        if (p->bias32) acc += p->bias32[oc];
        scaled = cgen_mbqm(acc, p->mult[q], p->shift[q]);
      } else {
        int64_t acc = 0;
        for (int d = 0; d < p->in_c; ++d) acc += w[d] * (int32_t)x[d];
        if (p->bias64) acc += p->bias64[oc];
        scaled = mbqm64(acc, p->mult[q], p->shift[q]);
      }
      out[b * p->out_c + oc] = clamp_i16(scaled, p->act_min, p->act_max);
    }
  }
}
