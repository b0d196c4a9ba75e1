"""Run configuration: component-scoped ``KEY=VALUE`` settings.

Keys are ``<component>.<key>`` (``tflmi.arena_size=32768``, ``riscv_qemu.arch=rv32imc``,
``run.samples=3``). Sources, weakest first: ``mlonmcu.yml``'s ``config:`` mapping, the ini
key ``mlonmcu_config``, ``--mlonmcu-config``, then the ``pytest_mlonmcu_configure_run`` hook.

Keys are strict: a component is a registered backend, target or feature (the keys it reads are
its ``config_keys``) or one of the general scopes of ``GENERAL_KEYS``; anything else is a usage
error that suggests the nearest known key. Numbers are range-checked where they are read (the
typed getters of ``ComponentConfig``).
"""

from __future__ import annotations

import difflib
import math
import os
import threading
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from .errors import UsageError
from .numbers import parse_size

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}

# Scopes that are no backend, target or feature: read by the run itself (run.py, fixtures.py)
# and by the installers (install/*.py). Key -> default or meaning, like ``config_keys``.
GENERAL_KEYS: dict[str, dict[str, str]] = {
    "run": {
        "samples": "2 (the model dir's sample inputs first, then seeded random ones)",
        "seed": "0 (seed of the random inputs)",
        "invoke_runs": "1 (invocations per sample)",
        "features": "(set by the plugin: the run's features)",
    },
    "validation": {
        "mode": "the backend's (exact, atol=N quantization steps, ulp=N float32 places, topk=K)",
        "enabled": "true",
    },
    "tflm": {"source": "$MLONMCU_TFLM_SOURCE (a directory, tarball or URL@COMMIT)"},
    "zephyr": {
        "base": "$ZEPHYR_BASE (an installed zephyr/ folder)",
        "source": "$MLONMCU_ZEPHYR_SOURCE (a tarball or directory)",
        "modules": "(Zephyr modules to fetch, comma list)",
        "west_projects": "(extra west projects, comma list)",
    },
    "etiss": {
        "install_dir": "$MLONMCU_ETISS_INSTALL_DIR",
        "source": "$MLONMCU_ETISS_SOURCE (a tarball, directory or URL@COMMIT)",
    },
}
# Integers end up in C code and in reports: beyond int64 a value is a typo, not a size.
MAX_INT = 2**63 - 1
# Longer timeouts overflow threading's waits; a day or a week is what a slow run needs.
MAX_TIMEOUT = threading.TIMEOUT_MAX


def known_keys(components: Iterable[type]) -> dict[str, set[str]]:
    """Component name -> the keys it reads: the general scopes plus every registered class's
    ``config_keys`` (a name shared by several classes, e.g. target and installer, merges)."""
    known = {scope: set(keys) for scope, keys in GENERAL_KEYS.items()}
    for cls in components:
        known.setdefault(cls.name, set()).update(getattr(cls, "config_keys", None) or {})
    return known


def did_you_mean(name: str, known: Iterable[str], spell: str = "{}") -> str:
    """``"did you mean arena_size? "`` for the nearest of ``known`` (``spell`` formats it)."""
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1)
    return f"did you mean {spell.format(close[0])}? " if close else ""


def unknown_key(key: Any, known: Iterable[str], what: str = "key") -> str:
    """``unknown key 'modles'; did you mean models? known keys: a, b`` (known sorted)."""
    known = sorted(str(k) for k in known)
    return f"unknown {what} {key!r}; {did_you_mean(key, known)}known {what}s: {', '.join(known)}"


def key_problem(key: str, known: Mapping[str, Collection[str]]) -> str | None:
    """Why ``key`` (``component.name``) is not a known key, with the nearest one; else None."""
    component, _, name = key.partition(".")
    if component not in known:
        # the whole key first: tflmx.arena_size -> tflmi.arena_size (not tflm, whose keys differ)
        full = [f"{c}.{k}" for c, keys in known.items() for k in keys]
        hint = did_you_mean(key, full) or did_you_mean(component, known, "{}." + name)
        return (
            f"unknown component {component!r} in {key!r}; {hint}"
            f"known components: {', '.join(sorted(known))}"
        )
    keys = known[component]
    if name in keys:
        return None
    hint = did_you_mean(name, keys, component + ".{}")
    listed = ", ".join(sorted(keys)) or "none (its class declares no config_keys)"
    return f"unknown key {key!r}; {hint}known keys of {component}: {listed}"


