/*
 * stack_memory.c - known memory use: a function with a 4000-byte local array
 * (stack peak), plus a 3000-byte constant table (ROM), 400 bytes of initialised
 * data (ROM + RAM) and 1000 bytes of zeroed data (RAM).
 */
#include "mlif.h"

#define STACK_DEPTH 4000

static uint8_t in_buf[4];
static uint32_t out_buf[1];

/* Values that cannot be folded away: the loops below read every element. */
#define ROW16(k) k, k + 1, k + 2, k + 3, k + 4, k + 5, k + 6, k + 7, \
                 k + 8, k + 9, k + 10, k + 11, k + 12, k + 13, k + 14, k + 15
const uint8_t sm_table[3000] = {ROW16(1), ROW16(17), ROW16(33), ROW16(49)};
uint32_t sm_data[100] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
uint8_t sm_zeroed[1000];

/* noinline so the 4000 bytes are this frame's, entered from invoke. */
__attribute__((noinline)) static uint32_t deep(uint32_t seed) {
  volatile uint8_t local[STACK_DEPTH];
  uint32_t sum = 0;
  for (uint32_t i = 0; i < STACK_DEPTH; i++) local[i] = (uint8_t)(seed + i);
  for (uint32_t i = 0; i < STACK_DEPTH; i++) sum += local[i];
  return sum;
}

int mlif_model_init(void) { return 0; }

int mlif_model_invoke(void) {
  uint32_t acc = deep(in_buf[0]);
  for (uint32_t i = 0; i < sizeof sm_table; i++) acc += sm_table[i];
  for (uint32_t i = 0; i < 100; i++) acc += sm_data[i]++;
  for (uint32_t i = 0; i < sizeof sm_zeroed; i++) sm_zeroed[i] = (uint8_t)(sm_zeroed[i] + acc);
  out_buf[0] = acc + sm_zeroed[999];
  return 0;
}

size_t mlif_model_num_inputs(void) { return 1; }
size_t mlif_model_num_outputs(void) { return 1; }
void *mlif_model_input(size_t index) { return index == 0 ? in_buf : 0; }
size_t mlif_model_input_bytes(size_t index) { return index == 0 ? sizeof in_buf : 0; }
const void *mlif_model_output(size_t index) { return index == 0 ? out_buf : 0; }
size_t mlif_model_output_bytes(size_t index) { return index == 0 ? sizeof out_buf : 0; }
