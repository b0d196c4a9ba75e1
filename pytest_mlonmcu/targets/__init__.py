"""Targets (where programs run), behind a registry."""

from __future__ import annotations

from ..registry import Registry
from .base import Target

TARGETS: Registry[Target] = Registry("target")


def register_builtin_targets() -> None:
    from .etiss import Etiss
    from .host_x86 import HostX86

    for cls in (HostX86, Etiss):
        TARGETS.register(cls, replace=True)
