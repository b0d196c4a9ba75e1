/*
 * tflmi_glue.h - between the TFLM glue (tflmi_glue.cc, compiled once per operator set and
 * library, cached) and the per-program parts (tflmi_main.cc or tflmi_probe.cc, model data).
 */
#ifndef TFLMI_GLUE_H
#define TFLMI_GLUE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The .tflite flatbuffer (tflmi_model_data.cc, in ROM). */
extern const unsigned char mlif_tflm_model[];

/* Check the model's schema version and register its operators. 0 on success. */
int mlif_tflm_prepare(void);

/* (Re)construct the interpreter on `arena` and run AllocateTensors. 0 on success. */
int mlif_tflm_allocate(uint8_t *arena, size_t size);

/* MicroInterpreter::arena_used_bytes() after a successful mlif_tflm_allocate. */
size_t mlif_tflm_arena_used(void);

/* MicroInterpreter::Invoke. 0 on success. */
int mlif_tflm_invoke(void);

#ifdef __cplusplus
}
#endif

#endif /* TFLMI_GLUE_H */
