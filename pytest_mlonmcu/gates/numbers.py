"""Metric numbers: finite values, human formatting, percent changes, budget limits."""

from __future__ import annotations

import math
from typing import Any

from ..config import parse_size
from ..errors import UsageError

Number = int | float


def as_number(value: Any) -> Number | None:
    """The value if it is a finite int/float metric (booleans are not), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def fmt_number(value: Number) -> str:
    """``140312`` -> ``140,312``; small floats keep 4 significant digits."""
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1000:
        value = int(value)
    if isinstance(value, int):
        return f"{value:,}"
    if abs(value) >= 1000:
        return f"{value:,.1f}"
    return f"{value:.4g}"


def percent_change(value: Number, reference: Number) -> float:
    if reference == 0:
        return 0.0 if value == 0 else math.copysign(math.inf, value)
    return (value - reference) / abs(reference) * 100.0


def fmt_percent(percent: float) -> str:
    if math.isinf(percent):
        return "+inf%" if percent > 0 else "-inf%"
    return f"{percent:+.1f}%"


def parse_limit(value: Any, origin: str) -> Number:
    """A budget or allowance: an int/float or a size string (``30M``, ``128kB``, ``64KiB``).

    k/M/G (and kB/MB/GB) are decimal (kB = 1000), KiB/MiB/GiB binary (KiB = 1024).
    """
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
