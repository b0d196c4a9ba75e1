/* big_const.c - 64 KiB of constant data: does not fit a 32 KiB ROM. */
#include "mlif.h"

#define TABLE_BYTES 65536

static uint8_t input[4];
static uint8_t output[4];
static const uint8_t table[TABLE_BYTES] = {1, 2, 3}; /* the rest is zero, still in .rodata */

int mlif_model_init(void) { return 0; }

int mlif_model_invoke(void) {
  output[0] = table[input[0]];
  return 0;
}

size_t mlif_model_num_inputs(void) { return 1; }
size_t mlif_model_num_outputs(void) { return 1; }
void *mlif_model_input(size_t index) { return index == 0 ? input : NULL; }
size_t mlif_model_input_bytes(size_t index) { return index == 0 ? sizeof(input) : 0; }
const void *mlif_model_output(size_t index) { return index == 0 ? output : NULL; }
size_t mlif_model_output_bytes(size_t index) { return index == 0 ? sizeof(output) : 0; }
