/* illegal.c - invoke reaches an illegal instruction inside do_illegal(). */
#include "mlif.h"

static uint8_t input[4];
static uint8_t output[4];

__attribute__((noinline)) void do_illegal(void) {
  __asm__ volatile(".4byte 0x00000000"); /* all-zero: defined illegal in RISC-V */
}

int mlif_model_init(void) { return 0; }

int mlif_model_invoke(void) {
  do_illegal();
  return 0;
}

size_t mlif_model_num_inputs(void) { return 1; }
size_t mlif_model_num_outputs(void) { return 1; }
void *mlif_model_input(size_t index) { return index == 0 ? input : NULL; }
size_t mlif_model_input_bytes(size_t index) { return index == 0 ? sizeof(input) : 0; }
const void *mlif_model_output(size_t index) { return index == 0 ? output : NULL; }
size_t mlif_model_output_bytes(size_t index) { return index == 0 ? sizeof(output) : 0; }
