/*
 * cgen_kernels.h - int8 kernels called by code that the cgen backend generates.
 *
 * The arithmetic follows TFLite's public quantization scheme (per-channel
 * multiplier/shift, rounding doubling high multiply, rounding divide by a power
 * of two), so that results are bit-exact with the TFLite Micro reference kernels.
 * All shapes and quantization constants are computed by the generator and passed
 * in constant parameter structs (ROM); the kernels never allocate memory.
 *
 * Assumes two's complement integers and arithmetic right shifts of negative
 * values (true for GCC and Clang on every target the project uses).
 */
#ifndef CGEN_KERNELS_H
#define CGEN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------ */
/* Fixed-point helpers                                                       */
/* ------------------------------------------------------------------------ */

/* gemmlowp SaturatingRoundingDoublingHighMul. (ab + nudge) / 2^31 truncated
 * toward zero equals floor((ab + 2^30) / 2^31) for both signs of ab. */
static inline int32_t cgen_srdhm(int32_t a, int32_t b) {
  if (a == b && a == INT32_MIN) return INT32_MAX;
  return (int32_t)(((int64_t)a * b + ((int64_t)1 << 30)) >> 31);
}

/* gemmlowp RoundingDivideByPOT: round half away from zero, 0 <= e <= 31. */
static inline int32_t cgen_rdbpot(int32_t x, int e) {
  const int32_t mask = (int32_t)(((uint32_t)1 << e) - 1u);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> e) + (remainder > threshold ? 1 : 0);
}

/* TFLite MultiplyByQuantizedMultiplier (double-rounding form). */
static inline int32_t cgen_mbqm(int32_t x, int32_t multiplier, int shift) {
  const int left = shift > 0 ? shift : 0;
  const int right = shift > 0 ? 0 : -shift;
  return cgen_rdbpot(cgen_srdhm((int32_t)((uint32_t)x << left), multiplier), right);
}

/* The same result for a positive multiplier and shift <= -1, when the generator
 * has proven |acc| small enough that x + 2^(r-1) cannot overflow. */
static inline int32_t cgen_mbqm_fast(int32_t acc, int32_t multiplier, int32_t right) {
  const int32_t x = (int32_t)(((int64_t)acc * multiplier + ((int64_t)1 << 30)) >> 31);
  return (x + (int32_t)(1 << (right - 1)) - (int32_t)((uint32_t)x >> 31)) >> right;
}

static inline int8_t cgen_clamp_i8(int32_t v, int32_t lo, int32_t hi) {
  v = v < lo ? lo : v;
  v = v > hi ? hi : v;
  return (int8_t)v;
}

/* The body of a broadcasting binary kernel on elements of type T: walks the
 * output in order, the innermost dimension a strided loop; ONE(p, a, b) gives
 * one output element (p: the cgen_binary_params, in1/in2/out: the tensors). */
#define CGEN_BROADCAST_LOOP(T, ONE)                                                \
  do {                                                                             \
    const int nd = p->ndim;                                                        \
    const int32_t inner = p->out_dims[nd - 1];                                     \
    const int32_t s1 = p->in1_strides[nd - 1], s2 = p->in2_strides[nd - 1];        \
    int32_t idx[CGEN_MAX_DIMS] = {0};                                              \
    int32_t outer = 1;                                                             \
    for (int d = 0; d < nd - 1; ++d) outer *= p->out_dims[d];                      \
    for (int32_t o = 0; o < outer; ++o) {                                          \
      int32_t off1 = 0, off2 = 0;                                                  \
      for (int d = 0; d < nd - 1; ++d) {                                           \
        off1 += idx[d] * p->in1_strides[d];                                        \
        off2 += idx[d] * p->in2_strides[d];                                        \
      }                                                                            \
      const T *a = in1 + off1;                                                     \
      const T *b = in2 + off2;                                                     \
      for (int32_t i = 0; i < inner; ++i, a += s1, b += s2) *out++ = ONE(p, *a, *b); \
      for (int d = nd - 2; d >= 0; --d) {                                          \
        if (++idx[d] < p->out_dims[d]) break;                                      \
        idx[d] = 0;                                                                \
      }                                                                            \
    }                                                                              \
  } while (0)

