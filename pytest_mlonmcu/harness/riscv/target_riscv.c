/*
 * target_riscv.c - mlif_target.h for riscv_qemu (QEMU virt, picolibc, semihosting).
 *
 * Counts: minstret under `-icount shift=0` is the exact number of retired
 * instructions. Traps: picolibc's crt0 installs no trap vector (mtvec is 0 after
 * reset, which is unmapped on virt, so a trap would loop forever): we install one
 * that reports mcause/mepc/mtval and exits with a non-zero status.
 * Output: picolibc's write() passes the fd straight to SYS_WRITE, and QEMU has
 * no semihosting handle 1, so we open the console (":tt") ourselves.
 */
#include <semihost.h>
#include <stdint.h>
#include <unistd.h>

#include "mlif_target.h"

/* Exit status of a program stopped by a trap (the host names the trap). */
#define MLIF_TRAP_EXIT 101

/* From picolibc.ld: top of the stack and its lower end (= __stack - __stack_size). */
extern char __stack[], __heap_end[];

static int console = -1;

static void console_write(const char *text, size_t length) {
  if (console < 0) console = sys_semihost_open(":tt", SH_OPEN_W);
  /* SYS_WRITE returns the number of bytes NOT written. */
  while (length > 0) {
    uintptr_t left = (uintptr_t)sys_semihost_write(console, text, length);
    if (left >= length) return;
    text += length - left;
    length = left;
  }
}

static char *put_text(char *p, const char *s) {
  while (*s) *p++ = *s++;
  return p;
}

static char *put_hex32(char *p, uint32_t v) {
  static const char hex[] = "0123456789abcdef";
  p = put_text(p, "0x");
  for (int shift = 28; shift >= 0; shift -= 4) *p++ = hex[(v >> shift) & 15u];
  return p;
}

/* Direct-mode trap vector: must be 4-byte aligned (compressed code is 2-aligned). */
__attribute__((aligned(4), noreturn, used)) void mlif_trap_handler(void) {
  uint32_t mcause, mepc, mtval;
  char line[120];
  char *p = line;
  __asm__ volatile("csrr %0, mcause" : "=r"(mcause));
  __asm__ volatile("csrr %0, mepc" : "=r"(mepc));
  __asm__ volatile("csrr %0, mtval" : "=r"(mtval));
  p = put_text(p, "\nMLIF error trap mcause=");
  p = put_hex32(p, mcause);
  p = put_text(p, " mepc=");
  p = put_hex32(p, mepc);
  p = put_text(p, " mtval=");
  p = put_hex32(p, mtval);
  *p++ = '\n';
  console_write(line, (size_t)(p - line));
  _exit(MLIF_TRAP_EXIT);
}

static void install_trap_handler(void) {
  __asm__ volatile("csrw mtvec, %0" ::"r"((uintptr_t)&mlif_trap_handler));
}

/* Installed by the constructors already (before main); again in init for clarity. */
__attribute__((constructor(101))) static void early_trap_handler(void) { install_trap_handler(); }

void mlif_target_init(void) { install_trap_handler(); }

void mlif_target_write(const char *text, size_t length) { console_write(text, length); }

/* 64-bit minstret on RV32: re-read when the high half changed in between. */
uint64_t mlif_target_counter(void) {
  uint32_t hi, lo, hi2;
  do {
    __asm__ volatile("csrr %0, minstreth" : "=r"(hi));
    __asm__ volatile("csrr %0, minstret" : "=r"(lo));
    __asm__ volatile("csrr %0, minstreth" : "=r"(hi2));
  } while (hi != hi2);
  return ((uint64_t)hi << 32) | lo;
}

int mlif_target_has_counter(void) { return 1; }

void mlif_target_exit(int code) { _exit(code); }

uintptr_t mlif_target_stack_bottom(void) { return (uintptr_t)__heap_end; }

uintptr_t mlif_target_stack_top(void) { return (uintptr_t)__stack; }
