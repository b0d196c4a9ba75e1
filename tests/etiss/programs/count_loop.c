/* count_loop.c - a "model" whose invoke executes a known number of instructions.
 *
 * loop_region() runs `li t1,N; 1: addi t1,t1,-1; bnez t1,1b` (1 + 2*N instructions)
 * between two reads of instret inside one asm statement, so the region's count does not
 * depend on the compiler: it is the output of the model (uint32, little endian), the same
 * on every exact RV32 simulator. The harness's own invoke count adds the fixed call and
 * counter-read overhead around it. COUNT_N is set with -DCOUNT_N=... (default 1000).
 */
#include <string.h>

#include "mlif.h"

#ifndef COUNT_N
#define COUNT_N 1000
#endif
#define STR2(x) #x
#define STR(x) STR2(x)

static uint8_t input[4];
static uint32_t output[1];

__attribute__((noinline)) uint32_t loop_region(void) {
  uint32_t before, after;
  __asm__ volatile(
      "rdinstret %0\n"
      "li t1, " STR(COUNT_N) "\n"
      "1: addi t1, t1, -1\n"
      "bnez t1, 1b\n"
      "rdinstret %1\n"
      : "=&r"(before), "=r"(after)
      :
      : "t1");
  return after - before;
}

int mlif_model_init(void) { return 0; }

int mlif_model_invoke(void) {
  output[0] = loop_region();
  return 0;
}

size_t mlif_model_num_inputs(void) { return 1; }
size_t mlif_model_num_outputs(void) { return 1; }
void *mlif_model_input(size_t index) { return index == 0 ? input : NULL; }
size_t mlif_model_input_bytes(size_t index) { return index == 0 ? sizeof(input) : 0; }
const void *mlif_model_output(size_t index) { return index == 0 ? output : NULL; }
size_t mlif_model_output_bytes(size_t index) { return index == 0 ? sizeof(output) : 0; }
