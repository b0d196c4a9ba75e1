"""Targets (where programs run), behind a registry."""

from __future__ import annotations

from ..core.components import Target
from ..core.registry import Registry

TARGETS: Registry[Target] = Registry("target")


def register_builtin_targets() -> None:
    from .cortexm_qemu import CortexMQemu, Stm32f4Qemu
    from .etiss import Etiss
    from .host_x86 import HostX86
    from .riscv_qemu import RiscvQemu

    for cls in (HostX86, RiscvQemu, CortexMQemu, Stm32f4Qemu, Etiss):
        TARGETS.register(cls, replace=True)
    # Zephyr boards (platform zephyr): one target per board of boards/boards.yml.
    from ..platforms.zephyr.target import board_target_classes

    for cls in board_target_classes():
        TARGETS.register(cls, replace=True)
