"""cmsisnn: TFLM's CMSIS-NN kernels instead of its reference kernels (Cortex-M only).

The ``tflmi`` backend builds a separate TFLM library for it, where
``tensorflow/lite/micro/kernels/cmsis_nn/*.cc`` replace the reference kernels of the same name
and CMSIS-NN itself is compiled in. CMSIS-NN picks its DSP/MVE code paths from the core's
compiler flags (``-mcpu=cortex-m4/m7/m33`` give DSP; cortex-m3 gets the plain C paths).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.components import Feature
from .common import backends_with

if TYPE_CHECKING:
    from ..core.components import Backend, Target


class CmsisNN(Feature):
    name = "cmsisnn"
    description = "TFLM's CMSIS-NN kernels (Arm Cortex-M targets, backend tflmi)"

    @classmethod
    def incompatibility(cls, backend: type[Backend], target: type[Target]) -> str | None:
        if cls.name not in backend.features:
            return (
                f"CMSIS-NN kernels are a TFLite Micro option that backend {backend.name} does "
                f"not have (backends with it: {backends_with(cls.name)})"
            )
        if target.family != "arm":
            return (
                f"CMSIS-NN is Arm's kernel library for Cortex-M cores; target {target.name} is "
                f"{target.family or 'not Arm'} (use cortexm_qemu or stm32f4_qemu)"
            )
        return None
