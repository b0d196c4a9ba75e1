"""tvmaot: Apache TVM 0.27 (Relax) kernels behind a static C executor, one buffer per tensor.

The model is imported with TVM's TFLite frontend, rewritten to integer arithmetic
(bit-exact with TFLM; ``tvmaot.int8=false`` keeps TVM's float path), lowered with
Relax and compiled to C by TVM (target ``c``); the project generates the executor that
calls the kernels in order (backends/tvm/). No TVM runtime and no malloc on the device.
TVM runs in a subprocess; builds are cached by content hash.
"""

from __future__ import annotations

from .backend import TvmAotBase


class TvmAotBackend(TvmAotBase):
    name = "tvmaot"
    description = (
        "Apache TVM 0.27 (Relax) C kernels + static executor, a buffer per tensor "
        "(integer path bit-exact with TFLM)"
    )
    arena = False
