/*
 * cgen_conv.c - optimized int8 CONV_2D (and FULLY_CONNECTED as a 1x1 conv).
 *
 * Data prepared by the generator:
 *  - weights: output channels in blocks of 8, then single channels. A block is
 *    stored as [k_h][k_w][in_c][8]: the 8 weights one input byte meets are adjacent.
 *  - bias[c] = bias[c] - in_zp * sum(weights of c): the input offset is folded
 *    in, so the inner loops multiply raw int8 inputs. Taps in the zero padding
 *    then lack their -in_zp * w share, so border pixels add in_zp * (sum of
 *    their outside weights) to reproduce TFLite's result exactly.
 * Pixels run in pairs (2 pixels x 8 channels of accumulators in registers).
 * Both pixels of a pair have the same window clipping: pairs run along x in
 * rows whose columns are all inside, along y in border columns; only corners
 * and odd leftovers run one at a time.
 */
#include "cgen_kernels.h"
#include "cgen_params.h"

/* a_l += x * w_l over n inputs, 8 interleaved channels; two inputs per iteration. */
#define DOT_1X8(ip, wp, n, A)                                               \
  do {                                                                      \
    const int8_t *ip_ = (ip);                                               \
    const int8_t *wp_ = (wp);                                               \
    int n_ = (n);                                                           \
    for (; n_ >= 2; n_ -= 2, ip_ += 2, wp_ += 16) {                         \
      int32_t x_ = ip_[0];                                                  \
      A##0 += x_ * wp_[0]; A##1 += x_ * wp_[1]; A##2 += x_ * wp_[2];        \
      A##3 += x_ * wp_[3]; A##4 += x_ * wp_[4]; A##5 += x_ * wp_[5];        \
      A##6 += x_ * wp_[6]; A##7 += x_ * wp_[7];                             \
      x_ = ip_[1];                                                          \
      A##0 += x_ * wp_[8]; A##1 += x_ * wp_[9]; A##2 += x_ * wp_[10];       \
      A##3 += x_ * wp_[11]; A##4 += x_ * wp_[12]; A##5 += x_ * wp_[13];     \
      A##6 += x_ * wp_[14]; A##7 += x_ * wp_[15];                           \
    }                                                                       \
    if (n_) {                                                               \
      const int32_t x_ = ip_[0];                                            \
      A##0 += x_ * wp_[0]; A##1 += x_ * wp_[1]; A##2 += x_ * wp_[2];        \
      A##3 += x_ * wp_[3]; A##4 += x_ * wp_[4]; A##5 += x_ * wp_[5];        \
      A##6 += x_ * wp_[6]; A##7 += x_ * wp_[7];                             \
    }                                                                       \
  } while (0)

#if defined(__GNUC__)
#define CGEN_NOINLINE __attribute__((noinline))
#else
#define CGEN_NOINLINE
#endif

/* Keeps GCC's scheduler from hoisting all eight weight loads of a step (which
 * spills accumulators on 32-bit RISC-V); emits no instruction. */
#if defined(__GNUC__)
#define CGEN_SCHED_BARRIER() __asm__ volatile("" ::: "memory")
#else
#define CGEN_SCHED_BARRIER() ((void)0)
#endif

/* Two pixels whose inputs are `off` bytes apart share every weight load. */
#define DOT_2X8(ip, off, wp, n, A, B)                                               \
  do {                                                                              \
    const int8_t *ip_ = (ip);                                                       \
    const int8_t *iq_ = ip_ + (off);                                                \
    const int8_t *wp_ = (wp);                                                       \
    for (int n_ = (n); n_ > 0; --n_, wp_ += 8) {                                    \
      const int32_t x_ = *ip_++, y_ = *iq_++;                                       \
      int32_t w_ = wp_[0]; A##0 += x_ * w_; B##0 += y_ * w_;                        \
      w_ = wp_[1]; A##1 += x_ * w_; B##1 += y_ * w_;                                \
      w_ = wp_[2]; A##2 += x_ * w_; B##2 += y_ * w_;                                \
      w_ = wp_[3]; A##3 += x_ * w_; B##3 += y_ * w_;                                \
      CGEN_SCHED_BARRIER();                                                         \
      w_ = wp_[4]; A##4 += x_ * w_; B##4 += y_ * w_;                                \
      w_ = wp_[5]; A##5 += x_ * w_; B##5 += y_ * w_;                                \
      w_ = wp_[6]; A##6 += x_ * w_; B##6 += y_ * w_;                                \
      w_ = wp_[7]; A##7 += x_ * w_; B##7 += y_ * w_;                                \
    }                                                                               \
  } while (0)

