/*
 * mlif_target.h - what each target's support code provides to the harness.
 *
 * One implementation per target family (riscv/, arm/, host/, etiss/ next to this
 * directory). The harness in main.c uses only these functions, so the same main
 * runs everywhere.
 */
#ifndef MLIF_TARGET_H
#define MLIF_TARGET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Called first in main(): anything the startup code did not do already. */
void mlif_target_init(void);

/* Write raw bytes to the host-visible output channel (semihosting, UART, logger). */
void mlif_target_write(const char *text, size_t length);

/*
 * Exact retired-instruction counter, or 0 where the count comes from outside the
 * program (a QEMU plugin watching the mlif_mark_* functions, callgrind).
 */
uint64_t mlif_target_counter(void);

/* 1 when mlif_target_counter() is meaningful on this target. */
int mlif_target_has_counter(void);

/* End the program with `code`; never returns. */
void mlif_target_exit(int code) __attribute__((noreturn));

/*
 * Stack bounds for the painted high-water measurement, or both 0 where the
 * target cannot measure the stack this way (the host).
 */
uintptr_t mlif_target_stack_bottom(void);
uintptr_t mlif_target_stack_top(void);

#ifdef __cplusplus
}
#endif

#endif /* MLIF_TARGET_H */
