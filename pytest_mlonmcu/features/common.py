"""What several features' compatibility checks share."""

from __future__ import annotations

from ..backends import BACKENDS


def backends_with(feature: str) -> str:
    """The registered backends that implement ``feature`` ("none" if no one does)."""
    return ", ".join(b.name for b in BACKENDS if feature in b.features) or "none"
