"""The JSON record of one run (one test of the matrix), as ``session.make_record`` builds it.

Records are what the controller merges from its xdist workers and what every report reads:
the ``--mlonmcu-json`` file (its ``runs``), the terminal table, CSV/Markdown/plots, baselines
and the gates' summary. They are plain JSON values; these types name their keys.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal, NotRequired, TypedDict

from .numbers import Number

Outcome = Literal["passed", "failed", "skipped"]

# Metric key -> value, open-ended (backends, targets and hooks add their own). Well-known:
# setup_instructions, invoke_instructions, total_instructions, rom_bytes, ram_bytes,
# stack_bytes, arena_bytes, latency_ms, macs, param_bytes (numbers); validation_mode (str),
# validation_passed (bool), validation_max_abs_diff (a number, or "inf").
RunMetrics = dict[str, Any]


class StageTime(TypedDict):
    seconds: float


class BudgetRecord(TypedDict):
    """One budget of the run (``gates.budgets.BudgetCheck.as_dict``)."""

    metric: str
    limit: Number
    value: Number | None
    ok: bool | None  # None: not checked
    source: str
    note: str


class DeltaRecord(TypedDict):
    """One metric against the baseline (``gates.baseline.Delta.as_dict``)."""

    metric: str
    baseline: Number | None
    value: Number | None
    verdict: str  # regression, vanished, worse, improvement, same, missing
    rule: str | None
    allowance: str | None
    source: str | None
    percent: float | None


class ComparisonRecord(TypedDict):
    key: str | None  # the baseline entry compared with; None: a new run
    compared: bool
    deltas: list[DeltaRecord]


class GateFields(TypedDict):
    """What the gates add to a record (``gates.check.record_fields``)."""

    budgets: list[BudgetRecord]
    comparison: ComparisonRecord | None  # None: no baseline in this session
    gate_failures: list[str]


class RunRecord(TypedDict):
    id: str  # the case id, e.g. aww-tflmi-host_x86
    nodeid: str
    model: str
    backend: str
    target: str
    features: list[str]
    outcome: Outcome
    reason: str  # why it failed or skipped ("" when it passed)
    stages: dict[str, StageTime]  # stage label -> its wall time
    metrics: RunMetrics
    artifacts: str | None  # the run's artifacts directory (None: no run was built)
    operators: list[dict[str, Any]]  # feature profile: one row per operator (else empty)
    # The gate fields (GateFields): the plugin adds them to every record it writes.
    budgets: NotRequired[list[BudgetRecord]]
    comparison: NotRequired[ComparisonRecord | None]
    gate_failures: NotRequired[list[str]]
    # Where it ran (farm.py): host, xdist worker, remote or not, the cache it used.
    ran_on: NotRequired[dict[str, Any]]


# What xdist's execnet channel and strict JSON carry: ints in [-2**31, 2**63) (execnet packs a
# negative int below -2**31 into 4 bytes), finite floats, strings; the rest becomes a string.
INT_MIN = -(2**31)
INT_MAX = 2**63 - 1


def portable(value: Any) -> Any:
    """``value`` with only types and ranges that execnet and JSON carry (see above)."""
    if value is None or isinstance(value, bool | str):
        return value
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        value = value.item()  # numpy scalar (or 0-d array) -> Python number
        if isinstance(value, bool):
            return value
    if isinstance(value, int):
        return int(value) if INT_MIN <= value <= INT_MAX else str(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): portable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [portable(v) for v in value]
    return str(value)
