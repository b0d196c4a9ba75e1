/*
 * target_arm.c - mlif_target.h for the Cortex-M targets on QEMU.
 *
 * Output goes through newlib's write() to the semihosting console (librdimon).
 * Cortex-M has no instruction counter the program could read under QEMU (the
 * DWT is not emulated): the counts come from the insn_count TCG plugin, which
 * watches mlif_mark_begin/mlif_mark_end from outside.
 */
#include <stdlib.h>
#include <unistd.h>

#include "mlif_target.h"

extern uint32_t __mlif_stack_bottom[], __mlif_stack_top[];

void mlif_target_init(void) {}

void mlif_target_write(const char *text, size_t length) {
  while (length > 0) {
    ssize_t n = write(1, text, length);
    if (n <= 0) return;
    text += n;
    length -= (size_t)n;
  }
}

uint64_t mlif_target_counter(void) { return 0; }

int mlif_target_has_counter(void) { return 0; }

void mlif_target_exit(int code) { exit(code); }

uintptr_t mlif_target_stack_bottom(void) { return (uintptr_t)__mlif_stack_bottom; }

uintptr_t mlif_target_stack_top(void) { return (uintptr_t)__mlif_stack_top; }
