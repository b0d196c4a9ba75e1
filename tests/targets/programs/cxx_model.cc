/*
 * cxx_model.cc - a C++ "backend": virtual dispatch, operator new, a static object
 * with a constructor and destructor (as TFLM-style C++ backends use them).
 * output[i] = input[i] * 3 (int8, wrapping), computed through a virtual call.
 */
#include <cstdint>
#include <new>

#include "mlif.h"

namespace {

struct Layer {
  virtual ~Layer() = default;
  virtual int8_t apply(int8_t x) const = 0;
};

struct Scale final : Layer {
  explicit Scale(int factor) : factor_(factor) {}
  int8_t apply(int8_t x) const override { return static_cast<int8_t>(x * factor_); }
  int factor_;
};

struct Config {
  Config() : factor(3) {}
  ~Config() { factor = 0; }
  int factor;
};

Config config;  // constructed before main by the start-up code
Layer *layer = nullptr;
int8_t input[16];
int8_t output[16];

}  // namespace

extern "C" {

int mlif_model_init(void) {
  layer = new Scale(config.factor);
  return layer != nullptr && config.factor == 3 ? 0 : 1;
}

int mlif_model_invoke(void) {
  for (int i = 0; i < 16; i++) output[i] = layer->apply(input[i]);
  return 0;
}

size_t mlif_model_num_inputs(void) { return 1; }
size_t mlif_model_num_outputs(void) { return 1; }
void *mlif_model_input(size_t index) { return index == 0 ? input : nullptr; }
size_t mlif_model_input_bytes(size_t index) { return index == 0 ? sizeof input : 0; }
const void *mlif_model_output(size_t index) { return index == 0 ? output : nullptr; }
size_t mlif_model_output_bytes(size_t index) { return index == 0 ? sizeof output : 0; }
}
