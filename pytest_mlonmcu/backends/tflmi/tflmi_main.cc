/*
 * tflmi_main.cc - mlif_model_init/invoke of a tflmi program: a static arena of the size the
 * probe found (or tflmi.arena_size), aligned 16 as TFLM wants it.
 * init = resolver + interpreter construction + AllocateTensors, invoke = Invoke.
 */
#include "mlif.h"
#include "tflmi_glue.h"
#include "tflmi_model.h"

alignas(16) static uint8_t tensor_arena[MLIF_TFLM_ARENA_SIZE];

extern "C" int mlif_model_init(void) {
  int rc = mlif_tflm_prepare();
  return rc != 0 ? rc : mlif_tflm_allocate(tensor_arena, sizeof(tensor_arena));
}

extern "C" int mlif_model_invoke(void) { return mlif_tflm_invoke(); }
