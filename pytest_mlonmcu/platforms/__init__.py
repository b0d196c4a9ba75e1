"""Platforms: how a backend's artifact becomes a program for a target, and their targets.

``mlif`` is the bare-metal flow (``platforms/mlif/``: harness + backend sources linked with the
target's startup code); ``zephyr`` builds a Zephyr application for a board
(``platforms/zephyr/``) and makes one target per board.
"""

from __future__ import annotations

from .base import Platform
from .mlif.platform import MlifPlatform
from .zephyr.platform import ZephyrPlatform

# Every platform by name (--mlonmcu-platform); each creates its targets for the session.
PLATFORMS: dict[str, type[Platform]] = {p.name: p for p in (MlifPlatform, ZephyrPlatform)}
