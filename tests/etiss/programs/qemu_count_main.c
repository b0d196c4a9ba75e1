/* qemu_count_main.c - prints count_loop.c's loop_region() on QEMU (picolibc semihosting),
 * for the ETISS/QEMU count cross-check when no riscv_qemu target is available. */
#include <stdint.h>
#include <stdio.h>

uint32_t loop_region(void);

int main(void) {
  printf("region %lu\n", (unsigned long)loop_region());
  return 0;
}
