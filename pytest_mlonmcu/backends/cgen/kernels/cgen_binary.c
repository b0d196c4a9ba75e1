/*
 * cgen_binary.c - int8 ADD, SUB, MUL, MAXIMUM, MINIMUM, PRELU and SQUARED_DIFFERENCE with
 * numpy-style broadcasting.
 */
#include "cgen_kernels.h"
#include "cgen_params.h"

/* Input 1 or 2 brought to the common scale at 2^left_shift resolution (the step of TFLM's
 * ADD, SUB and SQUARED_DIFFERENCE arithmetic). */
static inline int32_t rescaled(const cgen_binary_params *p, int32_t v, int32_t offset,
                               int32_t mult, int32_t shift) {
  const int32_t shifted = (int32_t)((uint32_t)(v + offset) << p->left_shift);
  return cgen_rdbpot(cgen_srdhm(shifted, mult), -shift);
}

/* ADD keeps its steps written out: through rescaled() GCC compiles resnet's ADD otherwise
 * (3 instructions and 16 bytes of ROM more on rv32gc), and the published counts are pinned. */
static inline int8_t add_one(const cgen_binary_params *p, int32_t x, int32_t y) {
  const int32_t a = (int32_t)((uint32_t)(x + p->in1_offset) << p->left_shift);
  const int32_t b = (int32_t)((uint32_t)(y + p->in2_offset) << p->left_shift);
  const int32_t sa = cgen_rdbpot(cgen_srdhm(a, p->in1_mult), -p->in1_shift);
  const int32_t sb = cgen_rdbpot(cgen_srdhm(b, p->in2_mult), -p->in2_shift);
  const int32_t raw = cgen_rdbpot(cgen_srdhm(sa + sb, p->out_mult), -p->out_shift);
  return cgen_clamp_i8(raw + p->out_offset, p->act_min, p->act_max);
}

/* TFLM's SUB: ADD's rescaling, the second input subtracted. */
static inline int8_t sub_one(const cgen_binary_params *p, int32_t x, int32_t y) {
  const int32_t sa = rescaled(p, x, p->in1_offset, p->in1_mult, p->in1_shift);
  const int32_t sb = rescaled(p, y, p->in2_offset, p->in2_mult, p->in2_shift);
  const int32_t raw = cgen_rdbpot(cgen_srdhm(sa - sb, p->out_mult), -p->out_shift);
  return cgen_clamp_i8(raw + p->out_offset, p->act_min, p->act_max);
}

/* TFLM's SQUARED_DIFFERENCE: both inputs on a common scale (left shift 7), the difference
 * squared, then requantized. */
static inline int8_t sqdiff_one(const cgen_binary_params *p, int32_t x, int32_t y) {
  const int32_t d = rescaled(p, x, p->in1_offset, p->in1_mult, p->in1_shift) -
                    rescaled(p, y, p->in2_offset, p->in2_mult, p->in2_shift);
  const int32_t raw = cgen_mbqm(d * d, p->out_mult, p->out_shift);
  return cgen_clamp_i8(raw + p->out_offset, p->act_min, p->act_max);
}

/* TFLM's PRELU: the input alone on its own multiplier where it is >= 0, else times the
 * slope (input 2) on the product's multiplier. */
static inline int8_t prelu_one(const cgen_binary_params *p, int32_t x, int32_t alpha) {
  const int32_t v = x + p->in1_offset;
  const int32_t y = v >= 0 ? cgen_mbqm(v, p->in1_mult, p->in1_shift)
                           : cgen_mbqm(v * (alpha + p->in2_offset), p->out_mult, p->out_shift);
  return cgen_clamp_i8(y + p->out_offset, p->act_min, p->act_max);
}

/* TFLM's MAXIMUM and MINIMUM compare the stored int8 values (no rescaling). */
static inline int8_t max_one(const cgen_binary_params *p, int32_t x, int32_t y) {
  (void)p;
  return (int8_t)(x > y ? x : y);
}

static inline int8_t min_one(const cgen_binary_params *p, int32_t x, int32_t y) {
  (void)p;
  return (int8_t)(x < y ? x : y);
}

static inline int8_t mul_one(const cgen_binary_params *p, int32_t x, int32_t y) {
  const int32_t prod = (x + p->in1_offset) * (y + p->in2_offset);
  const int32_t raw = cgen_mbqm(prod, p->out_mult, p->out_shift);
  return cgen_clamp_i8(raw + p->out_offset, p->act_min, p->act_max);
}

#define CGEN_BINARY_LOOP(ONE) CGEN_BROADCAST_LOOP(int8_t, ONE)

/* Division by 2^r rounding half away from zero, valid for |x| < 2^30 (all ADD
 * intermediates: |x + offset| <= 255 shifted left by 20). */
typedef struct {
  int32_t r, half, neg;
} pot_t;

static inline pot_t pot_of(int32_t shift) {
  pot_t d;
  d.r = -shift;
  d.half = d.r ? (int32_t)1 << (d.r - 1) : 0;
  d.neg = d.r ? 1 : 0;
  return d;
}

static inline int32_t pot_div(int32_t x, pot_t d) {
  return (x + d.half - (int32_t)(((uint32_t)x >> 31) & (uint32_t)d.neg)) >> d.r;
}

/* SaturatingRoundingDoublingHighMul for a non-negative multiplier (never saturates). */
static inline int32_t srdhm_pos(int32_t a, int32_t b) {
  return (int32_t)(((int64_t)a * b + ((int64_t)1 << 30)) >> 31);
}

void cgen_add(const cgen_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
  if (p->ndim == 1 && p->in1_strides[0] == 1 && p->in2_strides[0] == 1 && p->left_shift == 20) {
    const int32_t o1 = p->in1_offset, o2 = p->in2_offset, oz = p->out_offset;
    const int32_t m1 = p->in1_mult, m2 = p->in2_mult, mo = p->out_mult;
    const pot_t d1 = pot_of(p->in1_shift), d2 = pot_of(p->in2_shift), dout = pot_of(p->out_shift);
    const int32_t lo = p->act_min, hi = p->act_max;
    const int32_t n = p->out_dims[0];
    for (int32_t i = 0; i < n; ++i) {
      const int32_t sa = pot_div(srdhm_pos((in1[i] + o1) * (1 << 20), m1), d1);
      const int32_t sb = pot_div(srdhm_pos((in2[i] + o2) * (1 << 20), m2), d2);
      int32_t v = pot_div(srdhm_pos(sa + sb, mo), dout) + oz;
      if (v < lo) v = lo;
      if (v > hi) v = hi;
      out[i] = (int8_t)v;
    }
    return;
  }
  CGEN_BINARY_LOOP(add_one);
}

void cgen_mul(const cgen_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
  CGEN_BINARY_LOOP(mul_one);
}

void cgen_sub(const cgen_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
  CGEN_BINARY_LOOP(sub_one);
}

void cgen_maximum(const cgen_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
  CGEN_BINARY_LOOP(max_one);
}

void cgen_minimum(const cgen_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
  CGEN_BINARY_LOOP(min_one);
}

void cgen_prelu(const cgen_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
  CGEN_BINARY_LOOP(prelu_one);
}

void cgen_squared_difference(const cgen_binary_params *p, const int8_t *in1, const int8_t *in2,
                             int8_t *out) {
  CGEN_BINARY_LOOP(sqdiff_one);
}
