/*
 * insn_count.c - exact guest instruction counts between two marker addresses
 * (QEMU TCG plugin, API version 1 as in QEMU 7.2).
 *
 * Arguments (-plugin insn_count.so,begin=0x...,end=0x...[,point=0x...],out=FILE):
 *   begin, end  addresses of the first instruction of mlif_mark_begin/_end
 *   point       (feature profile) the first instruction of mlif_profile_point: each time
 *               it runs, a "point N" line with the instructions executed before it
 *   out         file that receives one "region N" line per begin/end pair and a
 *               final "total N" line (default: QEMU's log via qemu_plugin_outs)
 *
 * Counting: every translation block adds its instruction count to `total` with
 * an inline op at block entry (cheap, no helper call). That op runs before any
 * of the block's instructions, so when a marker instruction at position `idx`
 * of an `n`-instruction block executes, the instructions executed before it are
 * total - (n - idx). Only marker instructions get a (slow) callback. Blocks
 * end at every branch and at exceptions raised by instructions such as BKPT
 * (semihosting), so a block that was entered is executed to its end except for
 * a faulting instruction, after which the program is stopped anyway.
 * Single vCPU only (Cortex-M boards have one core).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

enum { MARK_BEGIN = 1, MARK_END = 2, MARK_POINT = 3 };

static uint64_t total;          /* instructions of all blocks entered so far */
static uint64_t begin_addr = UINT64_MAX;
static uint64_t end_addr = UINT64_MAX;
static uint64_t point_addr = UINT64_MAX;
static uint64_t begin_count;
static int begin_seen;
static uint64_t regions;
static FILE *out;

static void emit(const char *line) {
  if (out) {
    fputs(line, out);
    fflush(out); /* keep what was counted even if QEMU is killed later */
  } else {
    qemu_plugin_outs(line);
  }
}

/* userdata = kind | (instructions of the block from this one on) << 2 */
static void on_marker(unsigned int vcpu_index, void *userdata) {
  uintptr_t data = (uintptr_t)userdata;
  uint64_t before = total - (uint64_t)(data >> 2);
  char line[64];
  (void)vcpu_index;
  if ((data & 3u) == MARK_POINT) {
    snprintf(line, sizeof(line), "point %" PRIu64 "\n", before);
    emit(line);
  } else if ((data & 3u) == MARK_BEGIN) {
    begin_count = before;
    begin_seen = 1;
  } else if (begin_seen) {
    snprintf(line, sizeof(line), "region %" PRIu64 "\n", before - begin_count);
    emit(line);
    begin_seen = 0;
    regions++;
  }
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
  size_t n = qemu_plugin_tb_n_insns(tb);
  (void)id;
  qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &total, n);
  for (size_t i = 0; i < n; i++) {
    struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
    uint64_t vaddr = qemu_plugin_insn_vaddr(insn);
    uintptr_t kind = vaddr == begin_addr ? MARK_BEGIN
                     : vaddr == end_addr ? MARK_END
                     : vaddr == point_addr ? MARK_POINT
                                           : 0;
    if (kind) {
      uintptr_t data = kind | ((uintptr_t)(n - i) << 2);
      qemu_plugin_register_vcpu_insn_exec_cb(insn, on_marker, QEMU_PLUGIN_CB_NO_REGS,
                                             (void *)data);
    }
  }
}

static void on_plugin_exit(qemu_plugin_id_t id, void *userdata) {
  char line[64];
  (void)id;
  (void)userdata;
  snprintf(line, sizeof(line), "total %" PRIu64 "\n", total);
  emit(line);
  if (out) {
    fclose(out);
    out = NULL;
  }
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                           int argc, char **argv) {
  (void)info;
  for (int i = 0; i < argc; i++) {
    const char *arg = argv[i];
    if (strncmp(arg, "begin=", 6) == 0) {
      begin_addr = strtoull(arg + 6, NULL, 0);
    } else if (strncmp(arg, "end=", 4) == 0) {
      end_addr = strtoull(arg + 4, NULL, 0);
    } else if (strncmp(arg, "point=", 6) == 0) {
      point_addr = strtoull(arg + 6, NULL, 0);
    } else if (strncmp(arg, "out=", 4) == 0) {
      out = fopen(arg + 4, "w");
      if (!out) {
        fprintf(stderr, "insn_count: cannot open %s\n", arg + 4);
        return -1;
      }
    } else {
      fprintf(stderr, "insn_count: unknown argument %s\n", arg);
      return -1;
    }
  }
  qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
  qemu_plugin_register_atexit_cb(id, on_plugin_exit, NULL);
  return 0;
}
