/*
 * startup_cortexm.c - vector table, reset and fault handling for the Cortex-M
 * targets (QEMU mps2 boards, netduinoplus2). Linked with -nostartfiles, so this
 * replaces newlib's crt0: enable the FPU, copy .data, zero .bss, run the
 * constructors, open the semihosting console, call main and exit with its status.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern uint32_t __mlif_data_load[], __mlif_data_start[], __mlif_data_end[];
extern uint32_t __mlif_bss_start[], __mlif_bss_end[];
extern uint32_t __mlif_stack_bottom[], __mlif_stack_top[];
extern uint32_t __heap_limit; /* librdimon's _sbrk stops the heap here */

extern int main(void);
extern void __libc_init_array(void);
extern void initialise_monitor_handles(void);

void Reset_Handler(void) __attribute__((noreturn, used, section(".text.Reset_Handler")));
void mlif_fault_entry(void) __attribute__((naked, used));
void mlif_fault_report(const uint32_t *frame, uint32_t exc_return) __attribute__((noreturn, used));

#define REG32(addr) (*(volatile uint32_t *)(addr))
#define SCB_CPACR 0xE000ED88u
#define SCB_CFSR 0xE000ED28u
#define SCB_HFSR 0xE000ED2Cu
#define SCB_MMFAR 0xE000ED34u
#define SCB_BFAR 0xE000ED38u

/* Exit status of a program stopped by a fault (the host names the fault). */
#define MLIF_FAULT_EXIT 101

/* 16 system exceptions + 32 interrupts; nothing is enabled, so every handler but
 * reset is the fault reporter: an unexpected exception stops the program. */
__attribute__((section(".vectors"), used)) const void *const mlif_vectors[48] = {
    [0] = __mlif_stack_top,
    [1] = (const void *)Reset_Handler,
    [2 ... 47] = (const void *)mlif_fault_entry,
};

/* crti.o/crtbegin.o are not linked (-nostartfiles): newlib's __libc_init_array
 * calls _init/_fini, and C++ static destructors registered with __cxa_atexit
 * refer to __dso_handle. */
void _init(void) {}
void _fini(void) {}
__attribute__((weak)) void *__dso_handle = 0;

void Reset_Handler(void) {
#if defined(__ARM_FP)
  /* Full access to CP10/CP11 before any floating-point instruction runs. */
  REG32(SCB_CPACR) |= 0xFu << 20;
  __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
  uint32_t *src = __mlif_data_load;
  for (uint32_t *dst = __mlif_data_start; dst < __mlif_data_end;) *dst++ = *src++;
  for (uint32_t *dst = __mlif_bss_start; dst < __mlif_bss_end;) *dst++ = 0;
  __heap_limit = (uint32_t)(uintptr_t)__mlif_stack_bottom;
  __libc_init_array();
  initialise_monitor_handles();
  exit(main());
}

/* Pass the stacked exception frame (MSP or PSP, by EXC_RETURN bit 2) to C. */
void mlif_fault_entry(void) {
  __asm__ volatile(
      "tst lr, #4\n\t"
      "ite eq\n\t"
      "mrseq r0, msp\n\t"
      "mrsne r0, psp\n\t"
      "mov r1, lr\n\t"
      "b mlif_fault_report\n\t");
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

static const char *exception_name(uint32_t number) {
  switch (number) {
    case 2: return "NMI";
    case 3: return "HardFault";
    case 4: return "MemManage";
    case 5: return "BusFault";
    case 6: return "UsageFault";
    case 7: return "SecureFault";
    default: return number < 16 ? "Exception" : "IRQ";
  }
}

void mlif_fault_report(const uint32_t *frame, uint32_t exc_return) {
  char line[200];
  char *p = line;
  uint32_t ipsr;
  __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
  ipsr &= 0x1FFu;
  p = put_text(p, "\nMLIF error fault ");
  p = put_text(p, exception_name(ipsr));
  p = put_text(p, " pc=");
  p = put_hex32(p, frame[6]);
  p = put_text(p, " lr=");
  p = put_hex32(p, frame[5]);
  p = put_text(p, " cfsr=");
  p = put_hex32(p, REG32(SCB_CFSR));
  p = put_text(p, " hfsr=");
  p = put_hex32(p, REG32(SCB_HFSR));
  p = put_text(p, " bfar=");
  p = put_hex32(p, REG32(SCB_BFAR));
  p = put_text(p, " mmfar=");
  p = put_hex32(p, REG32(SCB_MMFAR));
  p = put_text(p, " exc_return=");
  p = put_hex32(p, exc_return);
  *p++ = '\n';
  (void)write(1, line, (size_t)(p - line));
  _exit(MLIF_FAULT_EXIT);
}
