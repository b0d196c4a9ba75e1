/*
 * host_driver.c - runs a generated model on recorded inputs.
 *
 *   driver [INPUTS OUTPUTS]   (default: cgen_inputs.bin cgen_outputs.bin)
 *
 * INPUTS holds N input sets back to back (each: all model inputs in order);
 * OUTPUTS receives the N matching output sets. Works on the host and, through
 * semihosting file I/O, on a simulated target, where it also prints the
 * instruction counts of mlif_model_init and mlif_model_invoke (RISC-V minstret).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlif.h"

#if defined(__riscv)
static inline uint64_t instret(void) {
#if __riscv_xlen == 32
  uint32_t hi, lo, hi2;
  do {
    __asm__ volatile("csrr %0, minstreth" : "=r"(hi));
    __asm__ volatile("csrr %0, minstret" : "=r"(lo));
    __asm__ volatile("csrr %0, minstreth" : "=r"(hi2));
  } while (hi != hi2);
  return ((uint64_t)hi << 32) | lo;
#else
  uint64_t v;
  __asm__ volatile("csrr %0, minstret" : "=r"(v));
  return v;
#endif
}
#define COUNTING 1
#else
static inline uint64_t instret(void) { return 0; }
#define COUNTING 0
#endif

#ifdef CGEN_PROFILE
/* Instructions per operator, summed over all invokes. */
#define MAX_OPS 512
static uint64_t op_instructions[MAX_OPS];
static uint64_t op_start;
void cgen_profile_op(int op_index, int end) {
  const uint64_t now = instret();
  if (!end) {
    op_start = now;
  } else if (op_index >= 0 && op_index < MAX_OPS) {
    op_instructions[op_index] += now - op_start;
  }
}
#endif

static size_t total_bytes(size_t (*bytes)(size_t), size_t n) {
  size_t sum = 0;
  for (size_t i = 0; i < n; ++i) sum += bytes(i);
  return sum;
}

int main(int argc, char **argv) {
  const char *in_path = argc == 3 ? argv[1] : "cgen_inputs.bin";
  const char *out_path = argc == 3 ? argv[2] : "cgen_outputs.bin";
  const uint64_t t0 = instret();
  if (mlif_model_init() != 0) return 3;
  const uint64_t t1 = instret();
  const size_t n_in = mlif_model_num_inputs(), n_out = mlif_model_num_outputs();
  /* Out-of-range indices must be answered with NULL / 0. */
  if (mlif_model_input(n_in) || mlif_model_input_bytes(n_in) || mlif_model_output(n_out) ||
      mlif_model_output_bytes(n_out)) {
    return 8;
  }
  const size_t in_set = total_bytes(mlif_model_input_bytes, n_in);
  FILE *fi = fopen(in_path, "rb");
  FILE *fo = fopen(out_path, "wb");
  if (!fi || !fo) return 4;
  int sets = 0;
  uint64_t invoke_min = UINT64_MAX, invoke_max = 0;
  for (;;) {
    size_t got = 0;
    for (size_t i = 0; i < n_in; ++i) {
      got += fread(mlif_model_input(i), 1, mlif_model_input_bytes(i), fi);
    }
    if (got == 0) break;
    if (got != in_set) return 5;
    const uint64_t a = instret();
    if (mlif_model_invoke() != 0) return 6;
    const uint64_t b = instret();
    if (b - a < invoke_min) invoke_min = b - a;
    if (b - a > invoke_max) invoke_max = b - a;
    for (size_t i = 0; i < n_out; ++i) {
      const size_t n = mlif_model_output_bytes(i);
      if (fwrite(mlif_model_output(i), 1, n, fo) != n) return 7;
    }
    ++sets;
  }
  fclose(fi);
  fclose(fo);
#ifdef CGEN_PROFILE
  for (int i = 0; i < MAX_OPS; ++i) {
    if (op_instructions[i]) printf("op %d %lu\n", i, (unsigned long)(op_instructions[i] / sets));
  }
#endif
  if (COUNTING) {
    printf("sets %d init_instructions %lu invoke_instructions_min %lu invoke_instructions_max %lu\n",
           sets, (unsigned long)(t1 - t0), (unsigned long)invoke_min, (unsigned long)invoke_max);
  }
  return 0;
}
