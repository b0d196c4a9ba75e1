/*
 * cgen_gather.c - data movement by per-dimension offset tables: TRANSPOSE, SLICE,
 * STRIDED_SLICE, SPLIT, SPLIT_V and RESIZE_NEAREST_NEIGHBOR all copy input elements
 * to the output in output order; the generator turns each into the input offset of
 * every index of every output dimension.
 */
#include <string.h>

#include "cgen_kernels.h"
#include "cgen_params.h"

void cgen_gather(const cgen_gather_params *p, const int8_t *in, int8_t *out) {
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
      memcpy(out, in + base + inner_table[0], (size_t)inner);
      out += inner;
    } else {
      for (int32_t i = 0; i < inner; ++i) *out++ = in[base + inner_table[i]];
    }
    for (int d = nd - 2; d >= 0; --d) {
      if (++idx[d] < p->out_dims[d]) break;
      idx[d] = 0;
    }
  }
}