/* ------------------------------------------------------------------------ */
/* Parameter structs                                                         */
/* ------------------------------------------------------------------------ */

/* Their layouts are generated from pytest_mlonmcu/backends/cgen/params.py into
 * cgen_params.h beside the generated model, so the kernels and the generated
 * initializers always agree; the kernels and the model include it after this
 * header, which only names the structs. */
typedef struct cgen_conv_params cgen_conv_params; /* CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED */
typedef struct cgen_fc16_params cgen_fc16_params; /* FULLY_CONNECTED, int16 activations */
typedef struct cgen_float_params cgen_float_params; /* float32: weights, bias, activation */
typedef struct cgen_pool_params cgen_pool_params;
typedef struct cgen_softmax_params cgen_softmax_params;
typedef struct cgen_binary_params cgen_binary_params; /* ADD, SUB, MUL, MAX/MINIMUM, PRELU */
typedef struct cgen_quant_params cgen_quant_params;   /* QUANTIZE, DEQUANTIZE */
typedef struct cgen_activation_params cgen_activation_params; /* LOGISTIC, TANH */
typedef struct cgen_mean_params cgen_mean_params;
typedef struct cgen_pad_params cgen_pad_params;
typedef struct cgen_concat_params cgen_concat_params;
typedef struct cgen_gather_params cgen_gather_params; /* TRANSPOSE, (STRIDED_)SLICE, SPLIT, RESIZE_NN */
typedef struct cgen_leaky_relu_params cgen_leaky_relu_params;
typedef struct cgen_hard_swish_params cgen_hard_swish_params;
typedef struct cgen_lut_params cgen_lut_params; /* RSQRT */
typedef struct cgen_gather_indices_params cgen_gather_indices_params; /* GATHER, run-time indices */

/* ------------------------------------------------------------------------ */
/* Kernels                                                                   */
/* ------------------------------------------------------------------------ */

/* Optimized (generator-specialised data layout, folded input offset). */
void cgen_requant_store(const cgen_conv_params *p, const int32_t *acc, int n, int oc, int8_t *o);
void cgen_conv_opt(const cgen_conv_params *p, const int8_t *in, int8_t *out);
void cgen_depthwise_opt(const cgen_conv_params *p, const int8_t *in, int8_t *out);
void cgen_depthwise_3x3(const cgen_conv_params *p, const int8_t *in, int8_t *out);

/* Reference: plain loops on TFLite's layouts, as TFLite Micro's reference kernels. */
void cgen_conv_ref(const cgen_conv_params *p, const int8_t *in, int8_t *out);
void cgen_depthwise_ref(const cgen_conv_params *p, const int8_t *in, int8_t *out);
void cgen_fc_ref(const cgen_conv_params *p, const int8_t *in, int8_t *out);
void cgen_fc_int16(const cgen_fc16_params *p, const int16_t *in, int16_t *out);

void cgen_avg_pool(const cgen_pool_params *p, const int8_t *in, int8_t *out);
void cgen_max_pool(const cgen_pool_params *p, const int8_t *in, int8_t *out);
void cgen_softmax(const cgen_softmax_params *p, const int8_t *in, int8_t *out);
void cgen_add(const cgen_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);
void cgen_mul(const cgen_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);
void cgen_sub(const cgen_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);
void cgen_maximum(const cgen_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);
void cgen_minimum(const cgen_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);
void cgen_prelu(const cgen_binary_params *p, const int8_t *in1, const int8_t *alpha, int8_t *out);
void cgen_squared_difference(const cgen_binary_params *p, const int8_t *in1, const int8_t *in2,
                             int8_t *out);
