"""Platforms and ``--mlonmcu-platform``.

A target belongs to one platform (its class attribute ``platform``, default ``mlif``). The
option only checks and completes the target selection: with ``zephyr``, the default target is
``mps2_an385`` (an emulated board, runs anywhere QEMU does), Zephyr board names are accepted
in their Zephyr spelling (``mps2/an385``), and a target of another platform is a usage error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from ..boards.boardset import BoardSet
from ..core.errors import UsageError


class Platform:
    """What builds a program from an artifact (a build system around the harness)."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""


PLATFORMS: dict[str, str] = {
    "mlif": "bare metal: harness + backend linked with the target's startup code (default)",
    "zephyr": "a Zephyr 4.3 application per run, built with west/CMake for a board",
}
DEFAULT_TARGETS = {"zephyr": "mps2_an385"}


def platform_of(target_cls: type) -> str:
    return str(getattr(target_cls, "platform", "mlif") or "mlif")


def check_platform_targets(
    platform: str | None, targets: Sequence[str], explicit: bool
) -> list[str]:
    """The targets of the session under ``platform`` (None: whatever each target is).

    ``targets`` are the selected names (``explicit`` False: the project's default, which a
    platform replaces with its own default).
    """
    from ..targets import TARGETS

    if platform is None or platform == "":
        return list(targets)
    if platform not in PLATFORMS:
        raise UsageError(f"--mlonmcu-platform {platform!r}: expected one of {', '.join(PLATFORMS)}")
    if not explicit:
        default = DEFAULT_TARGETS.get(platform)
        if default is not None and default in TARGETS:
            return [default]
        return list(targets)
    out = []
    for name in targets:
        if name not in TARGETS and "/" in name:
            name = BoardSet.target_name_of(name)  # the Zephyr spelling of a board
        cls = TARGETS.get(name)
        if platform_of(cls) != platform:
            known = [t.name for t in TARGETS if platform_of(t) == platform]
            raise UsageError(
                f"target {name} is not a {platform} target (it is {platform_of(cls)}); "
                f"{platform} targets: {', '.join(known) or 'none'}"
            )
        out.append(name)
    return out
