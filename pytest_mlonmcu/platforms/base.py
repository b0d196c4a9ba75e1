"""The ``Platform`` base: what builds a program from an artifact, and the targets it makes.

A target belongs to one platform (its class attribute ``platform``, default ``mlif``).
``--mlonmcu-platform`` only checks and completes the target selection (``settings.py``): a
platform's ``default_target`` replaces the project's default, and a target of another platform
is a usage error.
"""

from __future__ import annotations

from typing import ClassVar

from ..boards.boardset import BoardSet
from ..core.components import Target


class Platform:
    """A build system around the harness, and the targets it creates for the session."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    # The target of ``--mlonmcu-platform NAME`` without ``--mlonmcu-target`` (None: the
    # project's default target).
    default_target: ClassVar[str | None] = None

    @classmethod
    def create_targets(cls, boards: BoardSet) -> list[type[Target]]:
        """The target classes this platform makes for the session's ``boards``."""
        return []


def platform_of(target_cls: type) -> str:
    return str(getattr(target_cls, "platform", "mlif") or "mlif")