void cgen_requantize(const cgen_quant_params *p, const int8_t *in, int8_t *out);
void cgen_quantize_f32(const cgen_quant_params *p, const float *in, int8_t *out);
void cgen_dequantize(const cgen_quant_params *p, const int8_t *in, float *out);
void cgen_logistic(const cgen_activation_params *p, const int8_t *in, int8_t *out);
void cgen_tanh(const cgen_activation_params *p, const int8_t *in, int8_t *out);
void cgen_leaky_relu(const cgen_leaky_relu_params *p, const int8_t *in, int8_t *out);
void cgen_hard_swish(const cgen_hard_swish_params *p, const int8_t *in, int8_t *out);
int cgen_lut(const cgen_lut_params *p, const int8_t *in, int8_t *out); /* 1: an invalid input */
void cgen_mean(const cgen_mean_params *p, const int8_t *in, int8_t *out); /* and SUM */
void cgen_reduce_max(const cgen_mean_params *p, const int8_t *in, int8_t *out);
void cgen_reduce_min(const cgen_mean_params *p, const int8_t *in, int8_t *out);
void cgen_pad(const cgen_pad_params *p, const int8_t *in, int8_t *out);
void cgen_concat(const cgen_concat_params *p, const int8_t *const *inputs, int8_t *out);
void cgen_gather(const cgen_gather_params *p, const void *in, void *out); /* int8 or float */

/* float32 (cgen_float.c): the int8 operator's struct for the shape, cgen_float_params for
 * the float constants. */
typedef const cgen_float_params cgen_fp;
void cgen_conv_f32(const cgen_conv_params *p, cgen_fp *f, const float *in, float *out);
void cgen_depthwise_f32(const cgen_conv_params *p, cgen_fp *f, const float *in, float *out);
void cgen_fc_f32(const cgen_conv_params *p, cgen_fp *f, const float *in, float *out);
void cgen_avg_pool_f32(const cgen_pool_params *p, cgen_fp *f, const float *in, float *out);
void cgen_max_pool_f32(const cgen_pool_params *p, cgen_fp *f, const float *in, float *out);
void cgen_mean_f32(const cgen_mean_params *p, cgen_fp *f, const float *in, float *out);
void cgen_sum_f32(const cgen_mean_params *p, cgen_fp *f, const float *in, float *out);
void cgen_reduce_max_f32(const cgen_mean_params *p, cgen_fp *f, const float *in, float *out);
void cgen_reduce_min_f32(const cgen_mean_params *p, cgen_fp *f, const float *in, float *out);
void cgen_softmax_f32(const cgen_softmax_params *p, cgen_fp *f, const float *in, float *out);
void cgen_pad_f32(const cgen_pad_params *p, cgen_fp *f, const float *in, float *out);
void cgen_add_f32(const cgen_binary_params *p, cgen_fp *f, const float *in1, const float *in2,
                  float *out);
void cgen_sub_f32(const cgen_binary_params *p, cgen_fp *f, const float *in1, const float *in2,
                  float *out);
void cgen_mul_f32(const cgen_binary_params *p, cgen_fp *f, const float *in1, const float *in2,
                  float *out);
void cgen_maximum_f32(const cgen_binary_params *p, cgen_fp *f, const float *in1,
                      const float *in2, float *out);
void cgen_minimum_f32(const cgen_binary_params *p, cgen_fp *f, const float *in1,
                      const float *in2, float *out);
void cgen_squared_difference_f32(const cgen_binary_params *p, cgen_fp *f, const float *in1,
                                 const float *in2, float *out);
void cgen_prelu_f32(const cgen_binary_params *p, cgen_fp *f, const float *in1,
                    const float *alpha, float *out);
/* Elementwise: n values. */
void cgen_logistic_f32(int32_t n, cgen_fp *f, const float *in, float *out);
void cgen_tanh_f32(int32_t n, cgen_fp *f, const float *in, float *out);
void cgen_leaky_relu_f32(int32_t n, cgen_fp *f, const float *in, float *out);
void cgen_hard_swish_f32(int32_t n, cgen_fp *f, const float *in, float *out);
int cgen_gather_indices(const cgen_gather_indices_params *p, const int8_t *in,
                        const int32_t *indices, int8_t *out); /* 1: an index out of range */

/* gemmlowp fixed-point functions (cgen_fixedpoint.c), raw int32 values. */
int32_t cgen_exp_on_negative_values(int32_t a, int integer_bits);
int32_t cgen_one_over_one_plus_x_for_x_in_0_1(int32_t a);
int32_t cgen_one_minus_x_over_one_plus_x_for_x_in_0_1(int32_t a);
int32_t cgen_saturating_rounding_mul_pot(int32_t x, int exponent);

#endif /* CGEN_KERNELS_H */
