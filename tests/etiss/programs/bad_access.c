/* bad_access.c - invoke loads (ACCESS=0) or stores (ACCESS=1) at an address outside ROM
 * and RAM, inside do_bad_access(): ETISS raises a load/store access fault. */
#include "mlif.h"

#ifndef ACCESS
#define ACCESS 0
#endif
#define UNMAPPED ((volatile uint32_t *)0x40000000u)

static uint8_t input[4];
static uint8_t output[4];

__attribute__((noinline)) void do_bad_access(void) {
#if ACCESS == 0
  output[0] = (uint8_t)*UNMAPPED;
#else
  *UNMAPPED = 1;
#endif
}

int mlif_model_init(void) { return 0; }

int mlif_model_invoke(void) {
  do_bad_access();
  return 0;
}

size_t mlif_model_num_inputs(void) { return 1; }
size_t mlif_model_num_outputs(void) { return 1; }
void *mlif_model_input(size_t index) { return index == 0 ? input : NULL; }
size_t mlif_model_input_bytes(size_t index) { return index == 0 ? sizeof(input) : 0; }
const void *mlif_model_output(size_t index) { return index == 0 ? output : NULL; }
size_t mlif_model_output_bytes(size_t index) { return index == 0 ? sizeof(output) : 0; }
