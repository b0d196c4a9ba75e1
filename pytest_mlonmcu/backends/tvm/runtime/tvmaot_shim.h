/*
 * tvmaot_shim.h - the runtime symbols that TVM's generated C kernels reference, served
 * without the TVM runtime: workspaces come from a static memory region that the
 * generated executor hands over before each kernel that needs one (a pool of its own in
 * tvmaot, a planned slice of the arena in tvmaotplus); errors set a flag that
 * mlif_model_invoke returns. No malloc.
 */
#ifndef TVMAOT_SHIM_H
#define TVMAOT_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Workspaces of the next kernel calls come from [base, base + size). */
void tvmaot_workspace_begin(void *base, size_t size);

/* Non-zero after a kernel reported an error or a workspace did not fit. */
extern volatile int tvmaot_error;

/* High-water mark of the workspace region in use (bytes, for debugging). */
extern size_t tvmaot_workspace_peak;

#ifdef __cplusplus
}
#endif

#endif /* TVMAOT_SHIM_H */
