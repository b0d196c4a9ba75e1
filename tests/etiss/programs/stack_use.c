/* stack_use.c - invoke touches STACK_BYTES (default 8192) of stack in one frame. */
#include <string.h>

#include "mlif.h"

#ifndef STACK_BYTES
#define STACK_BYTES 8192
#endif

static uint8_t input[4];
static uint8_t output[4];

__attribute__((noinline)) static uint8_t use_stack(uint8_t seed) {
  volatile uint8_t buf[STACK_BYTES];
  for (size_t i = 0; i < sizeof(buf); i++) buf[i] = (uint8_t)(seed + i);
  return buf[0] ^ buf[sizeof(buf) - 1];
}

int mlif_model_init(void) { return 0; }

int mlif_model_invoke(void) {
  output[0] = use_stack(input[0]);
  return 0;
}

size_t mlif_model_num_inputs(void) { return 1; }
size_t mlif_model_num_outputs(void) { return 1; }
void *mlif_model_input(size_t index) { return index == 0 ? input : NULL; }
size_t mlif_model_input_bytes(size_t index) { return index == 0 ? sizeof(input) : 0; }
const void *mlif_model_output(size_t index) { return index == 0 ? output : NULL; }
size_t mlif_model_output_bytes(size_t index) { return index == 0 ? sizeof(output) : 0; }
