/*
 * main.c - the target harness: runs a compiled backend through mlif.h and
 * reports what happened as lines the host parses (see pytest_mlonmcu/protocol.py):
 *
 *   MLIF setup <rc> <instructions|->
 *   MLIF invoke <sample> <run> <rc> <instructions|->
 *   MLIF output <sample> <index> <hex bytes>
 *   MLIF stack <peak bytes>
 *   MLIF done <rc>
 *
 * Measured regions are bracketed by mlif_mark_begin()/mlif_mark_end(); targets
 * without a counter the program can read (QEMU Cortex-M, host) count between
 * these two functions from outside, in the same order as the lines printed.
 */
#include <string.h>

#include "mlif.h"
#include "mlif_data.h"
#include "mlif_target.h"

#define MLIF_STACK_PATTERN 0xA5A5A5A5u

volatile int mlif_mark_state;

/* Distinct bodies so the compiler never merges the two markers. */
__attribute__((noinline)) void mlif_mark_begin(void) { mlif_mark_state = 1; }
__attribute__((noinline)) void mlif_mark_end(void) { mlif_mark_state = 2; }

/* Every measured call goes through here: callgrind counts this one function. */
__attribute__((noinline)) int mlif_measured_call(int (*fn)(void)) { return fn(); }

static char line_buf[160];
static size_t line_len;

static void flush(void) {
  mlif_target_write(line_buf, line_len);
  line_len = 0;
}

static void put_char(char c) {
  if (line_len == sizeof(line_buf)) flush();
  line_buf[line_len++] = c;
  if (c == '\n') flush();
}

static void put_str(const char *s) {
  while (*s) put_char(*s++);
}

static void put_u64(uint64_t v) {
  char digits[21];
  int n = 0;
  do {
    digits[n++] = (char)('0' + (int)(v % 10u));
    v /= 10u;
  } while (v);
  while (n) put_char(digits[--n]);
}

static void put_int(int v) {
  if (v < 0) {
    put_char('-');
    put_u64((uint64_t)(-(int64_t)v));
  } else {
    put_u64((uint64_t)v);
  }
}

static void put_count(uint64_t begin, uint64_t end) {
  if (mlif_target_has_counter()) {
    put_u64(end - begin);
  } else {
    put_char('-');
  }
}

static void put_hex(const uint8_t *data, size_t n) {
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    put_char(hex[data[i] >> 4]);
    put_char(hex[data[i] & 15]);
  }
}

/* Fill the unused stack with a pattern; the high-water mark is read at exit. */
__attribute__((noinline)) static void paint_stack(void) {
  uintptr_t bottom = mlif_target_stack_bottom();
  volatile uint8_t here;
  uintptr_t limit = (uintptr_t)&here - 256; /* keep clear of our own frame */
  if (bottom == 0) return;
  for (uintptr_t p = (bottom + 3u) & ~(uintptr_t)3u; p + 4 <= limit; p += 4) {
    *(volatile uint32_t *)p = MLIF_STACK_PATTERN;
  }
}

static uintptr_t stack_peak(void) {
  uintptr_t bottom = mlif_target_stack_bottom();
  uintptr_t top = mlif_target_stack_top();
  uintptr_t p = (bottom + 3u) & ~(uintptr_t)3u;
  while (p + 4 <= top && *(volatile uint32_t *)p == MLIF_STACK_PATTERN) p += 4;
  return top - p;
}

static int finish(int rc) {
  if (mlif_target_stack_bottom() != 0) {
    put_str("MLIF stack ");
    put_u64((uint64_t)stack_peak());
    put_char('\n');
  }
  put_str("MLIF done ");
  put_int(rc);
  put_char('\n');
  return rc;
}

/* Copies sample s's inputs into the model (outside the measured regions); 0 or 3. */
__attribute__((noinline)) static int load_inputs(size_t s) {
  for (size_t i = 0; i < mlif_sample_input_count; i++) {
    size_t k = s * mlif_sample_input_count + i;
    if (mlif_sample_input_bytes[i] != mlif_model_input_bytes(i)) {
      put_str("MLIF error input size mismatch\n");
      return 3;
    }
    memcpy(mlif_model_input(i), mlif_sample_inputs[k], mlif_sample_input_bytes[i]);
  }
  return 0;
}

#ifdef MLIF_PROFILE
/*
 * Feature profile: generated code brackets operator i with cgen_profile_op(i, 0) and
 * cgen_profile_op(i, 1). Each bracket's counter difference is kept and printed after the
 * invoke (outside the measured region) as
 *   MLIF op <sample> <run> <index> <instructions in the bracket>
 * and once, the same difference for an empty bracket (the bracket's own cost):
 *   MLIF opbracket <instructions>
 */
