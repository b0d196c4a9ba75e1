/*
 * cgen_depthwise3x3.c - int8 DEPTHWISE_CONV_2D for 3x3 filters (dilation 1,
 * depth multiplier 1, input at least 3x3, fast requantization).
 *
 * Every output, border or not, reads a 3x3 block of real input pixels: at the
 * borders the block is shifted inside the input and the weights are remapped
 * onto it (taps that fall into the zero padding get weight 0, their in_zp * w
 * moves into the bias, which already has the input offset folded in). Outputs
 * with the same shift form rectangular regions; each channel runs over each
 * region with its nine weights and requantization constants in registers.
 * The generator checks the preconditions (including at most DW_MAX_CLASSES
 * shifts per axis) before it chooses this kernel.
 */
#include "cgen_kernels.h"
#include "cgen_params.h"

#if defined(__GNUC__)
#define CGEN_NOINLINE __attribute__((noinline))
#else
#define CGEN_NOINLINE
#endif

#define DW_MAX_CLASSES 8

/* Output rows (or columns) [start, end) whose 3-tap window is read `shift`
 * pixels further than its true origin (0 inside; > 0 at the start, < 0 at the end). */
typedef struct {
  int start, end, shift;
} dw_class;

/* Split one axis into classes; returns their number or 0 if there are too many. */
static int dw_classes(int out_size, int stride, int pad, int in_size, dw_class *cls) {
  int n = 0;
  for (int o = 0; o < out_size; ++o) {
    const int origin = o * stride - pad;
    int clamped = origin < 0 ? 0 : origin;
    clamped = clamped > in_size - 3 ? in_size - 3 : clamped;
    const int shift = clamped - origin;
    if (n > 0 && cls[n - 1].shift == shift) {
      cls[n - 1].end = o + 1;
    } else {
      if (n == DW_MAX_CLASSES) return 0;
      cls[n].start = o;
      cls[n].end = o + 1;
      cls[n].shift = shift;
      ++n;
    }
  }
  return n;
}

typedef struct {
  int32_t bias, m, r, round; /* round = 2^(r-1) + out_zp * 2^r: adds the zero point too */
  int32_t w[9];
} dw_chan;

typedef struct {
  const int8_t *in; /* first window (top-left of the 3x3 block) of this channel */
  int8_t *out;      /* first output of this channel */
  int rows, cols;
  int row;                      /* input row bytes */
  int ch, step, in_rows, out_rows; /* byte advances: channel, per output column/row */
  int32_t lo, hi;
} dw_run;

/* One channel over one region: outputs rows x cols. */
static CGEN_NOINLINE void dw3x3_region(const dw_run *g, const dw_chan *q) {
  const int ch = g->ch, step = g->step, row = g->row;
  const int32_t lo = g->lo, hi = g->hi, bias = q->bias, m = q->m, r = q->r, round = q->round;
  const int32_t w00 = q->w[0], w01 = q->w[1], w02 = q->w[2];
  const int32_t w10 = q->w[3], w11 = q->w[4], w12 = q->w[5];
  const int32_t w20 = q->w[6], w21 = q->w[7], w22 = q->w[8];
  const int8_t *r0 = g->in;
  int8_t *o = g->out;
  for (int y = 0; y < g->rows; ++y, r0 += g->in_rows, o += g->out_rows) {
    const int8_t *i0 = r0, *i1 = r0 + row, *i2 = r0 + 2 * row;
    int8_t *op = o;
    int8_t *const o_end = o + g->cols * ch;
    for (; op != o_end; op += ch, i0 += step, i1 += step, i2 += step) {
      int32_t acc = bias + i0[0] * w00 + i0[ch] * w01 + i0[2 * ch] * w02;
      acc += i1[0] * w10 + i1[ch] * w11 + i1[2 * ch] * w12;
      acc += i2[0] * w20 + i2[ch] * w21 + i2[2 * ch] * w22;
      const int32_t x = (int32_t)(((int64_t)acc * m + ((int64_t)1 << 30)) >> 31);
      int32_t v = (x + round - (int32_t)((uint32_t)x >> 31)) >> r;
      if (v < lo) v = lo;
      if (v > hi) v = hi;
      *op = (int8_t)v;
    }
  }
}

/* Regions with fewer outputs run pixel by pixel: a region's per-channel setup
 * costs about as much as a few outputs. */
#define DW_MIN_REGION 4

