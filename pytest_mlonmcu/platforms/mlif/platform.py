"""The bare-metal platform (``mlif``, the default): harness + backend linked by GCC."""

from __future__ import annotations

from typing import ClassVar

from ..base import Platform


class MlifPlatform(Platform):
    """Its targets are the simulators and the host (``targets/``), each a ``CompiledTarget``
    with its own toolchain, startup code and runner; it makes none from boards."""

    name: ClassVar[str] = "mlif"
    description: ClassVar[str] = (
        "bare metal: harness + backend linked with the target's startup code (default)"
    )