#define MLIF_PROFILE_SLOTS 1024
#define MLIF_PROFILE_EMPTY (MLIF_PROFILE_SLOTS - 1) /* the empty bracket's slot */
static uint64_t profile_count[MLIF_PROFILE_SLOTS];
static uint8_t profile_seen[MLIF_PROFILE_SLOTS]; /* operators without code have no bracket */
static uint64_t profile_start;
static int profile_last = -1;

/* Where the program cannot read a counter (QEMU Cortex-M), a TCG plugin reports each
 * execution of this function ("point"): the brackets are the consecutive points. */
__attribute__((noinline)) void mlif_profile_point(void) { mlif_mark_state = 3; }

__attribute__((noinline)) void cgen_profile_op(int index, int end) {
  mlif_profile_point();
  uint64_t now = mlif_target_counter();
  if (!end) {
    profile_start = now;
  } else if (index >= 0 && index < MLIF_PROFILE_SLOTS) {
    profile_count[index] += now - profile_start;
    profile_seen[index] = 1;
    if (index != MLIF_PROFILE_EMPTY && index > profile_last) profile_last = index;
  }
}

/* The empty bracket, in a function of its own: callgrind (host) collects only inside the
 * functions it is told to, and this is one of them. Not "mlif_...": valgrind 3.19 ignores a
 * second --toggle-collect name that starts with the same letter as the first
 * (mlif_measured_call). The barrier keeps the second call a call, not a tail jump. */
__attribute__((noinline)) void cgen_profile_calibrate(void) {
  cgen_profile_op(MLIF_PROFILE_EMPTY, 0);
  cgen_profile_op(MLIF_PROFILE_EMPTY, 1);
  __asm__ volatile("" ::: "memory");
}

static void profile_empty_bracket(void) {
  cgen_profile_calibrate();
  put_str("MLIF opbracket ");
  if (mlif_target_has_counter()) {
    put_u64(profile_count[MLIF_PROFILE_EMPTY]);
  } else {
    put_char('-'); /* from the plugin's points */
  }
  put_char('\n');
}

static void profile_report(size_t sample, size_t run) {
  for (int i = 0; i <= profile_last; i++) {
    if (!profile_seen[i]) continue;
    put_str("MLIF op ");
    put_u64(sample);
    put_char(' ');
    put_u64(run);
    put_char(' ');
    put_int(i);
    put_char(' ');
    if (mlif_target_has_counter()) {
      put_u64(profile_count[i]);
    } else {
      put_char('-');
    }
    put_char('\n');
    profile_count[i] = 0;
    profile_seen[i] = 0;
  }
  profile_last = -1;
}
#endif

int main(void) {
  mlif_target_init();
  paint_stack();

  mlif_mark_begin();
  uint64_t c0 = mlif_target_counter();
  int rc = mlif_measured_call(mlif_model_init);
  uint64_t c1 = mlif_target_counter();
  mlif_mark_end();
  put_str("MLIF setup ");
  put_int(rc);
  put_char(' ');
  put_count(c0, c1);
  put_char('\n');
  if (rc != 0) return finish(rc);

#ifdef MLIF_PROFILE
  profile_empty_bracket();
#endif
  if (mlif_model_num_inputs() != mlif_sample_input_count) {
    put_str("MLIF error input count mismatch\n");
    return finish(3);
  }
  for (size_t s = 0; s < mlif_sample_count; s++) {
    if (load_inputs(s) != 0) return finish(3);
    for (size_t run = 0; run < mlif_sample_invoke_runs; run++) {
      mlif_mark_begin();
      c0 = mlif_target_counter();
      rc = mlif_measured_call(mlif_model_invoke);
      c1 = mlif_target_counter();
      mlif_mark_end();
      put_str("MLIF invoke ");
      put_u64(s);
      put_char(' ');
      put_u64(run);
      put_char(' ');
      put_int(rc);
      put_char(' ');
      put_count(c0, c1);
      put_char('\n');
#ifdef MLIF_PROFILE
      profile_report(s, run);
#endif
      if (rc != 0) return finish(rc);
      /* Every invoke gets the sample's inputs: a model may reuse their memory. */
      if (run + 1 < mlif_sample_invoke_runs && load_inputs(s) != 0) return finish(3);
    }
    for (size_t o = 0; o < mlif_model_num_outputs(); o++) {
      put_str("MLIF output ");
      put_u64(s);
      put_char(' ');
      put_u64(o);
      put_char(' ');
      put_hex((const uint8_t *)mlif_model_output(o), mlif_model_output_bytes(o));
      put_char('\n');
    }
  }
  return finish(0);
}
