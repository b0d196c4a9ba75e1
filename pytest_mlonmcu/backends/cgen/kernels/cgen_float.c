/*
 * cgen_float.c - float32 kernels, computed as TFLite Micro's float reference
 * kernels compute them: the same loops, the same order of additions, the fused
 * activation as std::min(std::max(x, lo), hi), expf and tanhf from the C
 * library. Every target compiles with -ffp-contract=off (no fused multiply-add),
 * so products and sums round exactly as TFLM's do; results differ only where the
 * target's C library rounds expf or tanhf differently from the host's.
 *
 * Each kernel reads the shape from its int8 operator's struct (zero points and
 * multipliers unused) and its float constants from cgen_float_params.
 */
#include <float.h>
#include <math.h>
#include <string.h>


#include "cgen_kernels.h"
#include "cgen_params.h"

/* ActivationFunctionWithMinMax: std::max(x, lo) then std::min(that, hi). */
static inline float act(cgen_fp *f, float x) {
  x = x < f->act_min ? f->act_min : x;
  return f->act_max < x ? f->act_max : x;
}

static inline float bias_of(cgen_fp *f, int c) { return f->bias ? f->bias[c] : 0.0f; }

void cgen_conv_f32(const cgen_conv_params *p, cgen_fp *f, const float *in, float *out) {
  for (int b = 0; b < p->batches; ++b) {
    for (int oy = 0; oy < p->out_h; ++oy) {
      for (int ox = 0; ox < p->out_w; ++ox) {
        const int iy0 = oy * p->stride_h - p->pad_top;
        const int ix0 = ox * p->stride_w - p->pad_left;
        for (int oc = 0; oc < p->out_c; ++oc) {
          float total = 0.0f;
          for (int ky = 0; ky < p->k_h; ++ky) {
            const int iy = iy0 + ky * p->dil_h;
            for (int kx = 0; kx < p->k_w; ++kx) {
              const int ix = ix0 + kx * p->dil_w;
              if (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w) continue;
              const float *ip = in + ((b * p->in_h + iy) * p->in_w + ix) * p->in_c;
              const float *wp = f->weights + ((oc * p->k_h + ky) * p->k_w + kx) * p->in_c;
              for (int ic = 0; ic < p->in_c; ++ic) total += ip[ic] * wp[ic];
            }
          }
          out[((b * p->out_h + oy) * p->out_w + ox) * p->out_c + oc] =
              act(f, total + bias_of(f, oc));
        }
      }
    }
  }
}

void cgen_depthwise_f32(const cgen_conv_params *p, cgen_fp *f, const float *in, float *out) {
  const int dm = p->depth_multiplier;
  for (int b = 0; b < p->batches; ++b) {
    for (int oy = 0; oy < p->out_h; ++oy) {
      for (int ox = 0; ox < p->out_w; ++ox) {
        const int iy0 = oy * p->stride_h - p->pad_top;
        const int ix0 = ox * p->stride_w - p->pad_left;
        for (int ic = 0; ic < p->in_c; ++ic) {
          for (int m = 0; m < dm; ++m) {
            const int oc = ic * dm + m;
            float total = 0.0f;
            for (int ky = 0; ky < p->k_h; ++ky) {
              const int iy = iy0 + ky * p->dil_h;
              for (int kx = 0; kx < p->k_w; ++kx) {
                const int ix = ix0 + kx * p->dil_w;
                if (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w) continue;
                const float x = in[((b * p->in_h + iy) * p->in_w + ix) * p->in_c + ic];
                total += x * f->weights[(ky * p->k_w + kx) * p->out_c + oc];
              }
            }
            out[((b * p->out_h + oy) * p->out_w + ox) * p->out_c + oc] =
                act(f, total + bias_of(f, oc));
          }
        }
      }
    }
  }
}

/* batches rows of in_c inputs; weights [out_c][in_c]. */
void cgen_fc_f32(const cgen_conv_params *p, cgen_fp *f, const float *in, float *out) {
  for (int b = 0; b < p->batches; ++b) {
    const float *x = in + b * p->in_c;
    for (int oc = 0; oc < p->out_c; ++oc) {
      const float *w = f->weights + oc * p->in_c;
      float total = 0.0f;
      for (int d = 0; d < p->in_c; ++d) total += x[d] * w[d];
      out[b * p->out_c + oc] = act(f, total + bias_of(f, oc));
    }
  }
}

