"""``--mlonmcu-list``: the registered components, their descriptions and config keys."""

from __future__ import annotations

from collections.abc import Iterable

from .core.config import GENERAL_KEYS


def _section(title: str, classes: Iterable[type]) -> list[str]:
    lines = [f"{title}:"]
    for cls in classes:
        lines.append(f"  {cls.name:<14} {getattr(cls, 'description', '')}")
        for key, default in getattr(cls, "config_keys", {}).items():
            lines.append(f"  {'':<14}   {cls.name}.{key} (default: {default})")
    return lines


def describe_components(backends, targets, features, models: list[str]) -> list[str]:
    lines = _section("backends", backends)
    lines += _section("targets", targets)
    lines += _section("features", features)
    lines.append("general config keys:")
    for scope, keys in GENERAL_KEYS.items():
        lines += [f"  {scope}.{key} (default: {default})" for key, default in keys.items()]
    lines.append("models: " + ", ".join(models))
    return lines