def check_keys(keys: Iterable[str], known: Mapping[str, Collection[str]], origin: str) -> None:
    """A usage error naming ``origin`` for the first key that no component reads."""
    for key in keys:
        problem = key_problem(key, known)
        if problem:
            raise UsageError(f"{origin}: {problem}")


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
    """The flat settings of one run; components read their own scope.

    With ``known`` (the session's, see ``known_keys``) ``set`` rejects keys that no component
    reads: a typo in a ``pytest_mlonmcu_configure_run`` hook fails its test, naming the key.
    """

    def __init__(
        self,
        values: Mapping[str, str] | None = None,
        known: Mapping[str, Collection[str]] | None = None,
    ) -> None:
        self._values: dict[str, str] = dict(values or {})
        self.known = known

    def copy(self) -> RunConfig:
        return RunConfig(self._values, self.known)

    def set(self, key: str, value: Any) -> None:
        if self.known is not None:
            check_keys([key], self.known, f"RunConfig.set({key!r}, {value!r})")
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

    def label(self, key: str) -> str:
        return f"{self.component}.{key}"

    def get_int(
        self, key: str, default: int | None = None, *, minimum: int = 0, maximum: int = MAX_INT
    ) -> int | None:
        """An integer or size (``64KiB``, ``0x1000``) in ``[minimum, maximum]``, else default."""
        value = self.get(key)
        if value is None:
            return default
        return parse_int(value, self.label(key), minimum=minimum, maximum=maximum)

    def get_float(
        self,
        key: str,
        default: float | None = None,
        *,
        positive: bool = False,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> float | None:
        """A finite number (never nan or inf), > 0 with ``positive``, else default."""
        value = self.get(key)
        if value is None:
            return default
        return parse_float(
            value, self.label(key), positive=positive, minimum=minimum, maximum=maximum
        )

    def get_timeout(self, key: str = "timeout", default: float = 120.0) -> float:
        """Seconds: finite and > 0 (``inf`` would disable it, ``0``/``-5``/``nan`` fire at once)."""
        value = self.get(key)
        return default if value is None else parse_timeout(value, self.label(key))

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


def parse_int(value: Any, where: str, *, minimum: int = 0, maximum: int = MAX_INT) -> int:
    """``value`` (an integer or a size) as an int in ``[minimum, maximum]``, else a usage
    error naming ``where`` (``tflmi.arena_size``) and the value."""
    try:
        number = parse_size(str(value))
    except ValueError:
        number = math.nan
    if isinstance(number, float) and not number.is_integer():  # nan too
        raise UsageError(f"{where}={value!r} is not an integer (e.g. 4096, 64KiB, 0x1000)")
    number = int(number)
    if number < minimum:
        wanted = {0: "a non-negative integer", 1: "a positive integer"}.get(
            minimum, f"an integer >= {minimum}"
        )
        raise UsageError(f"{where}={value!r}: expected {wanted}")
    if number > maximum:
        raise UsageError(f"{where}={value!r}: expected at most {maximum}")
    return number


def parse_float(
    value: Any,
    where: str,
    *,
    positive: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
) -> float:
    """``value`` as a finite float (> 0 with ``positive``; within minimum/maximum)."""
    try:
        number = float(str(value).strip())
    except ValueError:
        raise UsageError(f"{where}={value!r} is not a number") from None
    if not math.isfinite(number):
        raise UsageError(f"{where}={value!r}: expected a finite number")
    if positive and number <= 0:
        raise UsageError(f"{where}={value!r}: expected a number > 0")
    if minimum is not None and number < minimum:
        raise UsageError(f"{where}={value!r}: expected a number >= {minimum:g}")
    if maximum is not None and number > maximum:
        raise UsageError(f"{where}={value!r}: expected at most {maximum:g}")
    return number


def parse_timeout(value: Any, where: str) -> float:
    """Seconds, finite and > 0: a usage error naming ``where`` and the value otherwise."""
    try:
        number = float(str(value).strip())
    except ValueError:
        number = math.nan
    if not (math.isfinite(number) and 0 < number <= MAX_TIMEOUT):
        raise UsageError(
            f"{where}={value!r}: expected a timeout in seconds, a finite number > 0 "
            "(e.g. 120; for a long run a large one such as 86400)"
        )
    return number
