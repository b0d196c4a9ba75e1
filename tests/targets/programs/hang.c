/* hang.c - mlif_model_invoke never returns: the target's timeout must end the run. */
#include "mlif.h"

static uint8_t buf[4];
volatile uint32_t hang_spins;

int mlif_model_init(void) { return 0; }

int mlif_model_invoke(void) {
  for (;;) hang_spins++;
  return 0;
}

size_t mlif_model_num_inputs(void) { return 1; }
size_t mlif_model_num_outputs(void) { return 1; }
void *mlif_model_input(size_t index) { return index == 0 ? buf : 0; }
size_t mlif_model_input_bytes(size_t index) { return index == 0 ? sizeof buf : 0; }
const void *mlif_model_output(size_t index) { return index == 0 ? buf : 0; }
size_t mlif_model_output_bytes(size_t index) { return index == 0 ? sizeof buf : 0; }
