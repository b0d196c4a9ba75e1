"""Platforms: how a backend's artifact becomes a program for a target.

``mlif`` is the bare-metal flow of ``platforms/mlif/`` (harness + backend sources linked
with the target's startup code); ``zephyr`` builds a Zephyr application for a board
(``platforms/zephyr/``).
"""

from .base import PLATFORMS, Platform, check_platform_targets

__all__ = ["PLATFORMS", "Platform", "check_platform_targets"]
