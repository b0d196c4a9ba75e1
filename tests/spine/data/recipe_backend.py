"""docs/architecture.md, "Add a backend": ``maxpool_c``, one file registered by a hook.

A backend turns a model into C sources that implement ``harness/common/mlif.h``; every
compiled target builds and runs them, and the pipeline validates the outputs against the
TFLM reference. This one handles models made of a single int8 MAX_POOL_2D and refuses any
other model at the build stage, naming what it lacks.
"""

import tflite

from pytest_mlonmcu.core.artifacts import Artifact
from pytest_mlonmcu.core.components import Backend
from pytest_mlonmcu.core.errors import BuildError, UnsupportedOperatorError

MAXPOOL_C = r"""
#include <stddef.h>
#include <stdint.h>

#include "mlif.h"

static int8_t in_buf[1 * IN_H * IN_W * CH];
static int8_t out_buf[1 * OUT_H * OUT_W * CH];

int mlif_model_init(void) { return 0; }

int mlif_model_invoke(void) {
  for (int oy = 0; oy < OUT_H; oy++)
    for (int ox = 0; ox < OUT_W; ox++)
      for (int c = 0; c < CH; c++) {
        int best = ACT_MIN;
        for (int fy = 0; fy < FILTER_H; fy++)
          for (int fx = 0; fx < FILTER_W; fx++) {
            int y = oy * STRIDE_H - PAD_TOP + fy, x = ox * STRIDE_W - PAD_LEFT + fx;
            if (y < 0 || y >= IN_H || x < 0 || x >= IN_W) continue; /* padding never wins */
            int v = in_buf[(y * IN_W + x) * CH + c];
            if (v > best) best = v;
          }
        out_buf[(oy * OUT_W + ox) * CH + c] = (int8_t)(best > ACT_MAX ? ACT_MAX : best);
      }
  return 0;
}

size_t mlif_model_num_inputs(void) { return 1; }
size_t mlif_model_num_outputs(void) { return 1; }
void *mlif_model_input(size_t i) { return i == 0 ? in_buf : NULL; }
size_t mlif_model_input_bytes(size_t i) { return i == 0 ? sizeof in_buf : 0; }
const void *mlif_model_output(size_t i) { return i == 0 ? out_buf : NULL; }
size_t mlif_model_output_bytes(size_t i) { return i == 0 ? sizeof out_buf : 0; }
"""


def _pool_options(data: bytes) -> "tflite.Pool2DOptions":
    op = tflite.Model.GetRootAsModel(data, 0).Subgraphs(0).Operators(0)
    options = tflite.Pool2DOptions()
    options.Init(op.BuiltinOptions().Bytes, op.BuiltinOptions().Pos)
    return options


def _same_padding(size: int, out: int, stride: int, window: int) -> int:
    return max((out - 1) * stride + window - size, 0) // 2  # TFLite puts the odd one last


class MaxPoolC(Backend):
    name = "maxpool_c"
    framework = "recipe"
    families = frozenset({"x86", "riscv", "arm"})
    validation = "exact"  # bit-exact against the TFLM reference

    def build(self, model, target, work_dir):
        meta = model.metadata
        for index, op in enumerate(meta.ops):  # refused at the build stage, by name
            if op != "MAX_POOL_2D":
                raise UnsupportedOperatorError(op, index, self.name)
        if len(meta.ops) != 1 or meta.inputs[0].dtype != "int8":
            raise BuildError(f"{self.name}: one int8 MAX_POOL_2D only, not {model.name}")
        options = _pool_options(model.path.read_bytes())
        _, in_h, in_w, ch = meta.inputs[0].shape
        _, out_h, out_w, _ = meta.outputs[0].shape
        same = options.Padding() == tflite.Padding.SAME
        fh, fw = options.FilterHeight(), options.FilterWidth()
        sh, sw = options.StrideH(), options.StrideW()
        relu = options.FusedActivationFunction() == tflite.ActivationFunctionType.RELU
        zero = meta.outputs[0].zero_point or 0
        source = work_dir / "maxpool.c"
        source.write_text(MAXPOOL_C)
        defines = {
            "IN_H": in_h, "IN_W": in_w, "CH": ch, "OUT_H": out_h, "OUT_W": out_w,
            "FILTER_H": fh, "FILTER_W": fw, "STRIDE_H": sh, "STRIDE_W": sw,
            "PAD_TOP": _same_padding(in_h, out_h, sh, fh) if same else 0,
            "PAD_LEFT": _same_padding(in_w, out_w, sw, fw) if same else 0,
            "ACT_MIN": zero if relu else -128, "ACT_MAX": 127,
        }  # fmt: skip
        return Artifact(
            backend=self.name,
            directory=work_dir,
            sources=[source],
            defines={k: str(v) for k, v in defines.items()},
        )


def pytest_mlonmcu_register(backends):
    backends.register(MaxPoolC)
