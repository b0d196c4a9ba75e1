/*
 * tvmaot_shim.c - TVMBackendAllocWorkspace / TVMBackendFreeWorkspace from a static region
 * and a TVMFFIErrorSetRaisedFromCStrParts that only sets a flag: all that the kernels of
 * the tvmaot backends need at run time (see tvmaot_shim.h).
 *
 * Kernels free their workspaces in the reverse order of allocation, so the region is a
 * stack: an allocation bumps the top, a free resets the top to the freed block.
 */
#include "tvmaot_shim.h"

#include "tvm/ffi/c_api.h"
#include "tvm/runtime/c_backend_api.h"

#define TVMAOT_ALIGN 16u

volatile int tvmaot_error;
size_t tvmaot_workspace_peak;
static uint8_t *region;
static size_t region_size;
static size_t region_top;

void tvmaot_workspace_begin(void *base, size_t size) {
  region = (uint8_t *)base;
  region_size = size;
  region_top = 0;
}

void *TVMBackendAllocWorkspace(int device_type, int device_id, uint64_t nbytes,
                               int dtype_code_hint, int dtype_bits_hint) {
  (void)device_type;
  (void)device_id;
  (void)dtype_code_hint;
  (void)dtype_bits_hint;
  if (nbytes > region_size) {
    tvmaot_error = 1;
    return NULL;
  }
  size_t size = ((size_t)nbytes + TVMAOT_ALIGN - 1u) & ~(size_t)(TVMAOT_ALIGN - 1u);
  if (region == NULL || size > region_size - region_top) {
    tvmaot_error = 1;
    return NULL;
  }
  void *block = region + region_top;
  region_top += size;
  if (region_top > tvmaot_workspace_peak) tvmaot_workspace_peak = region_top;
  return block;
}

int TVMBackendFreeWorkspace(int device_type, int device_id, void *ptr) {
  (void)device_type;
  (void)device_id;
  uint8_t *p = (uint8_t *)ptr;
  if (region == NULL || p < region || p > region + region_top) {
    tvmaot_error = 1;
    return -1;
  }
  region_top = (size_t)(p - region);
  return 0;
}

void TVMFFIErrorSetRaisedFromCStrParts(const char *kind, const char **message_parts,
                                       int32_t num_parts) {
  (void)kind;
  (void)message_parts;
  (void)num_parts;
  tvmaot_error = 1;
}
