/*
 * target_etiss.c - mlif_target.h for ETISS (bare_etiss_processor, RV32IMACFD).
 *
 * Output: every byte stored to the logger address goes to ETISS's stdout (the
 * Logger plugin, plugin.logger.logaddr/logmask in the run's ini). Counter: the
 * instret CSR, exact. Stack bounds: symbols of etiss.ld. Also: the C library
 * glue picolibc needs without an OS (stdout for printf, _exit) and the fix for
 * ETISS's fused multiply-subtract bug in double -> uint64 conversion.
 */
#include <stdint.h>
#include <stdio.h>

#include "mlif_target.h"

/* Must match plugin.logger.logaddr (the whole 0x8xxxxxxx range is the logger's). */
#define MLIF_ETISS_LOGGER ((volatile uint8_t *)0x80000000u)

extern char __stack_bottom[];
extern char __stack_top[];
extern void mlif_etiss_halt(void) __attribute__((noreturn));

void mlif_target_init(void) {}

void mlif_target_write(const char *text, size_t length) {
  for (size_t i = 0; i < length; i++) *MLIF_ETISS_LOGGER = (uint8_t)text[i];
}

uint64_t mlif_target_counter(void) {
  uint32_t hi, lo, hi2;
  /* Re-read when the low word wrapped between the two reads of the high word. */
  do {
    __asm__ volatile("rdinstreth %0" : "=r"(hi));
    __asm__ volatile("rdinstret %0" : "=r"(lo));
    __asm__ volatile("rdinstreth %0" : "=r"(hi2));
  } while (hi != hi2);
  return ((uint64_t)hi << 32) | lo;
}

int mlif_target_has_counter(void) { return 1; }

static void put_str(const char *s) {
  while (*s) *MLIF_ETISS_LOGGER = (uint8_t)*s++;
}

static void put_hex(uint32_t v) {
  static const char digits[] = "0123456789abcdef";
  char buf[11] = "0x";
  for (int i = 0; i < 8; i++) buf[2 + i] = digits[(v >> (28 - 4 * i)) & 15u];
  buf[10] = '\0';
  put_str(buf);
}

static void put_dec(int v) {
  char buf[12];
  int n = 0;
  uint32_t u = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
  do {
    buf[n++] = (char)('0' + (int)(u % 10u));
    u /= 10u;
  } while (u);
  if (v < 0) *MLIF_ETISS_LOGGER = '-';
  while (n) *MLIF_ETISS_LOGGER = (uint8_t)buf[--n];
}

/* For code that ends the program early (abort, exit): same final line as main. */
void mlif_target_exit(int code) {
  put_str("MLIF done ");
  put_dec(code);
  put_str("\n");
  mlif_etiss_halt();
}

uintptr_t mlif_target_stack_bottom(void) { return (uintptr_t)__stack_bottom; }

uintptr_t mlif_target_stack_top(void) { return (uintptr_t)__stack_top; }

/* Called by crt0.S's trap vector; the host decodes the line (targets/etiss.py). */
void mlif_etiss_trap(uint32_t mcause, uint32_t mepc, uint32_t mtval) __attribute__((noreturn));
void mlif_etiss_trap(uint32_t mcause, uint32_t mepc, uint32_t mtval) {
  put_str("\nMLIF error trap mcause=");
  put_hex(mcause);
  put_str(" mepc=");
  put_hex(mepc);
  put_str(" mtval=");
  put_hex(mtval);
  put_str("\n");
  mlif_etiss_halt();
}

/* picolibc without an OS layer: _exit for exit()/abort(), stdout/stderr for printf. */
void _exit(int code) __attribute__((noreturn));
void _exit(int code) { mlif_target_exit(code); }

static int logger_putc(char c, FILE *file) {
  (void)file;
  *MLIF_ETISS_LOGGER = (uint8_t)c;
  return (unsigned char)c;
}

static FILE mlif_etiss_stdio = FDEV_SETUP_STREAM(logger_putc, NULL, NULL, _FDEV_SETUP_WRITE);
FILE *const stdin = &mlif_etiss_stdio;
FILE *const stdout = &mlif_etiss_stdio;
FILE *const stderr = &mlif_etiss_stdio;

#if defined(__riscv_flen) && __riscv_flen >= 64
/*
 * ETISS computes fmsub.d/fnmsub.d/fnmsub.s with the addend's sign flipped when the
 * product is exactly 0. libgcc's __fixunsdfdi uses fnmsub.d, which makes every
 * double -> uint64 conversion below 2^32 return 0 (TFLM's QuantizeMultiplier then
 * yields zero multipliers). These replacements use separate multiply and subtract
 * (this file is built with -ffp-contract=off, so nothing is fused): both steps are
 * exact, the result matches libgcc on any correct FPU. __fixdfdi/__fixsfdi call
 * these, so signed conversions are fixed too.
 */
unsigned long long __fixunsdfdi(double a);
unsigned long long __fixunssfdi(float a);

unsigned long long __fixunsdfdi(double a) {
  if (!(a >= 1.0)) return 0; /* also NaN; negative inputs are undefined behaviour in C */
  if (a >= 18446744073709551616.0) return ~0ull;
  uint32_t hi = (uint32_t)(a * 0x1p-32);  /* exact scaling, truncating conversion */
  double low = a - (double)hi * 4294967296.0; /* exact: the bits of a below 2^32 */
  return ((unsigned long long)hi << 32) | (uint32_t)low;
}

unsigned long long __fixunssfdi(float a) { return __fixunsdfdi((double)a); }
#endif