/* Eight accumulators A0..A7 initialised from b[c..c+7]. */
#define LOAD8(A, b, c)                                                                  \
  int32_t A##0 = b[c], A##1 = b[c + 1], A##2 = b[c + 2], A##3 = b[c + 3], A##4 = b[c + 4], \
          A##5 = b[c + 5], A##6 = b[c + 6], A##7 = b[c + 7]

/* Requantize eight accumulators of channels c..c+7 into o[c..c+7]. */
#define STORE8(p, o, A, c)                                                   \
  do {                                                                       \
    const int32_t acc_[8] = {A##0, A##1, A##2, A##3, A##4, A##5, A##6, A##7}; \
    cgen_requant_store(p, acc_, 8, c, (o) + (c));                            \
  } while (0)

/* Filter taps [ky0,ky1) x [kx0,kx1) that fall inside the input, plus the byte
 * offsets and weight offsets needed to walk them. */
typedef struct {
  int ky0, ky1, kx0, kx1;
  int nseg, seg_len, seg_step; /* one run per filter row without x-dilation */
  int row_step;                /* input bytes between filter rows */
  int w_first, w_row;          /* weight groups before the first tap / per filter row */
  int ksize;                   /* weights per output channel */
  int correct;                 /* clipped with a non-zero input zero point */
} win_t;

static inline int ceil_div(int a, int d) { return (a + d - 1) / d; }

/* The window of output pixel (oy, ox); *first = its first in-image tap. */
static win_t window_of(const cgen_conv_params *p, const int8_t *in, int oy, int ox,
                       const int8_t **first) {
  win_t w;
  const int in_c = p->in_c, k_w = p->k_w;
  const int iy0 = oy * p->stride_h - p->pad_top;
  const int ix0 = ox * p->stride_w - p->pad_left;
  w.ky0 = iy0 < 0 ? ceil_div(-iy0, p->dil_h) : 0;
  w.kx0 = ix0 < 0 ? ceil_div(-ix0, p->dil_w) : 0;
  w.ky1 = ceil_div(p->in_h - iy0, p->dil_h);
  w.kx1 = ceil_div(p->in_w - ix0, p->dil_w);
  w.ky1 = w.ky1 < p->k_h ? w.ky1 : p->k_h;
  w.kx1 = w.kx1 < k_w ? w.kx1 : k_w;
  if (w.ky1 < w.ky0) w.ky1 = w.ky0;
  if (w.kx1 < w.kx0) w.kx1 = w.kx0;
  w.nseg = p->dil_w == 1 ? (w.kx1 > w.kx0 ? 1 : 0) : w.kx1 - w.kx0;
  w.seg_len = p->dil_w == 1 ? (w.kx1 - w.kx0) * in_c : in_c;
  w.seg_step = p->dil_w * in_c;
  w.row_step = p->dil_h * p->in_w * in_c;
  w.w_first = (w.ky0 * k_w + w.kx0) * in_c;
  w.w_row = k_w * in_c;
  w.ksize = p->k_h * k_w * in_c;
  w.correct = p->in_zp != 0 && (w.ky0 > 0 || w.kx0 > 0 || w.ky1 < p->k_h || w.kx1 < k_w);
  *first = in;
  if (w.ky0 < w.ky1 && w.kx0 < w.kx1) {
    *first += ((iy0 + w.ky0 * p->dil_h) * p->in_w + ix0 + w.kx0 * p->dil_w) * in_c;
  }
  return w;
}

/* Per-lane sums of n weight groups of `lanes` interleaved channels. */
static inline void weight_sums(const int8_t *w, int n, int lanes, int32_t *sums) {
  for (int i = 0; i < n; ++i, w += lanes) {
    for (int l = 0; l < lanes; ++l) sums[l] += w[l];
  }
}

/* in_zp * (weights of the taps outside the window), per lane: what the padding adds. */
static void outside_correction(const cgen_conv_params *p, const win_t *w, const int8_t *wblock,
                               int lanes, int32_t *corr) {
  int32_t sums[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  const int in_c = p->in_c;
  for (int ky = 0; ky < p->k_h; ++ky) {
    const int8_t *wr = wblock + ky * w->w_row * lanes;
    if (ky < w->ky0 || ky >= w->ky1) {
      weight_sums(wr, w->w_row, lanes, sums);
    } else {
      weight_sums(wr, w->kx0 * in_c, lanes, sums);
      weight_sums(wr + w->kx1 * in_c * lanes, (p->k_w - w->kx1) * in_c, lanes, sums);
    }
  }
  for (int l = 0; l < lanes; ++l) corr[l] = p->in_zp * sums[l];
}

/* A_l += c[l], l = 0..7 */
#define ADD8(A, c)                                                        \
  do {                                                                    \
    A##0 += c[0], A##1 += c[1], A##2 += c[2], A##3 += c[3];               \
    A##4 += c[4], A##5 += c[5], A##6 += c[6], A##7 += c[7];               \
  } while (0)

/* Two output pixels with the same window: inputs `in_off` apart (ib: the first
 * pixel's first tap), outputs `out_off` apart. */
static CGEN_NOINLINE void conv_pair(const cgen_conv_params *p, const win_t *w, const int8_t *ib,
                                   int in_off, int8_t *o, int out_off) {
  const int32_t *bias = p->bias;
  const int out_c = p->out_c, in_c = p->in_c;
  const int ky0 = w->ky0, ky1 = w->ky1, nseg = w->nseg, seg_len = w->seg_len;
  const int seg_step = w->seg_step, row_step = w->row_step;
  const int8_t *wb = p->weights;
  int8_t *o2 = o + out_off;
  int32_t corr[8];
  int oc = 0;
  for (; oc + 8 <= out_c; oc += 8, wb += 8 * w->ksize) {
    LOAD8(a, bias, oc);
    LOAD8(b, bias, oc);
    const int8_t *ir = ib;
    const int8_t *wr = wb + 8 * w->w_first;
    for (int ky = ky0; ky < ky1; ++ky, ir += row_step, wr += 8 * w->w_row) {
      const int8_t *is = ir;
      const int8_t *ws = wr;
      for (int s = 0; s < nseg; ++s, is += seg_step, ws += 8 * in_c) {
        DOT_2X8(is, in_off, ws, seg_len, a, b);
      }
    }
    if (w->correct) {
      outside_correction(p, w, wb, 8, corr);
      ADD8(a, corr);
      ADD8(b, corr);
    }
    STORE8(p, o, a, oc);
    STORE8(p, o2, b, oc);
  }
  for (; oc < out_c; ++oc, wb += w->ksize) {
    int32_t a0 = bias[oc], b0 = a0;
    const int8_t *ir = ib;
    const int8_t *wr = wb + w->w_first;
    for (int ky = ky0; ky < ky1; ++ky, ir += row_step, wr += w->w_row) {
      const int8_t *is = ir;
      const int8_t *ws = wr;
      for (int s = 0; s < nseg; ++s, is += seg_step, ws += in_c) {
        const int8_t *iq = is + in_off;
        for (int j = 0; j < seg_len; ++j) {
          a0 += (int32_t)is[j] * ws[j];
          b0 += (int32_t)iq[j] * ws[j];
        }
      }
    }
    if (w->correct) {
      outside_correction(p, w, wb, 1, corr);
      a0 += corr[0];
      b0 += corr[0];
    }
    const int32_t acc[2] = {a0, b0};
    cgen_requant_store(p, acc, 1, oc, o + oc);
    cgen_requant_store(p, acc + 1, 1, oc, o2 + oc);
  }
}

/* One output pixel (ib: its first tap). */
static CGEN_NOINLINE void conv_pixel(const cgen_conv_params *p, const win_t *w, const int8_t *ib,
                                    int8_t *o) {
  const int32_t *bias = p->bias;
  const int out_c = p->out_c, in_c = p->in_c;
  const int ky0 = w->ky0, ky1 = w->ky1, nseg = w->nseg, seg_len = w->seg_len;
  const int seg_step = w->seg_step, row_step = w->row_step;
  const int8_t *wb = p->weights;
  int32_t corr[8];
  int oc = 0;
  for (; oc + 8 <= out_c; oc += 8, wb += 8 * w->ksize) {
    LOAD8(a, bias, oc);
    const int8_t *ir = ib;
    const int8_t *wr = wb + 8 * w->w_first;
    for (int ky = ky0; ky < ky1; ++ky, ir += row_step, wr += 8 * w->w_row) {
      const int8_t *is = ir;
      const int8_t *ws = wr;
      for (int s = 0; s < nseg; ++s, is += seg_step, ws += 8 * in_c) DOT_1X8(is, ws, seg_len, a);
    }
    if (w->correct) {
      outside_correction(p, w, wb, 8, corr);
      ADD8(a, corr);
    }
    STORE8(p, o, a, oc);
  }
  for (; oc < out_c; ++oc, wb += w->ksize) {
    int32_t a0 = bias[oc];
    const int8_t *ir = ib;
    const int8_t *wr = wb + w->w_first;
    for (int ky = ky0; ky < ky1; ++ky, ir += row_step, wr += w->w_row) {
      const int8_t *is = ir;
      const int8_t *ws = wr;
      for (int s = 0; s < nseg; ++s, is += seg_step, ws += in_c) {
        for (int j = 0; j < seg_len; ++j) a0 += (int32_t)is[j] * ws[j];
      }
    }
    if (w->correct) {
      outside_correction(p, w, wb, 1, corr);
      a0 += corr[0];
    }
    const int32_t acc = a0;
    cgen_requant_store(p, &acc, 1, oc, o + oc);
  }
}

/* n output pixels from (oy, ox) in steps of (dy, dx), all with the same window. */
static void conv_span(const cgen_conv_params *p, const int8_t *in, int8_t *out, int oy, int ox,
                      int dy, int dx, int n) {
  const int8_t *ib;
  const win_t w = window_of(p, in, oy, ox, &ib);
  const int has_taps = w.ky0 < w.ky1 && w.kx0 < w.kx1;
  const int in_step = has_taps ? (dy * p->stride_h * p->in_w + dx * p->stride_w) * p->in_c : 0;
  const int out_step = (dy * p->out_w + dx) * p->out_c;
  int8_t *o = out + (oy * p->out_w + ox) * p->out_c;
  int i = 0;
  for (; i + 1 < n; i += 2, ib += 2 * in_step, o += 2 * out_step) {
    conv_pair(p, &w, ib, in_step, o, out_step);
  }
  if (i < n) conv_pixel(p, &w, ib, o);
}

static void conv_image(const cgen_conv_params *p, const int8_t *in, int8_t *out) {
  const int y_lo = p->y_lo, y_hi = p->y_hi, x_lo = p->x_lo, x_hi = p->x_hi;
  const int rows = y_hi - y_lo, cols = x_hi - x_lo;
  /* Interior: whole windows. */
  if (rows > 0 && cols > 0) {
    if (p->pair_vertical) {
      for (int ox = x_lo; ox < x_hi; ++ox) conv_span(p, in, out, y_lo, ox, 1, 0, rows);
    } else {
      for (int oy = y_lo; oy < y_hi; ++oy) conv_span(p, in, out, oy, x_lo, 0, 1, cols);
    }
  }
  /* Border rows: clipped rows, whole columns in the middle, corners alone. */
  for (int oy = 0; oy < p->out_h; ++oy) {
    if (oy >= y_lo && oy < y_hi) continue;
    if (cols > 0) conv_span(p, in, out, oy, x_lo, 0, 1, cols);
    for (int ox = 0; ox < p->out_w; ++ox) {
      if (cols <= 0 || ox < x_lo || ox >= x_hi) conv_span(p, in, out, oy, ox, 0, 1, 1);
    }
  }
  /* Border columns of the interior rows: clipped columns, pairs along y. */
  if (rows > 0) {
    for (int ox = 0; ox < p->out_w; ++ox) {
      if (cols <= 0 || ox < x_lo || ox >= x_hi) conv_span(p, in, out, y_lo, ox, 1, 0, rows);
    }
  }
}

void cgen_conv_opt(const cgen_conv_params *p, const int8_t *in, int8_t *out) {
  const int in_size = p->in_h * p->in_w * p->in_c;
  const int out_size = p->out_h * p->out_w * p->out_c;
  for (int b = 0; b < p->batches; ++b) conv_image(p, in + b * in_size, out + b * out_size);
}
