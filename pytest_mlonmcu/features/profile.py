"""profile: instructions per operator, by bracketing each operator with the target's own
counter (instret on RISC-V), read by the program itself: cgen's generated calls, tflmi's
operators through TFLM's MicroProfilerInterface (BeginEvent/EndEvent around each invoke), and
tvmaot/tvmaotplus's kernel calls in the static executor (TVM fuses TFLite's operators, so
their rows are kernels, without MACs).

Rows (index, operator, output shape, MACs, instructions, instructions per MAC) go into the
record's ``"operators"``, the run's ``run/operators.csv``, a table under ``-v`` and a stacked
bar plot per model. Implemented on targets whose program reads an exact counter
(``Target.in_program_counter``: etiss, riscv_qemu) and where an outside counter reports each
bracket edge (``Target.profile_points``: the TCG plugin on cortexm_qemu and stm32f4_qemu,
callgrind's dumps before each edge on host_x86). Not yet: the Zephyr boards; tflmi on the
host (the wheel) and tvmrt (TVM's VM) run no compiled program to bracket.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.components import Feature
from .common import backends_with

if TYPE_CHECKING:
    from ..core.components import Backend, Target


class Profile(Feature):
    name = "profile"
    description = "instructions per operator (cgen, tflmi; TVM: per kernel; RISC-V, Cortex-M QEMU, etiss, host)"

    @classmethod
    def incompatibility(cls, backend: type[Backend], target: type[Target]) -> str | None:
        if cls.name not in backend.features:
            return (
                f"per-operator counts are not implemented for backend {backend.name} yet "
                f"(backends with them: {backends_with(cls.name)})"
            )
        if not (target.in_program_counter or target.profile_points):
            return (
                f"target {target.name} cannot count per operator yet (targets that can: "
                "etiss, riscv_qemu, cortexm_qemu, stm32f4_qemu, host_x86)"
            )
        if target.family in backend.python_runner_families:
            return (
                f"backend {backend.name} runs in Python on target {target.name} (the "
                "tflite-micro wheel), which has no per-operator hook; profile it on etiss, "
                "riscv_qemu, cortexm_qemu or stm32f4_qemu"
            )
        return None
