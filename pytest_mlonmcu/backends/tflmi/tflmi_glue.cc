/*
 * tflmi_glue.cc - the TensorFlow Lite Micro interpreter behind mlif.h (backend tflmi).
 *
 * Everything that needs TFLM's headers is here, so this file is compiled once per operator
 * set and library (with the library's flags) and cached; the per-program parts are small
 * (tflmi_main.cc, tflmi_probe.cc). The resolver holds exactly the model's operators (the
 * generated tflmi_ops.h). Objects are placement-new'd into static storage: their construction
 * is part of the measured setup, and no static constructor or destructor is involved.
 */
#include "tflmi_glue.h"

#include <new>

#include "mlif.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tflmi_ops.h"

#ifdef MLIF_TFLM_PROFILE
#include "tensorflow/lite/micro/micro_profiler_interface.h"

extern "C" void cgen_profile_op(int index, int end); /* the harness's brackets (main.c) */

namespace {

// Feature profile: TFLM brackets every operator it invokes with BeginEvent/EndEvent; each is
// one bracket of the harness, numbered in the order of one Invoke (subgraph 0's operators).
class MlifProfiler : public tflite::MicroProfilerInterface {
 public:
  uint32_t BeginEvent(const char *) override {
    cgen_profile_op(static_cast<int>(next_), 0);
    return next_++;
  }
  void EndEvent(uint32_t handle) override { cgen_profile_op(static_cast<int>(handle), 1); }
  void Reset() { next_ = 0; }
  // Never deleted (static storage); the virtual destructor must not pull in the heap's.
  static void operator delete(void *) {}
  static void operator delete(void *, size_t) {}

 private:
  uint32_t next_ = 0;
};

alignas(MlifProfiler) uint8_t profiler_storage[sizeof(MlifProfiler)];
MlifProfiler *profiler = nullptr;

}  // namespace

static tflite::MicroProfilerInterface *mlif_profiler(void) {
  if (profiler == nullptr) profiler = new (profiler_storage) MlifProfiler();
  return profiler;
}
#endif

namespace {

using Resolver = tflite::MicroMutableOpResolver<MLIF_TFLM_OP_COUNT>;

alignas(Resolver) uint8_t resolver_storage[sizeof(Resolver)];
alignas(tflite::MicroInterpreter) uint8_t interpreter_storage[sizeof(tflite::MicroInterpreter)];
const tflite::Model *model = nullptr;
Resolver *resolver = nullptr;
tflite::MicroInterpreter *interpreter = nullptr;

}  // namespace

extern "C" int mlif_tflm_prepare(void) {
  model = tflite::GetModel(mlif_tflm_model);
  if (model->version() != TFLITE_SCHEMA_VERSION) return 1;
  resolver = new (resolver_storage) Resolver();
#define MLIF_TFLM_ADD(method) \
  if (resolver->method() != kTfLiteOk) return 2;
  MLIF_TFLM_OPERATORS(MLIF_TFLM_ADD)
#undef MLIF_TFLM_ADD
  return 0;
}

extern "C" int mlif_tflm_allocate(uint8_t *arena, size_t size) {
  if (interpreter != nullptr) interpreter->~MicroInterpreter();
#ifdef MLIF_TFLM_PROFILE
  interpreter = new (interpreter_storage)
      tflite::MicroInterpreter(model, *resolver, arena, size, nullptr, mlif_profiler());
#else
  interpreter = new (interpreter_storage) tflite::MicroInterpreter(model, *resolver, arena, size);
#endif
  return interpreter->AllocateTensors() == kTfLiteOk ? 0 : 3;
}

extern "C" size_t mlif_tflm_arena_used(void) { return interpreter->arena_used_bytes(); }

extern "C" int mlif_tflm_invoke(void) {
#ifdef MLIF_TFLM_PROFILE
  profiler->Reset();
#endif
  return interpreter->Invoke() == kTfLiteOk ? 0 : 1;
}

extern "C" size_t mlif_model_num_inputs(void) { return interpreter->inputs_size(); }

extern "C" size_t mlif_model_num_outputs(void) { return interpreter->outputs_size(); }

extern "C" void *mlif_model_input(size_t index) { return interpreter->input(index)->data.data; }

extern "C" size_t mlif_model_input_bytes(size_t index) { return interpreter->input(index)->bytes; }

extern "C" const void *mlif_model_output(size_t index) {
  return interpreter->output(index)->data.data;
}

extern "C" size_t mlif_model_output_bytes(size_t index) {
  return interpreter->output(index)->bytes;
}
