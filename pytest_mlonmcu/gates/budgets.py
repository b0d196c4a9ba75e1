"""Budgets: absolute metric limits from markers, ``--mlonmcu-budget`` and mlonmcu.yml."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, cast

import pytest

from ..core.errors import UsageError
from ..core.numbers import Number, fmt_number, fmt_percent, parse_size, percent_change
from ..core.records import BudgetRecord

BUDGET_MARKER = "budget"
MARKER_HELP = (
    "budget(**limits): metric budgets of this test, e.g. "
    "@pytest.mark.budget(rom_bytes='128kB', invoke_instructions='30M')"
)


def parse_limit(value: Any, origin: str) -> Number:
    """A budget or allowance: a finite number >= 0, given as an int/float or a size string
    (``30M``, ``128kB``, ``64KiB``: ``core.numbers.parse_size``); a usage error naming
    ``origin`` otherwise."""
    if isinstance(value, bool):
        raise UsageError(f"{origin}: {value!r} is not a number")
    number: Number
    if isinstance(value, int | float):
        number = value
    else:
        try:
            number = parse_size(str(value))
        except ValueError:
            raise UsageError(
                f"{origin}: {value!r} is not a number or a size (e.g. 30M, 128kB, 64KiB)"
            ) from None
    if isinstance(number, float) and not math.isfinite(number):
        raise UsageError(f"{origin}: {value!r} is not a finite number")
    if isinstance(number, float) and number.is_integer():
        number = int(number)
    if number < 0:
        raise UsageError(f"{origin}: {value!r} is negative")
    return number


@dataclass(frozen=True)
class Budget:
    metric: str
    limit: Number
    source: str  # "@pytest.mark.budget", "--mlonmcu-budget", "mlonmcu.yml budgets['aww-*']"


@dataclass
class BudgetCheck:
    metric: str
    limit: Number
    value: Number | None
    ok: bool | None  # None: not checked (the run stopped early, benchmarking disabled)
    source: str
    note: str = ""

    def message(self) -> str:
        limit = fmt_number(self.limit)
        if self.value is None:
            return (
                f"budget on a metric this run does not produce: {self.metric} "
                f"(budget {limit}) [from {self.source}]; {self.note}"
            )
        over = fmt_percent(percent_change(self.value, self.limit))
        return (
            f"budget exceeded: {self.metric} = {fmt_number(self.value)} > {limit} ({over}) "
            f"[from {self.source}]"
        )

    def as_dict(self) -> BudgetRecord:
        return cast(BudgetRecord, asdict(self))


def parse_budget_expr(text: str, source: str) -> Budget:
    """``rom_bytes<=128kB`` -> Budget("rom_bytes", 128000, source)."""
    metric, sep, value = text.partition("<=")
    if not sep or not metric.strip() or not value.strip():
        raise UsageError(f"{source}: {text!r} is not METRIC<=VALUE (e.g. rom_bytes<=128kB)")
    return Budget(metric.strip(), parse_limit(value.strip(), f"{source} {text!r}"), source)


def parse_pattern_budgets(raw: Any) -> list[tuple[str, list[Budget]]]:
    """``budgets:`` of mlonmcu.yml: ``{PATTERN: {METRIC: LIMIT}}``."""
    if raw is None:
        return []
    if not isinstance(raw, dict):
        raise UsageError("mlonmcu.yml budgets: expected a mapping of run-id patterns")
    out = []
    for pattern, limits in raw.items():
        source = f"mlonmcu.yml budgets[{str(pattern)!r}]"
        if not isinstance(limits, dict):
            raise UsageError(f"{source}: expected a mapping METRIC: LIMIT")
        out.append(
            (
                str(pattern),
                [
                    Budget(str(m), parse_limit(v, f"{source} {m}"), source)
                    for m, v in limits.items()
                ],
            )
        )
    return out


def marker_budgets(item: pytest.Item) -> list[Budget]:
    """The ``budget`` markers of a test; a closer marker overrides a farther one per metric."""
    seen: dict[str, Budget] = {}
    for mark in item.iter_markers(BUDGET_MARKER):  # closest first
        if mark.args:
            raise UsageError(
                "@pytest.mark.budget takes keyword arguments only: metric=limit, "
                "e.g. @pytest.mark.budget(rom_bytes='128kB')"
            )
        for metric, value in mark.kwargs.items():
            if metric not in seen:
                origin = f"@pytest.mark.budget({metric}={value!r})"
                seen[metric] = Budget(metric, parse_limit(value, origin), "@pytest.mark.budget")
    return list(seen.values())
