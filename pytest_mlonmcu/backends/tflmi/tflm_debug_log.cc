/*
 * tflm_debug_log.cc - the platform functions TFLM's MicroPrintf needs (replaces TFLM's
 * micro/debug_log.cc, which writes to stderr): messages go through the harness's
 * mlif_target_write, or nowhere with MLIF_TFLM_DEBUG_LOG=0 (tflmi.debug_log=false, smaller ROM:
 * no vsnprintf). Compiled with each program so the TFLM library does not depend on the harness.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "mlif_target.h"
#include "tensorflow/lite/micro/debug_log.h"

#ifndef MLIF_TFLM_DEBUG_LOG
#define MLIF_TFLM_DEBUG_LOG 1
#endif

/* The arena probe silences the errors of its failing attempts. */
extern "C" volatile int mlif_tflm_debug_log_enabled;
volatile int mlif_tflm_debug_log_enabled = 1;

extern "C" void DebugLog(const char *format, va_list args) {
#if MLIF_TFLM_DEBUG_LOG
  if (!mlif_tflm_debug_log_enabled) return;
  char line[256];
  int n = vsnprintf(line, sizeof(line), format, args);
  if (n <= 0) return;
  mlif_target_write(line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
#else
  (void)format;
  (void)args;
#endif
}

extern "C" int DebugVsnprintf(char *buffer, size_t buf_size, const char *format, va_list vlist) {
#if MLIF_TFLM_DEBUG_LOG
  return vsnprintf(buffer, buf_size, format, vlist);
#else
  (void)format;
  (void)vlist;
  if (buf_size > 0) buffer[0] = '\0';
  return 0;
#endif
}