/* One output pixel, all channels: in-image taps multiply inputs, the others in_zp. */
static void dw3x3_pixel(const cgen_conv_params *p, const int8_t *in, int oy, int ox, int8_t *o) {
  const int ch = p->out_c;
  const int8_t *ip[9], *wp[9], *wz[9];
  int n = 0, nz = 0;
  const int iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left;
  for (int ky = 0; ky < 3; ++ky) {
    for (int kx = 0; kx < 3; ++kx) {
      const int iy = iy0 + ky, ix = ix0 + kx;
      const int8_t *w = p->weights + (ky * 3 + kx) * ch;
      if (iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w) {
        ip[n] = in + (iy * p->in_w + ix) * ch;
        wp[n++] = w;
      } else {
        wz[nz++] = w;
      }
    }
  }
  const int32_t *bias = p->bias, *mult = p->mult;
  const int8_t *shift = p->shift;
  const int32_t zp = p->in_zp, out_zp = p->out_zp, lo = p->act_min, hi = p->act_max;
  for (int c = 0; c < ch; ++c) {
    int32_t acc = bias[c], outside = 0;
    for (int t = 0; t < n; ++t) acc += ip[t][c] * wp[t][c];
    for (int t = 0; t < nz; ++t) outside += wz[t][c];
    int32_t v = cgen_mbqm_fast(acc + zp * outside, mult[c], -shift[c]) + out_zp;
    if (v < lo) v = lo;
    if (v > hi) v = hi;
    o[c] = (int8_t)v;
  }
}

/* All outputs of one image (the generator made sure no axis has too many classes). */
static void dw3x3_image(const cgen_conv_params *p, const int8_t *in, int8_t *out) {
  dw_class ys[DW_MAX_CLASSES], xs[DW_MAX_CLASSES];
  const int ny = dw_classes(p->out_h, p->stride_h, p->pad_top, p->in_h, ys);
  const int nx = dw_classes(p->out_w, p->stride_w, p->pad_left, p->in_w, xs);
  if (ny == 0 || nx == 0) return;
  const int ch = p->out_c;
  dw_run g;
  g.row = p->in_w * ch;
  g.ch = ch;
  g.step = p->stride_w * ch;
  g.in_rows = p->stride_h * g.row;
  g.out_rows = p->out_w * ch;
  g.lo = p->act_min;
  g.hi = p->act_max;
  for (int i = 0; i < ny; ++i) {
    for (int j = 0; j < nx; ++j) {
      g.rows = ys[i].end - ys[i].start;
      g.cols = xs[j].end - xs[j].start;
      if (g.rows * g.cols < DW_MIN_REGION) {
        for (int oy = ys[i].start; oy < ys[i].end; ++oy) {
          for (int ox = xs[j].start; ox < xs[j].end; ++ox) {
            dw3x3_pixel(p, in, oy, ox, out + (oy * p->out_w + ox) * ch);
          }
        }
        continue;
      }
      /* Block position (a, b) holds filter tap (a + shift_y, b + shift_x). */
      int tap_at[9], outside[9], n_outside = 0;
      for (int k = 0; k < 9; ++k) tap_at[k] = -1;
      for (int ky = 0; ky < 3; ++ky) {
        for (int kx = 0; kx < 3; ++kx) {
          const int a = ky - ys[i].shift, b = kx - xs[j].shift;
          if (a >= 0 && a < 3 && b >= 0 && b < 3) {
            tap_at[a * 3 + b] = (ky * 3 + kx) * ch;
          } else {
            outside[n_outside++] = (ky * 3 + kx) * ch;
          }
        }
      }
      const int y0 = ys[i].start * p->stride_h - p->pad_top + ys[i].shift;
      const int x0 = xs[j].start * p->stride_w - p->pad_left + xs[j].shift;
      const int8_t *in0 = in + y0 * g.row + x0 * ch;
      int8_t *out0 = out + (ys[i].start * p->out_w + xs[j].start) * ch;
      for (int c = 0; c < ch; ++c) {
        const int8_t *wc = p->weights + c;
        const int32_t r = -p->shift[c];
        dw_chan q;
        int32_t outside_sum = 0;
        for (int k = 0; k < 9; ++k) q.w[k] = tap_at[k] >= 0 ? wc[tap_at[k]] : 0;
        for (int k = 0; k < n_outside; ++k) outside_sum += wc[outside[k]];
        q.bias = p->bias[c] + p->in_zp * outside_sum;
        q.m = p->mult[c];
        q.r = r;
        q.round = (int32_t)(((uint32_t)1 << (r - 1)) + ((uint32_t)(int32_t)p->out_zp << r));
        g.in = in0 + c;
        g.out = out0 + c;
        dw3x3_region(&g, &q);
      }
    }
  }
}

void cgen_depthwise_3x3(const cgen_conv_params *p, const int8_t *in, int8_t *out) {
  const int in_size = p->in_h * p->in_w * p->in_c;
  const int out_size = p->out_h * p->out_w * p->out_c;
  for (int b = 0; b < p->batches; ++b) dw3x3_image(p, in + b * in_size, out + b * out_size);
}
