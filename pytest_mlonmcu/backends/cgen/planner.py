"""Static memory planning: offsets of activation buffers in one arena.

Each buffer has a size and a lifetime [start, end] in operator steps (inclusive).
Two buffers may share bytes only if their lifetimes do not overlap. Several
greedy placements (different orders, first-fit and best-fit into the gaps left by
already placed, time-overlapping buffers) are tried and the smallest kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class BufferRequest:
    key: int
    size: int
    start: int
    end: int


@dataclass
class Plan:
    offsets: dict[int, int]
    arena_bytes: int
    lower_bound: int  # peak of simultaneously live bytes: no plan can be smaller


def _align(n: int, alignment: int) -> int:
    return (n + alignment - 1) // alignment * alignment


def live_peak(requests: Sequence[BufferRequest]) -> int:
    """Largest total size of buffers alive at the same step."""
    if not requests:
        return 0
    steps = sorted({r.start for r in requests})
    return max(sum(r.size for r in requests if r.start <= t <= r.end) for t in steps)


def _overlaps(a: BufferRequest, b: BufferRequest) -> bool:
    return a.start <= b.end and b.start <= a.end


def _place(
    order: Sequence[BufferRequest], alignment: int, best_fit: bool
) -> tuple[dict[int, int], int]:
    placed: list[tuple[int, int, BufferRequest]] = []  # (offset, aligned end, request)
    offsets: dict[int, int] = {}
    for req in order:
        busy = sorted((o, e) for o, e, r in placed if _overlaps(r, req))
        size = _align(req.size, alignment)
        candidates = []
        cursor = 0
        for o, e in busy:
            if o - cursor >= size:
                candidates.append((o - cursor, cursor))
            cursor = max(cursor, e)
        candidates.append((1 << 62, cursor))  # the open end after everything
        if best_fit:
            gap, offset = min(candidates)
        else:
            gap, offset = candidates[0]
        offsets[req.key] = offset
        placed.append((offset, offset + size, req))
    total = max((e for _, e, _ in placed), default=0)
    return offsets, total


_ORDERS: list[Callable[[BufferRequest], tuple]] = [
    lambda r: (-r.size, r.start),
    lambda r: (-(r.end - r.start), -r.size),
    lambda r: (-r.size * (r.end - r.start + 1), r.start),
    lambda r: (r.start, -r.size),
]


def plan_memory(requests: Sequence[BufferRequest], alignment: int = 4) -> Plan:
    """Choose offsets for all requests; ties keep the first (size-ordered) plan."""
    best: tuple[dict[int, int], int] | None = None
    for key in _ORDERS:
        order = sorted(requests, key=key)
        for best_fit in (False, True):
            offsets, total = _place(order, alignment, best_fit)
            if best is None or total < best[1]:
                best = (offsets, total)
    assert best is not None
    offsets, total = best
    return Plan(offsets=offsets, arena_bytes=total, lower_bound=live_peak(requests))


def check_plan(requests: Sequence[BufferRequest], plan: Plan) -> None:
    """Raise AssertionError if two time-overlapping buffers share bytes."""
    for i, a in enumerate(requests):
        oa = plan.offsets[a.key]
        assert oa + a.size <= plan.arena_bytes
        for b in requests[i + 1 :]:
            if _overlaps(a, b):
                ob = plan.offsets[b.key]
                assert oa + a.size <= ob or ob + b.size <= oa, (a, b)
