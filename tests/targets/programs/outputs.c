/*
 * outputs.c - a small deterministic "model" with two outputs of different types.
 *
 * input 0:  int8[16] x
 * output 0: int8[16]   y[i] = saturate(2 * x[15 - i] + 1)
 * output 1: float32[2] { sum(x) / 16, max(x) * 0.5 }  (exact in IEEE single precision)
 * The float part runs on the FPU where there is one (M4F/M7/M33, rv32gc/imafc) and in
 * software elsewhere; both must give the same bits.
 */
#include "mlif.h"

static int8_t x[16];
static int8_t y[16];
static float stats[2];

int mlif_model_init(void) { return 0; }

int mlif_model_invoke(void) {
  int32_t sum = 0;
  int32_t max = -128;
  for (int i = 0; i < 16; i++) {
    int32_t v = 2 * x[15 - i] + 1;
    y[i] = (int8_t)(v > 127 ? 127 : v < -128 ? -128 : v);
    sum += x[i];
    if (x[i] > max) max = x[i];
  }
  stats[0] = (float)sum / 16.0f;
  stats[1] = (float)max * 0.5f;
  return 0;
}

size_t mlif_model_num_inputs(void) { return 1; }
size_t mlif_model_num_outputs(void) { return 2; }
void *mlif_model_input(size_t index) { return index == 0 ? x : 0; }
size_t mlif_model_input_bytes(size_t index) { return index == 0 ? sizeof x : 0; }
const void *mlif_model_output(size_t index) {
  return index == 0 ? (const void *)y : index == 1 ? (const void *)stats : 0;
}
size_t mlif_model_output_bytes(size_t index) {
  return index == 0 ? sizeof y : index == 1 ? sizeof stats : 0;
}
