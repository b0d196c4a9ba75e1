/*
 * cgen_pool.c - int8 AVERAGE_POOL_2D and MAX_POOL_2D (input and output share
 * their quantization, as TFLite requires). The average divides by the number
 * of in-image taps, rounding half away from zero.
 */
#include "cgen_kernels.h"
#include "cgen_params.h"

typedef struct {
  int y0, y1, x0, x1; /* clipped window rows/cols, relative to iy0/ix0 */
  int iy0, ix0;
} pool_window;

static pool_window window_at(const cgen_pool_params *p, int oy, int ox) {
  pool_window w;
  w.iy0 = oy * p->stride_h - p->pad_top;
  w.ix0 = ox * p->stride_w - p->pad_left;
  w.y0 = w.iy0 < 0 ? -w.iy0 : 0;
  w.x0 = w.ix0 < 0 ? -w.ix0 : 0;
  w.y1 = p->in_h - w.iy0 < p->k_h ? p->in_h - w.iy0 : p->k_h;
  w.x1 = p->in_w - w.ix0 < p->k_w ? p->in_w - w.ix0 : p->k_w;
  return w;
}

void cgen_avg_pool(const cgen_pool_params *p, const int8_t *in, int8_t *out) {
  const int ch = p->channels;
  for (int b = 0; b < p->batches; ++b) {
    const int8_t *img = in + b * p->in_h * p->in_w * ch;
    for (int oy = 0; oy < p->out_h; ++oy) {
      for (int ox = 0; ox < p->out_w; ++ox) {
        const pool_window w = window_at(p, oy, ox);
        const int count = (w.y1 - w.y0) * (w.x1 - w.x0);
        for (int c = 0; c < ch; ++c) {
          int32_t acc = 0;
          for (int y = w.y0; y < w.y1; ++y) {
            const int8_t *ip = img + ((w.iy0 + y) * p->in_w + w.ix0 + w.x0) * ch + c;
            for (int x = w.x0; x < w.x1; ++x, ip += ch) acc += *ip;
          }
          /* A window without in-image taps is impossible for a valid TFLite model. */
          if (count > 0) {
            acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
          }
          *out++ = cgen_clamp_i8(acc, p->act_min, p->act_max);
        }
      }
    }
  }
}

void cgen_max_pool(const cgen_pool_params *p, const int8_t *in, int8_t *out) {
  const int ch = p->channels;
  for (int b = 0; b < p->batches; ++b) {
    const int8_t *img = in + b * p->in_h * p->in_w * ch;
    for (int oy = 0; oy < p->out_h; ++oy) {
      for (int ox = 0; ox < p->out_w; ++ox) {
        const pool_window w = window_at(p, oy, ox);
        for (int c = 0; c < ch; ++c) {
          int32_t m = -128;
          for (int y = w.y0; y < w.y1; ++y) {
            const int8_t *ip = img + ((w.iy0 + y) * p->in_w + w.ix0 + w.x0) * ch + c;
            for (int x = w.x0; x < w.x1; ++x, ip += ch) m = *ip > m ? *ip : m;
          }
          *out++ = cgen_clamp_i8(m, p->act_min, p->act_max);
        }
      }
    }
  }
}
