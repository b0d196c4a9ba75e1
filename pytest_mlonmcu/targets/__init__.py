"""Targets (where programs run), behind a registry."""

from __future__ import annotations

from ..boards.boardset import BoardSet, shipped_boards
from ..core.components import Target
from ..core.registry import Registry

TARGETS: Registry[Target] = Registry("target")


def register_builtin_targets(boards: BoardSet | None = None) -> None:
    """The built-in targets, with one Zephyr target per board of ``boards`` (the session's;
    default: boards.yml's)."""
    from ..platforms.zephyr.target import board_target_classes
    from .cortexm_qemu import CortexMQemu, Stm32f4Qemu
    from .etiss import Etiss
    from .host_x86 import HostX86
    from .riscv_qemu import RiscvQemu

    for cls in (HostX86, RiscvQemu, CortexMQemu, Stm32f4Qemu, Etiss):
        TARGETS.register(cls, replace=True)
    for cls in board_target_classes(boards or shipped_boards()):
        TARGETS.register(cls, replace=True)
