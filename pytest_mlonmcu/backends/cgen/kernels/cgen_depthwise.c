/*
 * cgen_depthwise.c - optimized int8 DEPTHWISE_CONV_2D, any filter (depth multiplier 1).
 *
 * Weights keep TFLite's [k_h][k_w][channels] layout; bias[c] has the input
 * offset folded in (see cgen_conv.c), so a tap in the zero padding must
 * contribute in_zp * w. Interior pixels run in pairs (2 pixels x 4 channels in
 * registers), border pixels one at a time. 3x3 filters have their own kernel
 * (cgen_depthwise3x3.c).
 */
#include "cgen_kernels.h"
#include "cgen_params.h"

/* One output pixel at any position. Taps outside the input multiply in_zp
 * instead of an input byte: with the folded bias that is TFLite's zero padding. */
static void dw_pixel(const cgen_conv_params *p, const int8_t *in, int oy, int ox, int8_t *o) {
  const int ch = p->out_c, k_w = p->k_w, k_h = p->k_h;
  const int row = p->in_w * ch;
  const int iy0 = oy * p->stride_h - p->pad_top;
  const int ix0 = ox * p->stride_w - p->pad_left;
  const int32_t zp = p->in_zp;
  int32_t acc[16];
  for (int c0 = 0; c0 < ch; c0 += 16) {
    const int cn = ch - c0 < 16 ? ch - c0 : 16;
    int c = c0;
    for (; c + 4 <= c0 + cn; c += 4) {
      int32_t a0 = p->bias[c], a1 = p->bias[c + 1], a2 = p->bias[c + 2], a3 = p->bias[c + 3];
      const int8_t *wp = p->weights + c;
      for (int ky = 0; ky < k_h; ++ky) {
        const int iy = iy0 + ky * p->dil_h;
        const int row_in = iy >= 0 && iy < p->in_h;
        for (int kx = 0; kx < k_w; ++kx, wp += ch) {
          const int ix = ix0 + kx * p->dil_w;
          if (row_in && ix >= 0 && ix < p->in_w) {
            const int8_t *ip = in + iy * row + ix * ch + c;
            a0 += ip[0] * wp[0];
            a1 += ip[1] * wp[1];
            a2 += ip[2] * wp[2];
            a3 += ip[3] * wp[3];
          } else {
            a0 += zp * wp[0];
            a1 += zp * wp[1];
            a2 += zp * wp[2];
            a3 += zp * wp[3];
          }
        }
      }
      acc[c - c0] = a0;
      acc[c - c0 + 1] = a1;
      acc[c - c0 + 2] = a2;
      acc[c - c0 + 3] = a3;
    }
    for (; c < c0 + cn; ++c) {
      int32_t a0 = p->bias[c];
      const int8_t *wp = p->weights + c;
      for (int ky = 0; ky < k_h; ++ky) {
        const int iy = iy0 + ky * p->dil_h;
        for (int kx = 0; kx < k_w; ++kx, wp += ch) {
          const int ix = ix0 + kx * p->dil_w;
          const int inside = iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w;
          a0 += (inside ? in[iy * row + ix * ch + c] : zp) * *wp;
        }
      }
      acc[c - c0] = a0;
    }
    cgen_requant_store(p, acc, cn, c0, o + c0);
  }
}

