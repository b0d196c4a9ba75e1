"""Targets (where programs run), behind a registry: every target is registered here."""

from __future__ import annotations

from ..boards.boardset import BoardSet, shipped_boards
from ..core.components import Target
from ..core.registry import Registry
from ..platforms import PLATFORMS
from .cortexm_qemu import CortexMQemu, Stm32f4Qemu
from .etiss import Etiss
from .host_x86 import HostX86
from .riscv_qemu import RiscvQemu

TARGETS: Registry[Target] = Registry("target")


def register_builtin_targets(boards: BoardSet | None = None) -> None:
    """The simulator targets and every platform's targets for ``boards`` (the session's;
    default: boards.yml's, none attached)."""
    for cls in (HostX86, RiscvQemu, CortexMQemu, Stm32f4Qemu, Etiss):
        TARGETS.register(cls, replace=True)
    for platform in PLATFORMS.values():
        for cls in platform.create_targets(boards or shipped_boards()):
            TARGETS.register(cls, replace=True)
