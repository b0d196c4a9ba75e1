"""A pytester conftest: registers ``echo_c``, a tiny C backend for host_x86.

Its program implements ``harness/common/mlif.h`` and copies the input bytes to the
output (wrapping around): a real compiled backend whose outputs are wrong.
"""

from pytest_mlonmcu.core.artifacts import Artifact
from pytest_mlonmcu.core.components import Backend

ECHO_C = """
#include <stddef.h>
#include <stdint.h>

#include "mlif.h"

static int8_t in_buf[ECHO_IN_BYTES];
static int8_t out_buf[ECHO_OUT_BYTES];

int mlif_model_init(void) { return 0; }

int mlif_model_invoke(void) {
  for (size_t i = 0; i < ECHO_OUT_BYTES; i++) out_buf[i] = in_buf[i % ECHO_IN_BYTES];
  return 0;
}

size_t mlif_model_num_inputs(void) { return 1; }
size_t mlif_model_num_outputs(void) { return 1; }
void *mlif_model_input(size_t index) { return index == 0 ? in_buf : NULL; }
size_t mlif_model_input_bytes(size_t index) { return index == 0 ? ECHO_IN_BYTES : 0; }
const void *mlif_model_output(size_t index) { return index == 0 ? out_buf : NULL; }
size_t mlif_model_output_bytes(size_t index) { return index == 0 ? ECHO_OUT_BYTES : 0; }
"""


class EchoBackend(Backend):
    name = "echo_c"
    framework = "test"
    families = frozenset({"x86"})
    validation = "exact"

    def build(self, model, target, work_dir):
        meta = model.metadata
        assert len(meta.inputs) == 1 and len(meta.outputs) == 1, "echo_c: one input, one output"
        source = work_dir / "echo.c"
        source.write_text(ECHO_C)
        return Artifact(
            backend=self.name,
            directory=work_dir,
            kind="c_sources",
            sources=[source],
            defines={
                "ECHO_IN_BYTES": str(meta.inputs[0].nbytes),
                "ECHO_OUT_BYTES": str(meta.outputs[0].nbytes),
            },
            metrics={"echo_bytes": meta.outputs[0].nbytes},
        )


def pytest_mlonmcu_register(backends, targets):
    backends.register(EchoBackend)