/* Two interior output pixels: inputs `in_off` apart, outputs `out_off` apart. */
static void dw_pair(const cgen_conv_params *p, const int8_t *ib, int in_off, int8_t *o,
                    int out_off) {
  const int ch = p->out_c, k_w = p->k_w, k_h = p->k_h;
  const int row_step = p->dil_h * p->in_w * ch, col_step = p->dil_w * ch;
  int8_t *o2 = o + out_off;
  int c = 0;
  for (; c + 4 <= ch; c += 4) {
    int32_t a0 = p->bias[c], a1 = p->bias[c + 1], a2 = p->bias[c + 2], a3 = p->bias[c + 3];
    int32_t b0 = a0, b1 = a1, b2 = a2, b3 = a3;
    const int8_t *ir = ib + c;
    const int8_t *wp = p->weights + c;
    for (int ky = 0; ky < k_h; ++ky, ir += row_step) {
      const int8_t *ip = ir;
      for (int kx = 0; kx < k_w; ++kx, ip += col_step, wp += ch) {
        const int8_t *iq = ip + in_off;
        int32_t w = wp[0];
        a0 += ip[0] * w;
        b0 += iq[0] * w;
        w = wp[1];
        a1 += ip[1] * w;
        b1 += iq[1] * w;
        w = wp[2];
        a2 += ip[2] * w;
        b2 += iq[2] * w;
        w = wp[3];
        a3 += ip[3] * w;
        b3 += iq[3] * w;
      }
    }
    const int32_t acc[8] = {a0, a1, a2, a3, b0, b1, b2, b3};
    cgen_requant_store(p, acc, 4, c, o + c);
    cgen_requant_store(p, acc + 4, 4, c, o2 + c);
  }
  for (; c < ch; ++c) {
    int32_t a0 = p->bias[c], b0 = a0;
    const int8_t *ir = ib + c;
    const int8_t *wp = p->weights + c;
    for (int ky = 0; ky < k_h; ++ky, ir += row_step) {
      const int8_t *ip = ir;
      for (int kx = 0; kx < k_w; ++kx, ip += col_step, wp += ch) {
        a0 += ip[0] * wp[0];
        b0 += ip[in_off] * wp[0];
      }
    }
    const int32_t acc[2] = {a0, b0};
    cgen_requant_store(p, acc, 1, c, o + c);
    cgen_requant_store(p, acc + 1, 1, c, o2 + c);
  }
}

/* Interior [y_lo,y_hi) x [x_lo,x_hi) of a 3x3, dilation-1 filter, channel by
 * channel. Requires requant_fast (proven no-overflow, right shifts only).
 * Kept out of line: everything it holds in registers barely fits RV32's 31. */
static void dw_image(const cgen_conv_params *p, const int8_t *in, int8_t *out) {
  const int ch = p->out_c, out_w = p->out_w;
  const int row = p->in_w * ch;
  const int y_lo = p->y_lo, y_hi = p->y_hi, x_lo = p->x_lo, x_hi = p->x_hi;
  for (int oy = 0; oy < p->out_h; ++oy) {
    const int y_inside = oy >= y_lo && oy < y_hi;
    for (int ox = 0; ox < out_w; ++ox) {
      if (y_inside && ox >= x_lo && ox < x_hi) continue;
      dw_pixel(p, in, oy, ox, out + (oy * out_w + ox) * ch);
    }
  }
  if (y_lo >= y_hi || x_lo >= x_hi) return;
  const int sy = p->stride_h * row, sx = p->stride_w * ch;
  const int8_t *in0 = in + (y_lo * p->stride_h - p->pad_top) * row;
  in0 += (x_lo * p->stride_w - p->pad_left) * ch;
  int8_t *out0 = out + (y_lo * out_w + x_lo) * ch;
  if (p->pair_vertical) {
    int oy = y_lo;
    for (; oy + 1 < y_hi; oy += 2, in0 += 2 * sy, out0 += 2 * out_w * ch) {
      for (int i = 0; i < x_hi - x_lo; ++i) dw_pair(p, in0 + i * sx, sy, out0 + i * ch, out_w * ch);
    }
    if (oy < y_hi) {
      for (int ox = x_lo; ox < x_hi; ++ox) dw_pixel(p, in, oy, ox, out + (oy * out_w + ox) * ch);
    }
  } else {
    for (int oy = y_lo; oy < y_hi; ++oy, in0 += sy, out0 += out_w * ch) {
      int i = 0;
      for (; i + 1 < x_hi - x_lo; i += 2) dw_pair(p, in0 + i * sx, sx, out0 + i * ch, ch);
      if (i < x_hi - x_lo) dw_pixel(p, in, oy, x_lo + i, out0 + i * ch);
    }
  }
}

void cgen_depthwise_opt(const cgen_conv_params *p, const int8_t *in, int8_t *out) {
  const int in_size = p->in_h * p->in_w * p->in_c;
  const int out_size = p->out_h * p->out_w * p->out_c;
  for (int b = 0; b < p->batches; ++b) dw_image(p, in + b * in_size, out + b * out_size);
}
