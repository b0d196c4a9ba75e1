/*
 * tflmi_probe.cc - the arena probe: the tflmi program with this file instead of tflmi_main.cc.
 *
 * mlif_model_init allocates the tensors in the largest heap block the target gives (its free
 * RAM), then searches the smallest arena with which AllocateTensors succeeds in 16-byte steps
 * and prints it as "MLIF metric tflm_arena_min N". One simulator run on the real target: 32-bit
 * pointers and the target's alignment, not the host's numbers. No inference is run.
 *
 * The search starts at arena_used_bytes() of the first allocation (less cannot hold what TFLM
 * allocated; it is not always enough, temporary allocations peak higher) and goes up: TFLM
 * writes through a null pointer when a parser's persistent allocation fails (AllocatePOD), so
 * arenas far too small must never be tried.
 *
 * Some arenas between that start and the minimum make TFLM itself crash: a kernel's Prepare
 * whose optional temporary tensor is half allocated (FULLY_CONNECTED's int64 bias of a 16x8
 * model) succeeds, the leaked temporary allocation fails ResetTempAllocations, whose status
 * PrepareSubgraphs ignores, and the memory planner then writes outside the arena. Built with
 * MLIF_TFLM_PROBE_SEARCH=0 (after such a crash) the probe only reports arena_used_bytes().
 */
#include <stdlib.h>
#include <string.h>

#include "mlif.h"
#include "mlif_target.h"
#include "tflmi_glue.h"
#include "tflmi_model.h"

#ifndef MLIF_TFLM_PROBE_SEARCH
#define MLIF_TFLM_PROBE_SEARCH 1
#endif

/* tflm_debug_log.cc: the failing attempts would each print an error. */
extern "C" volatile int mlif_tflm_debug_log_enabled;

static void put_line(const char *text, size_t value) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = (char)('0' + (int)(value % 10u));
    value /= 10u;
  } while (value != 0);
  mlif_target_write(text, strlen(text));
  while (n > 0) mlif_target_write(&digits[--n], 1);
  mlif_target_write("\n", 1);
}

extern "C" int mlif_model_init(void) {
  int rc = mlif_tflm_prepare();
  if (rc != 0) return rc;
  uint8_t *block = nullptr;
  size_t have = (size_t)MLIF_TFLM_PROBE_MAX;
  for (; have >= 1024; have -= have / 16) {
    block = static_cast<uint8_t *>(malloc(have));
    if (block != nullptr) break;
  }
  if (block == nullptr) {
    put_line("MLIF error tflm arena probe: no heap block of at least ", 1024);
    return 4;
  }
  /* The real arena is aligned 16: probe from a 16-aligned start. */
  uintptr_t start = ((uintptr_t)block + 15u) & ~(uintptr_t)15u;
  uint8_t *base = (uint8_t *)start;
  size_t hi = (have - (size_t)(start - (uintptr_t)block)) / 16u; /* 16-byte units; works */
  if (mlif_tflm_allocate(base, hi * 16u) != 0) {
    put_line("MLIF error tflm arena probe: AllocateTensors fails even with an arena of ", hi * 16u);
    return 4;
  }
#if !MLIF_TFLM_PROBE_SEARCH
  /* No search (the searching probe crashed inside TFLM): what the allocation used. */
  put_line("MLIF metric tflm_arena_used ", mlif_tflm_arena_used());
  return 0;
#endif
  size_t lo = mlif_tflm_arena_used() / 16u; /* lo - 1 fails: less than TFLM used */
  lo = lo > 0 ? lo - 1 : 0;                 /* invariant: lo fails (or is 0), hi works */
  mlif_tflm_debug_log_enabled = 0;          /* the failing attempts would print errors */
  for (size_t step = 1; lo + step < hi; step *= 2) {
    if (mlif_tflm_allocate(base, (lo + step) * 16u) == 0) {
      hi = lo + step;
      break;
    }
    lo += step;
  }
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (mlif_tflm_allocate(base, mid * 16u) == 0) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  mlif_tflm_debug_log_enabled = 1;
  put_line("MLIF metric tflm_arena_min ", hi * 16u);
  return mlif_tflm_allocate(base, hi * 16u); /* inputs/outputs for the harness */
}

extern "C" int mlif_model_invoke(void) { return 0; }
