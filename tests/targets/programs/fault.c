/*
 * fault.c - mlif_model_invoke stops the CPU: an illegal/undefined instruction,
 * or, with -DMLIF_FAULT_ADDRESS=<addr>, a load from an address with no memory.
 * The target must report the trap/fault (cause and where) within seconds.
 */
#include "mlif.h"

static uint8_t buf[4];

int mlif_model_init(void) { return 0; }

int mlif_model_invoke(void) {
#if defined(MLIF_FAULT_ADDRESS)
  return (int)*(volatile uint32_t *)(uintptr_t)(MLIF_FAULT_ADDRESS);
#elif defined(__riscv)
  __asm__ volatile(".word 0"); /* all-zero instruction: defined as illegal */
#elif defined(__arm__)
  __asm__ volatile("udf #0");
#else
  __asm__ volatile("ud2");
#endif
  return 0;
}

size_t mlif_model_num_inputs(void) { return 1; }
size_t mlif_model_num_outputs(void) { return 1; }
void *mlif_model_input(size_t index) { return index == 0 ? buf : 0; }
size_t mlif_model_input_bytes(size_t index) { return index == 0 ? sizeof buf : 0; }
const void *mlif_model_output(size_t index) { return index == 0 ? buf : 0; }
size_t mlif_model_output_bytes(size_t index) { return index == 0 ? sizeof buf : 0; }
