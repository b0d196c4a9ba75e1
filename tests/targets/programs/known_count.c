/*
 * known_count.c - a "model" whose instruction counts are an exact formula.
 *
 * mlif_model_init and mlif_model_invoke are written in assembly (no compiler
 * choices inside them):
 *   init:   KC_INIT_LOOPS iterations of a two-instruction loop
 *   invoke: N iterations, N = the uint32 input; the output is N, stored before the loop
 * so that per call
 *   init   = KC_INIT_FIXED + 2 * KC_INIT_LOOPS     instructions
 *   invoke = KC_INVOKE_FIXED + 2 * N               instructions
 * (the fixed parts are counted in the comments next to the code). The test adds
 * the harness's own instructions around the call (see test_*.py).
 */
#include "mlif.h"

uint32_t kc_input;
uint32_t kc_output;

size_t mlif_model_num_inputs(void) { return 1; }
size_t mlif_model_num_outputs(void) { return 1; }
void *mlif_model_input(size_t index) { return index == 0 ? &kc_input : 0; }
size_t mlif_model_input_bytes(size_t index) { return index == 0 ? sizeof kc_input : 0; }
const void *mlif_model_output(size_t index) { return index == 0 ? &kc_output : 0; }
size_t mlif_model_output_bytes(size_t index) { return index == 0 ? sizeof kc_output : 0; }

/* KC_INIT_LOOPS = 1000 on every architecture. */
#if defined(__riscv)
/* init: li, (addi, bnez) x 1000, li, ret         -> 3 + 2 * 1000
 * invoke: lui, lw, lui, sw, (addi, bnez) x N, li, ret -> 6 + 2 * N (N >= 1) */
__asm__(
    "  .section .text.mlif_model_init,\"ax\",@progbits\n"
    "  .globl mlif_model_init\n"
    "  .type mlif_model_init, @function\n"
    "  .p2align 2\n"
    "mlif_model_init:\n"
    "  li t1, 1000\n"
    "1:addi t1, t1, -1\n"
    "  bnez t1, 1b\n"
    "  li a0, 0\n"
    "  ret\n"
    "  .size mlif_model_init, .-mlif_model_init\n"
    "  .section .text.mlif_model_invoke,\"ax\",@progbits\n"
    "  .globl mlif_model_invoke\n"
    "  .type mlif_model_invoke, @function\n"
    "  .p2align 2\n"
    "mlif_model_invoke:\n"
    "  lui t0, %hi(kc_input)\n"
    "  lw t1, %lo(kc_input)(t0)\n"
    "  lui t0, %hi(kc_output)\n"
    "  sw t1, %lo(kc_output)(t0)\n"
    "1:addi t1, t1, -1\n"
    "  bnez t1, 1b\n"
    "  li a0, 0\n"
    "  ret\n"
    "  .size mlif_model_invoke, .-mlif_model_invoke\n");
#elif defined(__arm__)
/* init: movw, (subs, bne) x 1000, movs, bx          -> 3 + 2 * 1000
 * invoke: ldr, ldr, ldr, str, (subs, bne) x N, movs, bx -> 6 + 2 * N (N >= 1) */
__asm__(
    "  .syntax unified\n"
    "  .thumb\n"
    "  .section .text.mlif_model_init,\"ax\",%progbits\n"
    "  .globl mlif_model_init\n"
    "  .type mlif_model_init, %function\n"
    "  .thumb_func\n"
    "  .p2align 2\n"
    "mlif_model_init:\n"
    "  movw r1, #1000\n"
    "1:subs r1, r1, #1\n"
    "  bne 1b\n"
    "  movs r0, #0\n"
    "  bx lr\n"
    "  .size mlif_model_init, .-mlif_model_init\n"
    "  .section .text.mlif_model_invoke,\"ax\",%progbits\n"
    "  .globl mlif_model_invoke\n"
    "  .type mlif_model_invoke, %function\n"
    "  .thumb_func\n"
    "  .p2align 2\n"
    "mlif_model_invoke:\n"
    "  ldr r2, =kc_input\n"
    "  ldr r1, [r2]\n"
    "  ldr r2, =kc_output\n"
    "  str r1, [r2]\n"
    "1:subs r1, r1, #1\n"
    "  bne 1b\n"
    "  movs r0, #0\n"
    "  bx lr\n"
    "  .ltorg\n"
    "  .size mlif_model_invoke, .-mlif_model_invoke\n");
#elif defined(__x86_64__)
/* init: mov, (dec, jnz) x 1000, xor, ret           -> 3 + 2 * 1000
 * invoke: mov, mov, (dec, jnz) x N, xor, ret        -> 4 + 2 * N (N >= 1) */
__asm__(
    "  .section .text.mlif_model_init,\"ax\",@progbits\n"
    "  .globl mlif_model_init\n"
    "  .type mlif_model_init, @function\n"
    "mlif_model_init:\n"
    "  mov $1000, %ecx\n"
    "1:dec %ecx\n"
    "  jnz 1b\n"
    "  xor %eax, %eax\n"
    "  ret\n"
    "  .size mlif_model_init, .-mlif_model_init\n"
    "  .section .text.mlif_model_invoke,\"ax\",@progbits\n"
    "  .globl mlif_model_invoke\n"
    "  .type mlif_model_invoke, @function\n"
    "mlif_model_invoke:\n"
    "  mov kc_input(%rip), %ecx\n"
    "  mov %ecx, kc_output(%rip)\n"
    "1:dec %ecx\n"
    "  jnz 1b\n"
    "  xor %eax, %eax\n"
    "  ret\n"
    "  .size mlif_model_invoke, .-mlif_model_invoke\n"
    "  .section .note.GNU-stack,\"\",@progbits\n");
#else
#error "known_count.c: no assembly for this architecture"
#endif
