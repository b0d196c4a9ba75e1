"""Metric numbers: which values count as numbers, how people read them, sizes they write.

One module for every place that shows a metric (the terminal table, CSV/Markdown reports,
gate messages), so that ``140,312`` or ``+6.0%`` looks the same everywhere.
"""

from __future__ import annotations

import math
from typing import Any

Number = int | float

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


def as_number(value: Any) -> Number | None:
    """The value if it is a finite int/float metric (booleans are not), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def fmt_number(value: Number) -> str:
    """``140312`` -> ``140,312``; ``1234.56`` -> ``1,234.6``; below 100, floats keep 4
    significant digits (``0.01235``). A whole float from 1000 on prints as an int."""
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1000:
        value = int(value)
    if isinstance(value, int):
        return f"{value:,}"
    if abs(value) >= 100:
        return f"{value:,.1f}"
    return f"{value:.4g}"


def percent_change(value: Number, reference: Number) -> float:
    """``value`` relative to ``reference`` in percent (+/-inf from a reference of 0)."""
    if reference == 0:
        return 0.0 if value == 0 else math.copysign(math.inf, value)
    return (value - reference) / abs(reference) * 100.0


def fmt_percent(percent: float) -> str:
    """``6.04`` -> ``+6.0%``."""
    if math.isinf(percent):
        return "+inf%" if percent > 0 else "-inf%"
    return f"{percent:+.1f}%"


def parse_size(text: str) -> Number:
    """``"128kB"`` -> 128000, ``"30M"`` -> 3e7, ``"0x100"`` -> 256, ``"12"`` -> 12.

    k/M/G (and kB/MB/GB) are decimal (kB = 1000), KiB/MiB/GiB binary (KiB = 1024).
    A ValueError for anything else, also for nan, inf and what overflows to inf (``1e999``).
    """
    s = str(text).strip().lower().replace("_", "")
    number: Number
    if s.startswith("0x"):
        return int(s, 16)
    for suffix in sorted(_SIZE_SUFFIXES, key=len, reverse=True):
        if s.endswith(suffix) and s[: -len(suffix)].strip():
            number = float(s[: -len(suffix)]) * _SIZE_SUFFIXES[suffix]
            break
    else:
        number = float(s) if any(c in s for c in ".e") else int(s)
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError(f"{text!r} is not a finite number")
    return number
