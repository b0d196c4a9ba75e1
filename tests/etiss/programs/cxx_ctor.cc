// cxx_ctor.cc - a C++ "model": a global object's constructor must have run before main
// (crt0.S calls __libc_init_array), and the C++ headers must work for riscv.
#include <array>
#include <cstdint>

#include "mlif.h"

namespace {

struct Table {
  std::array<uint8_t, 4> values{};
  Table() {
    for (size_t i = 0; i < values.size(); i++) values[i] = static_cast<uint8_t>(10 * (i + 1));
  }
};

Table table;  // constructed at start-up
uint8_t input[4];
uint8_t output[4];

}  // namespace

extern "C" {

int mlif_model_init(void) { return 0; }

int mlif_model_invoke(void) {
  for (size_t i = 0; i < 4; i++) output[i] = static_cast<uint8_t>(table.values[i] + input[i]);
  return 0;
}

size_t mlif_model_num_inputs(void) { return 1; }
size_t mlif_model_num_outputs(void) { return 1; }
void *mlif_model_input(size_t index) { return index == 0 ? input : nullptr; }
size_t mlif_model_input_bytes(size_t index) { return index == 0 ? sizeof(input) : 0; }
const void *mlif_model_output(size_t index) { return index == 0 ? output : nullptr; }
size_t mlif_model_output_bytes(size_t index) { return index == 0 ? sizeof(output) : 0; }
}
