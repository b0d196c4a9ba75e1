/*
 * cgen_quantize.c - QUANTIZE (int8 -> int8 and float -> int8) and DEQUANTIZE
 * (int8 -> float).
 */
#include "cgen_kernels.h"
#include "cgen_params.h"

void cgen_requantize(const cgen_quant_params *p, const int8_t *in, int8_t *out) {
  for (int32_t i = 0; i < p->size; ++i) {
    const int32_t v = cgen_mbqm(in[i] - p->in_zp, p->mult, p->shift) + p->out_zp;
    out[i] = cgen_clamp_i8(v, -128, 127);
  }
}

/* float -> int8: round(x / scale) half away from zero, as TFLite's AffineQuantize. */
void cgen_quantize_f32(const cgen_quant_params *p, const float *in, int8_t *out) {
  for (int32_t i = 0; i < p->size; ++i) {
    const float v = in[i] / p->scale;
    int32_t q;
    if (!(v > -1.0e9f)) {
      q = -1000000000; /* also NaN */
    } else if (v > 1.0e9f) {
      q = 1000000000;
    } else {
      q = (int32_t)v; /* truncation; v - q is exact */
      const float frac = v - (float)q;
      if (frac >= 0.5f) ++q;
      else if (frac <= -0.5f) --q;
    }
    out[i] = cgen_clamp_i8(q + p->out_zp, -128, 127);
  }
}

/* int8 -> float: scale * (x - zero_point) in double, then rounded to float. */
void cgen_dequantize(const cgen_quant_params *p, const int8_t *in, float *out) {
  const double scale = (double)p->scale;
  for (int32_t i = 0; i < p->size; ++i) out[i] = (float)(scale * (double)(in[i] - p->in_zp));
}
