/* fp_round.c - conversions to float that must round to nearest (frm = RNE).
 *
 * ETISS ignores frm for fcvt.s.d/fcvt.s.w/fcvt.s.wu with rm=DYN (what GCC emits for C casts)
 * and rounds up instead; the etiss target patches those to RNE after linking
 * (etiss.fix_rounding). Inputs: 8 doubles, 8 int32. Output: float bits of (float)d[i],
 * (float)n[i], (float)(uint32_t)n[i], per i.
 */
#include "mlif.h"

#define N 8

static double doubles[N];
static int32_t ints[N];
static float output[3 * N];

int mlif_model_init(void) { return 0; }

int mlif_model_invoke(void) {
  for (size_t i = 0; i < N; i++) {
    volatile double d = doubles[i];
    volatile int32_t n = ints[i];
    output[3 * i] = (float)d;
    output[3 * i + 1] = (float)n;
    output[3 * i + 2] = (float)(uint32_t)n;
  }
  return 0;
}

size_t mlif_model_num_inputs(void) { return 2; }
size_t mlif_model_num_outputs(void) { return 1; }

void *mlif_model_input(size_t index) {
  return index == 0 ? (void *)doubles : index == 1 ? (void *)ints : NULL;
}

size_t mlif_model_input_bytes(size_t index) {
  return index == 0 ? sizeof(doubles) : index == 1 ? sizeof(ints) : 0;
}

const void *mlif_model_output(size_t index) { return index == 0 ? output : NULL; }
size_t mlif_model_output_bytes(size_t index) { return index == 0 ? sizeof(output) : 0; }
