/*
 * cgen_ref.c - reference int8 CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED.
 *
 * Plain loops over TFLite's own layouts (conv filter [out_c][k_h][k_w][in_c],
 * depthwise filter [1][k_h][k_w][out_c], FC weights [out][in]) with the input
 * offset applied to every tap and out-of-image taps skipped: the arithmetic of
 * TFLite Micro's reference kernels, kept generic for comparison with the
 * generator-specialised kernels.
 */
#include "cgen_kernels.h"
#include "cgen_params.h"

static inline int8_t ref_out(const cgen_conv_params *p, int32_t acc, int c) {
  const int q = p->quant_stride ? c : 0;
  const int32_t v = cgen_mbqm(acc, p->mult[q], p->shift[q]) + p->out_zp;
  return cgen_clamp_i8(v, p->act_min, p->act_max);
}

void cgen_conv_ref(const cgen_conv_params *p, const int8_t *in, int8_t *out) {
  const int32_t in_offset = -p->in_zp;
  for (int b = 0; b < p->batches; ++b) {
    for (int oy = 0; oy < p->out_h; ++oy) {
      for (int ox = 0; ox < p->out_w; ++ox) {
        const int iy0 = oy * p->stride_h - p->pad_top;
        const int ix0 = ox * p->stride_w - p->pad_left;
        for (int oc = 0; oc < p->out_c; ++oc) {
          int32_t acc = 0;
          for (int ky = 0; ky < p->k_h; ++ky) {
            const int iy = iy0 + ky * p->dil_h;
            for (int kx = 0; kx < p->k_w; ++kx) {
              const int ix = ix0 + kx * p->dil_w;
              if (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w) continue;
              const int8_t *ip = in + ((b * p->in_h + iy) * p->in_w + ix) * p->in_c;
              const int8_t *wp = p->weights + ((oc * p->k_h + ky) * p->k_w + kx) * p->in_c;
              for (int ic = 0; ic < p->in_c; ++ic) acc += wp[ic] * (ip[ic] + in_offset);
            }
          }
          if (p->bias) acc += p->bias[oc];
          out[((b * p->out_h + oy) * p->out_w + ox) * p->out_c + oc] = ref_out(p, acc, oc);
        }
      }
    }
  }
}

void cgen_depthwise_ref(const cgen_conv_params *p, const int8_t *in, int8_t *out) {
  const int32_t in_offset = -p->in_zp;
  const int dm = p->depth_multiplier;
  for (int b = 0; b < p->batches; ++b) {
    for (int oy = 0; oy < p->out_h; ++oy) {
      for (int ox = 0; ox < p->out_w; ++ox) {
        const int iy0 = oy * p->stride_h - p->pad_top;
        const int ix0 = ox * p->stride_w - p->pad_left;
        for (int ic = 0; ic < p->in_c; ++ic) {
          for (int m = 0; m < dm; ++m) {
            const int oc = ic * dm + m;
            int32_t acc = 0;
            for (int ky = 0; ky < p->k_h; ++ky) {
              const int iy = iy0 + ky * p->dil_h;
              for (int kx = 0; kx < p->k_w; ++kx) {
                const int ix = ix0 + kx * p->dil_w;
                if (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w) continue;
                const int32_t x = in[((b * p->in_h + iy) * p->in_w + ix) * p->in_c + ic];
                const int32_t w = p->weights[(ky * p->k_w + kx) * p->out_c + oc];
                acc += w * (x + in_offset);
              }
            }
            if (p->bias) acc += p->bias[oc];
            out[((b * p->out_h + oy) * p->out_w + ox) * p->out_c + oc] = ref_out(p, acc, oc);
          }
        }
      }
    }
  }
}

/* FULLY_CONNECTED: batches rows of in_c inputs, out_c outputs each. */
void cgen_fc_ref(const cgen_conv_params *p, const int8_t *in, int8_t *out) {
  const int32_t in_offset = -p->in_zp;
  for (int b = 0; b < p->batches; ++b) {
    const int8_t *x = in + b * p->in_c;
    for (int oc = 0; oc < p->out_c; ++oc) {
      const int8_t *w = p->weights + oc * p->in_c;
      int32_t acc = 0;
      for (int d = 0; d < p->in_c; ++d) acc += w[d] * (x[d] + in_offset);
      if (p->bias) acc += p->bias[oc];
      out[b * p->out_c + oc] = ref_out(p, acc, oc);
    }
  }
}
