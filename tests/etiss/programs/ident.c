/* ident.c - a one-input, one-output "model": output[i] = input[i] + 1 (int8 x 16).
 * Init also prints through picolibc's printf, which must reach the host. */
#include <stdio.h>

#include "mlif.h"

static int8_t input[16];
static int8_t output[16];

int mlif_model_init(void) {
  printf("ident: init %d\n", 42);
  return 0;
}

int mlif_model_invoke(void) {
  for (size_t i = 0; i < sizeof(input); i++) output[i] = (int8_t)(input[i] + 1);
  return 0;
}

size_t mlif_model_num_inputs(void) { return 1; }
size_t mlif_model_num_outputs(void) { return 1; }
void *mlif_model_input(size_t index) { return index == 0 ? input : NULL; }
size_t mlif_model_input_bytes(size_t index) { return index == 0 ? sizeof(input) : 0; }
const void *mlif_model_output(size_t index) { return index == 0 ? output : NULL; }
size_t mlif_model_output_bytes(size_t index) { return index == 0 ? sizeof(output) : 0; }