/* The window of output pixel (oy, ox) clamped to the input, as TFLM's pools. */
#define POOL_WINDOW(p)                                                      \
  const int iy0 = oy * p->stride_h - p->pad_top;                            \
  const int ix0 = ox * p->stride_w - p->pad_left;                           \
  const int fy0 = iy0 < 0 ? -iy0 : 0;                                       \
  const int fx0 = ix0 < 0 ? -ix0 : 0;                                       \
  const int fy1 = p->k_h < p->in_h - iy0 ? p->k_h : p->in_h - iy0;          \
  const int fx1 = p->k_w < p->in_w - ix0 ? p->k_w : p->in_w - ix0

void cgen_avg_pool_f32(const cgen_pool_params *p, cgen_fp *f, const float *in, float *out) {
  for (int b = 0; b < p->batches; ++b) {
    for (int oy = 0; oy < p->out_h; ++oy) {
      for (int ox = 0; ox < p->out_w; ++ox) {
        for (int c = 0; c < p->channels; ++c) {
          POOL_WINDOW(p);
          float total = 0.0f, count = 0.0f;
          for (int fy = fy0; fy < fy1; ++fy) {
            for (int fx = fx0; fx < fx1; ++fx) {
              total += in[((b * p->in_h + iy0 + fy) * p->in_w + ix0 + fx) * p->channels + c];
              count += 1.0f;
            }
          }
          out[((b * p->out_h + oy) * p->out_w + ox) * p->channels + c] = act(f, total / count);
        }
      }
    }
  }
}

void cgen_max_pool_f32(const cgen_pool_params *p, cgen_fp *f, const float *in, float *out) {
  for (int b = 0; b < p->batches; ++b) {
    for (int oy = 0; oy < p->out_h; ++oy) {
      for (int ox = 0; ox < p->out_w; ++ox) {
        for (int c = 0; c < p->channels; ++c) {
          POOL_WINDOW(p);
          float max = -FLT_MAX;
          for (int fy = fy0; fy < fy1; ++fy) {
            for (int fx = fx0; fx < fx1; ++fx) {
              const float v =
                  in[((b * p->in_h + iy0 + fy) * p->in_w + ix0 + fx) * p->channels + c];
              max = max < v ? v : max; /* std::max(max, v) */
            }
          }
          out[((b * p->out_h + oy) * p->out_w + ox) * p->channels + c] = act(f, max);
        }
      }
    }
  }
}

/* MEAN and SUM add the inputs of each output in input order, as TFLM; MEAN then divides
 * by the count as a float. */
static void reduce_sum(const cgen_mean_params *p, const float *in, float *out, int mean) {
  for (int32_t o = 0; o < p->outer; ++o) {
    for (int32_t i = 0; i < p->inner; ++i) {
      float sum = 0.0f;
      for (int32_t r = 0; r < p->reduce; ++r) sum += in[(o * p->reduce + r) * p->inner + i];
      out[o * p->inner + i] = mean ? sum / (float)p->reduce : sum;
    }
  }
}

void cgen_mean_f32(const cgen_mean_params *p, cgen_fp *f, const float *in, float *out) {
  (void)f;
  reduce_sum(p, in, out, 1);
}

void cgen_sum_f32(const cgen_mean_params *p, cgen_fp *f, const float *in, float *out) {
  (void)f;
  reduce_sum(p, in, out, 0);
}

/* REDUCE_MAX / REDUCE_MIN: from lowest() / max(), TFLM's comparisons. */
static void reduce_extreme(const cgen_mean_params *p, const float *in, float *out, int is_max) {
  for (int32_t o = 0; o < p->outer; ++o) {
    for (int32_t i = 0; i < p->inner; ++i) {
      float v = is_max ? -FLT_MAX : FLT_MAX;
      for (int32_t r = 0; r < p->reduce; ++r) {
        const float x = in[(o * p->reduce + r) * p->inner + i];
        v = is_max ? (x > v ? x : v) : (x < v ? x : v);
      }
      out[o * p->inner + i] = v;
    }
  }
}

void cgen_reduce_max_f32(const cgen_mean_params *p, cgen_fp *f, const float *in, float *out) {
  (void)f;
  reduce_extreme(p, in, out, 1);
}

void cgen_reduce_min_f32(const cgen_mean_params *p, cgen_fp *f, const float *in, float *out) {
  (void)f;
  reduce_extreme(p, in, out, 0);
}

