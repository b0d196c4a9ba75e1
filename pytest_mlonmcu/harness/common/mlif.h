/*
 * mlif.h - the ML interface between the target harness and a compiled backend.
 *
 * Every compiled backend (cgen, tvmaot, tflmi on a target, ...) implements these
 * functions; the harness (main.c) calls them and never looks inside the model.
 * Buffers returned by mlif_model_input/output stay valid after mlif_model_init.
 */
#ifndef MLIF_H
#define MLIF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Prepare the model (plan memory, set up kernels). Returns 0 on success. */
int mlif_model_init(void);

/* Run one inference on the current input buffers. Returns 0 on success. */
int mlif_model_invoke(void);

size_t mlif_model_num_inputs(void);
size_t mlif_model_num_outputs(void);

/* Input tensor buffer `index` and its size in bytes. */
void *mlif_model_input(size_t index);
size_t mlif_model_input_bytes(size_t index);

/* Output tensor buffer `index` and its size in bytes. */
const void *mlif_model_output(size_t index);
size_t mlif_model_output_bytes(size_t index);

#ifdef __cplusplus
}
#endif

#endif /* MLIF_H */
