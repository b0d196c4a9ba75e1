"""The check of one test: its budgets and its baseline comparison, right after its body."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from ..core.errors import UsageError
from ..core.numbers import as_number
from ..core.records import ComparisonRecord, GateFields
from ..core.stages import Stage
from .baseline import FAILING_VERDICTS, Delta, compare
from .budgets import BudgetCheck
from .settings import GATES_KEY, GateSettings

LATENCY_METRIC = "latency_ms"
CHECK_KEY = pytest.StashKey["RunGates"]()


@dataclass
class RunGates:
    budgets: list[BudgetCheck] = field(default_factory=list)
    baseline_key: str | None = None
    deltas: list[Delta] | None = None  # None: no baseline
    failures: list[str] = field(default_factory=list)


def _benchmark(item: pytest.Item) -> Any:
    return getattr(item, "funcargs", {}).get("benchmark")


def _benchmark_latency(item: pytest.Item) -> float | None:
    """Mean wall time [ms] from the test's pytest-benchmark fixture, if it measured."""
    stats = getattr(getattr(_benchmark(item), "stats", None), "stats", None)
    return None if stats is None else stats.mean * 1000.0


def _why_unchecked(item: pytest.Item, run: Any, metric: str) -> str | None:
    """Why a missing metric is no failure, or None when it is one (typos must fail)."""
    if run.done is None or run.done < Stage.POSTPROCESS:
        done = run.done.label if run.done is not None else "nothing"
        return f"not measured: the run stopped after {done}"
    bench = _benchmark(item)
    if metric == LATENCY_METRIC and bench is not None and getattr(bench, "disabled", False):
        return "not measured: pytest-benchmark is disabled (under xdist or --benchmark-disable)"
    return None


def check_run(item: pytest.Item, run: Any, settings: GateSettings) -> RunGates:
    """Budgets and baseline comparison of one finished test body."""
    gates = RunGates()
    metrics = run.metrics
    if LATENCY_METRIC not in metrics:
        latency = _benchmark_latency(item)  # a test that timed itself without measure_latency
        if latency is not None:
            metrics[LATENCY_METRIC] = round(latency, 4)
    for budget in settings.budgets_for(item, run.id):
        raw = metrics.get(budget.metric)
        value = as_number(raw)
        if value is not None:
            ok = value <= budget.limit
            gates.budgets.append(BudgetCheck(budget.metric, budget.limit, value, ok, budget.source))
            continue
        if raw is None:
            why = _why_unchecked(item, run, budget.metric)
            if why is not None:
                gates.budgets.append(
                    BudgetCheck(budget.metric, budget.limit, None, None, budget.source, why)
                )
                continue
            measured = sorted(k for k, v in metrics.items() if as_number(v) is not None)
            note = f"it measured: {', '.join(measured) or 'nothing'}"
        else:
            note = f"its value {raw!r} is not a number"
        gates.budgets.append(
            BudgetCheck(budget.metric, budget.limit, None, False, budget.source, note)
        )
    gates.failures += [c.message() for c in gates.budgets if c.ok is False]
    if settings.baseline is not None:
        key = settings.baseline.key_for(run.id, item.nodeid)
        gates.baseline_key = key
        if key is not None:
            reference = settings.baseline.runs[key].get("metrics", {})
            deltas = compare(metrics, reference, settings.fail_on)
            if run.done is None or run.done < Stage.POSTPROCESS:
                deltas = [d for d in deltas if d.value is not None]  # stopped early on purpose
            deltas = [  # latency_ms while pytest-benchmark is disabled: not measured
                Delta(d.metric, d.baseline, None, "missing")
                if d.verdict == "vanished" and _why_unchecked(item, run, d.metric) is not None
                else d
                for d in deltas
            ]
            gates.deltas = deltas
            gates.failures += [d.message() for d in deltas if d.verdict in FAILING_VERDICTS]
    return gates


def check_item(item: pytest.Item, run: Any) -> None:
    """Fail the test (its call phase) when a budget or a baseline rule is violated."""
    settings = item.config.stash.get(GATES_KEY, None)
    if settings is None or run is None:
        return
    try:
        gates = check_run(item, run, settings)
    except UsageError as exc:
        pytest.fail(str(exc), pytrace=False)
    item.stash[CHECK_KEY] = gates
    if gates.failures:
        pytest.fail("\n".join(gates.failures), pytrace=False)


def record_fields(item: pytest.Item) -> GateFields:
    """What the gates add to the test's JSON record."""
    gates = item.stash.get(CHECK_KEY, None)
    settings = item.config.stash.get(GATES_KEY, None)
    comparison: ComparisonRecord | None = None
    if settings is not None and settings.baseline is not None:
        comparison = {"key": None, "compared": False, "deltas": []}
        if gates is not None:
            comparison = {
                "key": gates.baseline_key,
                "compared": gates.deltas is not None,
                "deltas": [d.as_dict() for d in gates.deltas or []],
            }
    return {
        "budgets": [c.as_dict() for c in gates.budgets] if gates else [],
        "comparison": comparison,
        "gate_failures": list(gates.failures) if gates else [],
    }