/* exp((x - max) * beta), summed, then each divided by the sum. */
void cgen_softmax_f32(const cgen_softmax_params *p, cgen_fp *f, const float *in, float *out) {
  const float beta = f->value;
  for (int32_t o = 0; o < p->outer; ++o) {
    const float *x = in + o * p->depth;
    float *y = out + o * p->depth;
    float max = -FLT_MAX;
    for (int32_t c = 0; c < p->depth; ++c) max = max < x[c] ? x[c] : max;
    float sum = 0.0f;
    for (int32_t c = 0; c < p->depth; ++c) {
      const float e = expf((x[c] - max) * beta);
      y[c] = e;
      sum += e;
    }
    for (int32_t c = 0; c < p->depth; ++c) y[c] = y[c] / sum;
  }
}

void cgen_pad_f32(const cgen_pad_params *p, cgen_fp *f, const float *in, float *out) {
  const int32_t *id = p->in_dims, *od = p->out_dims, *b = p->before;
  const int32_t total = od[0] * od[1] * od[2] * od[3];
  for (int32_t i = 0; i < total; ++i) out[i] = f->value;
  for (int32_t i0 = 0; i0 < id[0]; ++i0) {
    for (int32_t i1 = 0; i1 < id[1]; ++i1) {
      for (int32_t i2 = 0; i2 < id[2]; ++i2) {
        const float *src = in + ((i0 * id[1] + i1) * id[2] + i2) * id[3];
        float *dst = out + (((i0 + b[0]) * od[1] + i1 + b[1]) * od[2] + i2 + b[2]) * od[3] + b[3];
        memcpy(dst, src, (size_t)id[3] * sizeof(float));
      }
    }
  }
}

/* Binary operators with broadcasting (CGEN_BROADCAST_LOOP reads p, in1, in2, out). */
#define ADD_ONE(p, x, y) act(f, (x) + (y))
#define SUB_ONE(p, x, y) act(f, (x) - (y))
#define MUL_ONE(p, x, y) act(f, (x) * (y))
#define MAX_ONE(p, x, y) ((x) > (y) ? (x) : (y))
#define MIN_ONE(p, x, y) ((x) < (y) ? (x) : (y))
#define SQDIFF_ONE(p, x, y) (((x) - (y)) * ((x) - (y)))
#define PRELU_ONE(p, x, alpha) ((x) >= 0.0f ? (x) : (x) * (alpha))

/* (void)f: MAXIMUM, MINIMUM, SQUARED_DIFFERENCE and PRELU have no activation. */
#define FLOAT_BINARY(NAME, ONE)                                                      \
  void NAME(const cgen_binary_params *p, cgen_fp *f, const float *in1, const float *in2, \
            float *out) {                                                            \
    (void)f;                                                                         \
    CGEN_BROADCAST_LOOP(float, ONE);                                                 \
  }

FLOAT_BINARY(cgen_add_f32, ADD_ONE)
FLOAT_BINARY(cgen_sub_f32, SUB_ONE)
FLOAT_BINARY(cgen_mul_f32, MUL_ONE)
FLOAT_BINARY(cgen_maximum_f32, MAX_ONE)
FLOAT_BINARY(cgen_minimum_f32, MIN_ONE)
FLOAT_BINARY(cgen_squared_difference_f32, SQDIFF_ONE)
FLOAT_BINARY(cgen_prelu_f32, PRELU_ONE) /* input 2: the slopes */

/* Elementwise. LOGISTIC: TFLM's cut-offs, then 1 / (1 + exp(-x)). */
void cgen_logistic_f32(int32_t n, cgen_fp *f, const float *in, float *out) {
  (void)f;
  for (int32_t i = 0; i < n; ++i) {
    const float v = in[i];
    out[i] = v > 16.619047164916992188f ? 1.0f : v < -9.0f ? expf(v) : 1.0f / (1.0f + expf(-v));
  }
}

void cgen_tanh_f32(int32_t n, cgen_fp *f, const float *in, float *out) {
  (void)f;
  for (int32_t i = 0; i < n; ++i) out[i] = tanhf(in[i]);
}

void cgen_leaky_relu_f32(int32_t n, cgen_fp *f, const float *in, float *out) {
  const float alpha = f->value;
  for (int32_t i = 0; i < n; ++i) out[i] = in[i] > 0.0f ? in[i] : in[i] * alpha;
}

/* x * min(6, max(0, x + 3)) / 6, the products in TFLM's order. */
void cgen_hard_swish_f32(int32_t n, cgen_fp *f, const float *in, float *out) {
  (void)f;
  for (int32_t i = 0; i < n; ++i) {
    const float x = in[i];
    float r = x + 3.0f;
    r = 0.0f < r ? r : 0.0f;
    r = r < 6.0f ? r : 6.0f;
    out[i] = x * r / 6.0f;
  }
}
