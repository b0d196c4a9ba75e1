"""Run configuration: component-scoped ``KEY=VALUE`` settings.

Keys are ``<component>.<key>`` (``tflmi.arena_size=32768``, ``riscv_qemu.arch=rv32imc``,
``run.samples=3``). Sources, weakest first: ``mlonmcu.yml``'s ``config:`` mapping, the ini
key ``mlonmcu_config``, ``--mlonmcu-config``, then the ``pytest_mlonmcu_configure_run`` hook.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .errors import UsageError

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}


def parse_assignments(items: Iterable[str], origin: str) -> dict[str, str]:
    """``["a.b=1", "c.d=x"]`` -> ``{"a.b": "1", "c.d": "x"}``; bad items are usage errors."""
    out: dict[str, str] = {}
    for item in items:
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or "." not in key or not key.split(".", 1)[0] or not key.split(".", 1)[1]:
            raise UsageError(
                f"{origin}: {item!r} is not COMPONENT.KEY=VALUE (e.g. tflmi.arena_size=32768)"
            )
        out[key] = value.strip()
    return out


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested YAML (``tflmi: {arena_size: 1}``) or dotted keys -> flat dotted strings."""
    out: dict[str, str] = {}
    for key, value in mapping.items():
        full = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, full + "."))
        elif isinstance(value, list):
            out[full] = ",".join(str(v) for v in value)
        else:
            out[full] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


class RunConfig:
    """The flat settings of one run; components read their own scope."""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._values: dict[str, str] = dict(values or {})

    def copy(self) -> RunConfig:
        return RunConfig(self._values)

    def set(self, key: str, value: Any) -> None:
        self._values[key] = str(value).lower() if isinstance(value, bool) else str(value)

    def update(self, values: Mapping[str, Any]) -> None:
        for k, v in values.items():
            self.set(k, v)

    def get(self, key: str, default: Any = None) -> Any:
        return self._values.get(key, default)

    def as_dict(self) -> dict[str, str]:
        return dict(self._values)

    def scoped(self, component: str) -> ComponentConfig:
        return ComponentConfig(component, self)

    def __contains__(self, key: str) -> bool:
        return key in self._values


class ComponentConfig:
    """Typed access to the keys of one component (``scoped("tflmi").get_int("arena_size")``)."""

    def __init__(self, component: str, config: RunConfig) -> None:
        self.component = component
        self._config = config

    def raw(self, key: str) -> str | None:
        return self._config.get(f"{self.component}.{key}")

    def get(self, key: str, default: str | None = None) -> str | None:
        value = self.raw(key)
        return default if value is None or value == "" else value

    def setting(self, key: str, env: str) -> tuple[str | None, str]:
        """The key's value, else the environment variable ``env``'s, and where it came from."""
        value = self.get(key)
        if value:
            return value, f"{self.component}.{key}"
        value = os.environ.get(env)
        return (value, f"${env}") if value else (None, "")

    def get_int(self, key: str, default: int | None = None) -> int | None:
        value = self.get(key)
        if value is None:
            return default
        try:
            return int(parse_size(value))
        except ValueError:
            raise UsageError(f"{self.component}.{key}={value!r} is not an integer") from None

    def get_float(self, key: str, default: float | None = None) -> float | None:
        value = self.get(key)
        if value is None:
            return default
        try:
            return float(value)
        except ValueError:
            raise UsageError(f"{self.component}.{key}={value!r} is not a number") from None

    def get_bool(self, key: str, default: bool = False) -> bool:
        value = self.get(key)
        if value is None:
            return default
        if value.lower() in TRUE_WORDS:
            return True
        if value.lower() in FALSE_WORDS:
            return False
        raise UsageError(f"{self.component}.{key}={value!r} is not a boolean (true/false)")

    def get_path(self, key: str) -> Path | None:
        value = self.get(key)
        return Path(value).expanduser() if value else None

    def get_choice(self, key: str, choices: Iterable[str], default: str) -> str:
        value = self.get(key, default)
        choices = list(choices)
        if value not in choices:
            raise UsageError(
                f"{self.component}.{key}={value!r}: expected one of {', '.join(choices)}"
            )
        return value


_SIZE_SUFFIXES = {
    "k": 1000,
    "kb": 1000,
    "kib": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1024**3,
}


def parse_size(text: str) -> float:
    """``"128kB"`` -> 128000, ``"30M"`` -> 3e7, ``"0x100"`` -> 256, ``"12"`` -> 12."""
    s = str(text).strip().lower().replace("_", "")
    if s.startswith("0x"):
        return int(s, 16)
    for suffix in sorted(_SIZE_SUFFIXES, key=len, reverse=True):
        if s.endswith(suffix) and s[: -len(suffix)].strip():
            return float(s[: -len(suffix)]) * _SIZE_SUFFIXES[suffix]
    return float(s) if any(c in s for c in ".e") else int(s)
