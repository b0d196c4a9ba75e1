"""Offsets of tensors in one arena: greedy by size over lifetimes (like TFLM's planner).

A buffer lives from the step that first writes it to the last step that reads it.
Buffers are placed largest first, each at the lowest aligned offset where it overlaps
no placed buffer whose lifetime intersects its own.
"""

from __future__ import annotations

from dataclasses import dataclass

ALIGN = 16


@dataclass
class Interval:
    key: int
    size: int
    first: int  # first step that uses it (writes it, or -1 for inputs)
    last: int  # last step that uses it


def align(n: int, a: int = ALIGN) -> int:
    return (n + a - 1) // a * a


ORDERS = {
    "size": lambda i: (-i.size, i.first, i.key),
    "first_use": lambda i: (i.first, -i.size, i.key),
    "area": lambda i: (-i.size * (i.last - i.first + 1), i.key),
    "length": lambda i: (-(i.last - i.first), -i.size, i.key),
}


def best_plan(intervals: list[Interval], alignment: int = ALIGN) -> tuple[dict[int, int], int]:
    """The smallest of the greedy plans over several placement orders."""
    plans = [plan(intervals, alignment, order) for order in ORDERS]
    return min(plans, key=lambda p: p[1])


def plan(
    intervals: list[Interval], alignment: int = ALIGN, order: str = "size"
) -> tuple[dict[int, int], int]:
    """{key: offset} and the arena size, placing buffers in the given order."""
    placed: list[tuple[int, int, Interval]] = []  # (offset, end, interval)
    offsets: dict[int, int] = {}
    for iv in sorted(intervals, key=ORDERS[order]):
        live = sorted(
            (o, e) for o, e, other in placed if other.first <= iv.last and iv.first <= other.last
        )
        offset = 0
        for start, end in live:
            if offset + iv.size <= start:
                break
            offset = max(offset, align(end, alignment))
        offsets[iv.key] = offset
        placed.append((offset, offset + iv.size, iv))
    size = max((e for _, e, _ in placed), default=0)
    return offsets, align(size, alignment)


def lower_bound(intervals: list[Interval]) -> int:
    """The largest sum of simultaneously live buffers: no plan can use less."""
    steps = sorted({i.first for i in intervals} | {i.last for i in intervals})
    return max((sum(i.size for i in intervals if i.first <= s <= i.last) for s in steps), default=0)
