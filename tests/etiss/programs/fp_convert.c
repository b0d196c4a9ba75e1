/* fp_convert.c - double/float -> (u)int64 conversions of run-time inputs.
 *
 * These go through libgcc's __fixunsdfdi/__fixunssfdi (and __fixdfdi), which ETISS gets
 * wrong below 2^32 through its fnmsub.d bug unless the target provides its own. Input: 8
 * doubles; output: per value (uint64)d, (int64)-d, (uint64)(float)d, little endian.
 */
#include <string.h>

#include "mlif.h"

#define N 8

static double input[N];
static uint64_t output[3 * N];

int mlif_model_init(void) { return 0; }

int mlif_model_invoke(void) {
  for (size_t i = 0; i < N; i++) {
    volatile double d = input[i];
    volatile float f = (float)d;
    output[3 * i] = (uint64_t)d;
    output[3 * i + 1] = (uint64_t)(int64_t)(-d);
    output[3 * i + 2] = (uint64_t)f;
  }
  return 0;
}

size_t mlif_model_num_inputs(void) { return 1; }
size_t mlif_model_num_outputs(void) { return 1; }
void *mlif_model_input(size_t index) { return index == 0 ? input : NULL; }
size_t mlif_model_input_bytes(size_t index) { return index == 0 ? sizeof(input) : 0; }
const void *mlif_model_output(size_t index) { return index == 0 ? output : NULL; }
size_t mlif_model_output_bytes(size_t index) { return index == 0 ? sizeof(output) : 0; }
