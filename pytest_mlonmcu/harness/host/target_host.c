/*
 * target_host.c - mlif_target.h for the host (x86-64 Linux).
 *
 * The program cannot read an exact instruction counter here: callgrind counts
 * mlif_model_init and mlif_model_invoke from outside. The stack is not painted
 * (Linux grows it on demand).
 */
#include <stdio.h>
#include <stdlib.h>

#include "mlif_target.h"

void mlif_target_init(void) {}

void mlif_target_write(const char *text, size_t length) {
  fwrite(text, 1, length, stdout);
  fflush(stdout);
}

uint64_t mlif_target_counter(void) { return 0; }

int mlif_target_has_counter(void) { return 0; }

void mlif_target_exit(int code) { exit(code); }

uintptr_t mlif_target_stack_bottom(void) { return 0; }

uintptr_t mlif_target_stack_top(void) { return 0; }
