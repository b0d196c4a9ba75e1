/*
 * cxx_support.cc - the C++ runtime pieces a C++ backend needs on riscv_qemu.
 *
 * Debian has no libstdc++/libsupc++ for riscv64-unknown-elf: C++ is compiled with
 * -fno-exceptions -fno-rtti against the arm-none-eabi libstdc++ headers (see
 * riscv_qemu.py) and linked with gcc. These definitions are weak, so a backend
 * may bring its own; --gc-sections drops them from C programs.
 */
#include <stddef.h>
#include <stdlib.h>

#define MLIF_WEAK __attribute__((weak))

MLIF_WEAK void *operator new(size_t size) {
  void *p = malloc(size ? size : 1);
  if (p == nullptr) abort();
  return p;
}
MLIF_WEAK void *operator new[](size_t size) { return operator new(size); }
MLIF_WEAK void operator delete(void *p) noexcept { free(p); }
MLIF_WEAK void operator delete[](void *p) noexcept { free(p); }
MLIF_WEAK void operator delete(void *p, size_t) noexcept { free(p); }
MLIF_WEAK void operator delete[](void *p, size_t) noexcept { free(p); }

extern "C" {
/* A pure virtual function was called: a bug in the backend; stop loudly. */
MLIF_WEAK void __cxa_pure_virtual(void) { abort(); }

/* Static destructors registered with __cxa_atexit name their DSO; there is one. */
MLIF_WEAK void *__dso_handle = nullptr;
}
