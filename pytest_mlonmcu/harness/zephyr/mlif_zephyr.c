/*
 * mlif_zephyr.c - mlif_target.h on Zephyr.
 *
 * Output: the bytes go straight to the console UART (the zephyr,console chosen node) with
 * uart_poll_out, so nothing is buffered or lost when the harness returns; printk where the
 * board has no console UART.
 *
 * Counter (MLIF_ZEPHYR_COUNTER, set by the host from the board registry):
 *   DWT       Cortex-M DWT cycle counter (CYCCNT). QEMU does not emulate the DWT: CYCCNT
 *             stays 0, which mlif_target_init detects; the counts then come from outside.
 *   MINSTRET  RISC-V retired instructions (exact under QEMU with -icount shift=0).
 *   MCYCLE    RISC-V cycles.
 *   K_CYCLE   the kernel's hardware cycle counter (k_cycle_get_64/32, timer cycles).
 *   NONE      no counter: "-" in the report (a QEMU plugin may count from outside).
 *
 * Stack: the main thread's stack bounds (CONFIG_THREAD_STACK_INFO) for the painted
 * high-water mark of main.c.
 */
#include <zephyr/device.h>
#include <zephyr/devicetree.h>
#include <zephyr/drivers/uart.h>
#include <zephyr/kernel.h>
#include <zephyr/sys/printk.h>

#include "mlif_target.h"

#define MLIF_COUNTER_NONE 0
#define MLIF_COUNTER_DWT 1
#define MLIF_COUNTER_MINSTRET 2
#define MLIF_COUNTER_MCYCLE 3
#define MLIF_COUNTER_K_CYCLE 4

#ifndef MLIF_ZEPHYR_COUNTER
#define MLIF_ZEPHYR_COUNTER MLIF_COUNTER_NONE
#endif

#if MLIF_ZEPHYR_COUNTER == MLIF_COUNTER_DWT
#if !defined(CONFIG_CPU_CORTEX_M_HAS_DWT)
#error "MLIF_ZEPHYR_COUNTER=DWT on a core without DWT"
#endif
#include <cmsis_core.h>
#endif

#if DT_HAS_CHOSEN(zephyr_console)
static const struct device *const mlif_console = DEVICE_DT_GET(DT_CHOSEN(zephyr_console));
#endif

static int mlif_counter_ok;

void mlif_target_init(void) {
#if MLIF_ZEPHYR_COUNTER == MLIF_COUNTER_DWT
  DCB->DEMCR |= DCB_DEMCR_TRCENA_Msk;
#if defined(__CORTEX_M) && (__CORTEX_M == 7U)
  DWT->LAR = 0xC5ACCE55u; /* Cortex-M7: unlock the DWT's software access */
#endif
  DWT->CYCCNT = 0;
  DWT->CTRL |= DWT_CTRL_CYCCNTENA_Msk;
  uint32_t before = DWT->CYCCNT;
  for (volatile int i = 0; i < 32; i++) {
  }
  mlif_counter_ok = DWT->CYCCNT != before; /* 0 under QEMU */
#elif MLIF_ZEPHYR_COUNTER != MLIF_COUNTER_NONE
  mlif_counter_ok = 1;
#endif
}

void mlif_target_write(const char *text, size_t length) {
#if DT_HAS_CHOSEN(zephyr_console)
  if (device_is_ready(mlif_console)) {
    for (size_t i = 0; i < length; i++) {
      uart_poll_out(mlif_console, (unsigned char)text[i]);
    }
    return;
  }
#endif
  printk("%.*s", (int)length, text);
}

#if MLIF_ZEPHYR_COUNTER == MLIF_COUNTER_MINSTRET || MLIF_ZEPHYR_COUNTER == MLIF_COUNTER_MCYCLE
#if MLIF_ZEPHYR_COUNTER == MLIF_COUNTER_MINSTRET
#define MLIF_CSR_LO "minstret"
#define MLIF_CSR_HI "minstreth"
#else
#define MLIF_CSR_LO "mcycle"
#define MLIF_CSR_HI "mcycleh"
#endif
static uint64_t mlif_read_csr64(void) {
  uint32_t hi, lo, hi2;
  do { /* the high word must not change between the two reads */
    __asm__ volatile("csrr %0, " MLIF_CSR_HI : "=r"(hi));
    __asm__ volatile("csrr %0, " MLIF_CSR_LO : "=r"(lo));
    __asm__ volatile("csrr %0, " MLIF_CSR_HI : "=r"(hi2));
  } while (hi != hi2);
  return ((uint64_t)hi << 32) | lo;
}
#endif

uint64_t mlif_target_counter(void) {
#if MLIF_ZEPHYR_COUNTER == MLIF_COUNTER_DWT
  /* 32 bits: wraps after 2^32 cycles (~20 s at 216 MHz), longer than any invoke here. */
  static uint32_t last;
  static uint64_t high;
  uint32_t now = DWT->CYCCNT;
  if (now < last) high += 1ull << 32;
  last = now;
  return high | now;
#elif MLIF_ZEPHYR_COUNTER == MLIF_COUNTER_MINSTRET || MLIF_ZEPHYR_COUNTER == MLIF_COUNTER_MCYCLE
  return mlif_read_csr64();
#elif MLIF_ZEPHYR_COUNTER == MLIF_COUNTER_K_CYCLE
#if defined(CONFIG_TIMER_HAS_64BIT_CYCLE_COUNTER)
  return k_cycle_get_64();
#else
  static uint32_t last;
  static uint64_t high;
  uint32_t now = k_cycle_get_32();
  if (now < last) high += 1ull << 32;
  last = now;
  return high | now;
#endif
#else
  return 0;
#endif
}

int mlif_target_has_counter(void) { return mlif_counter_ok; }

void mlif_target_exit(int code) {
  (void)code; /* a board has nowhere to return to: the host stops reading at "MLIF done" */
  for (;;) {
    k_sleep(K_FOREVER);
  }
}

uintptr_t mlif_target_stack_bottom(void) { return (uintptr_t)k_current_get()->stack_info.start; }

uintptr_t mlif_target_stack_top(void) {
  const struct k_thread *self = k_current_get();
  return (uintptr_t)(self->stack_info.start + self->stack_info.size);
}
