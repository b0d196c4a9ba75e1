/*
 * cgen_gather.c - data movement by per-dimension offset tables: TRANSPOSE, SLICE,
 * STRIDED_SLICE, SPLIT, SPLIT_V and RESIZE_NEAREST_NEIGHBOR all copy input elements
 * to the output in output order; the generator turns each into the input offset of
 * every index of every output dimension.
 */
#include <string.h>

#include "cgen_kernels.h"
#include "cgen_params.h"

void cgen_gather(const cgen_gather_params *p, const void *in_data, void *out_data) {
  const int8_t *in = (const int8_t *)in_data;
  int8_t *out = (int8_t *)out_data;
  const size_t elem = (size_t)p->elem_bytes;
  const int nd = p->ndim;
  const int32_t *inner_table = p->offsets + p->start[nd - 1];
  const int32_t inner = p->out_dims[nd - 1];
  int32_t idx[CGEN_MAX_DIMS] = {0};
  int32_t outer = 1;
  for (int d = 0; d < nd - 1; ++d) outer *= p->out_dims[d];
  for (int32_t o = 0; o < outer; ++o) {
    int32_t base = 0;
    for (int d = 0; d < nd - 1; ++d) base += p->offsets[p->start[d] + idx[d]];
    if (p->inner_run > 1) { /* the innermost dimension is contiguous in the input */
      memcpy(out, in + (size_t)(base + inner_table[0]) * elem, (size_t)inner * elem);
      out += (size_t)inner * elem;
    } else if (elem == 1) {
      for (int32_t i = 0; i < inner; ++i) *out++ = in[base + inner_table[i]];
    } else {
      for (int32_t i = 0; i < inner; ++i, out += elem)
        memcpy(out, in + (size_t)(base + inner_table[i]) * elem, elem);
    }
    for (int d = nd - 2; d >= 0; --d) {
      if (++idx[d] < p->out_dims[d]) break;
      idx[d] = 0;
    }
  }
}

/* GATHER with indices read at run time (an embedding lookup). An index outside the axis
 * fails the invoke, as TFLM's GATHER fails (kTfLiteError). */
int cgen_gather_indices(const cgen_gather_indices_params *p, const int8_t *in,
                        const int32_t *indices, int8_t *out) {
  for (int32_t o = 0; o < p->outer; ++o) {
    for (int32_t i = 0; i < p->count; ++i) {
      const int32_t index = indices[i];
      if (index < 0 || index >= p->axis_size) return 1;
      memcpy(out, in + ((size_t)o * (size_t)p->axis_size + (size_t)index) * (size_t)p->inner,
             (size_t)p->inner);
      out += p->inner;
    }
  }
  return 0;
}
