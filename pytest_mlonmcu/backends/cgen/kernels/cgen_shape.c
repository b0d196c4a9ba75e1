/*
 * cgen_shape.c - int8 PAD and CONCATENATION (pure data movement: TFLite requires
 * the same quantization on input and output for both).
 */
#include <string.h>

#include "cgen_kernels.h"
#include "cgen_params.h"

void cgen_pad(const cgen_pad_params *p, const int8_t *in, int8_t *out) {
  const int32_t *id = p->in_dims, *od = p->out_dims, *b = p->before;
  memset(out, p->pad_value, (size_t)od[0] * od[1] * od[2] * od[3]);
  for (int32_t i0 = 0; i0 < id[0]; ++i0) {
    for (int32_t i1 = 0; i1 < id[1]; ++i1) {
      for (int32_t i2 = 0; i2 < id[2]; ++i2) {
        const int8_t *src = in + ((i0 * id[1] + i1) * id[2] + i2) * id[3];
        int8_t *dst = out + (((i0 + b[0]) * od[1] + i1 + b[1]) * od[2] + i2 + b[2]) * od[3] + b[3];
        memcpy(dst, src, (size_t)id[3]);
      }
    }
  }
}

void cgen_concat(const cgen_concat_params *p, const int8_t *const *inputs, int8_t *out) {
  for (int32_t o = 0; o < p->outer; ++o) {
    for (int32_t k = 0; k < p->num_inputs; ++k) {
      const int32_t n = p->chunk[k];
      memcpy(out, inputs[k] + o * n, (size_t)n);
      out += n;
    }
  }
}
