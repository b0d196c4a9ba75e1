"""Baselines: the saved metrics of earlier runs, the ``--mlonmcu-fail-on`` rules, and the
comparison of a run with its baseline entry (lower is better)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypedDict, cast

from ..core.cache import atomic_write_text
from ..core.errors import UsageError
from ..core.numbers import Number, as_number, fmt_number, fmt_percent, percent_change
from ..core.records import DeltaRecord, RunMetrics, RunRecord
from .budgets import parse_limit

BASELINE_KIND = "pytest-mlonmcu-baseline"
BASELINE_VERSION = 1
# The cost metrics: what "*" in --mlonmcu-fail-on covers and what a comparison lists.
# Wall-clock figures (latency_ms) are noisy, so they are gated only when named explicitly.
COST_METRICS = (
    "setup_instructions",
    "invoke_instructions",
    "total_instructions",
    "rom_bytes",
    "ram_bytes",
    "stack_bytes",
    "arena_bytes",
)
# Verdicts of a baseline comparison that fail the test.
FAILING_VERDICTS = ("regression", "vanished")


class BaselineEntry(TypedDict):
    """One run of a baseline file: who ran it and its numeric metrics."""

    nodeid: str | None
    model: str | None
    backend: str | None
    target: str | None
    features: list[str]
    metrics: RunMetrics


@dataclass(frozen=True)
class FailRule:
    metric: str  # a metric key or "*" (the cost metrics)
    amount: Number
    percent: bool
    text: str
    source: str = "--mlonmcu-fail-on"  # or "ini mlonmcu_fail_on", "mlonmcu.yml fail_on"

    def allowed(self, reference: Number) -> float:
        return abs(reference) * self.amount / 100.0 if self.percent else float(self.amount)

    @property
    def allowance(self) -> str:
        return f"+{self.amount:g}%" if self.percent else f"+{fmt_number(self.amount)}"


def parse_fail_on(text: str, source: str = "--mlonmcu-fail-on") -> FailRule:
    """``invoke_instructions:+5%``, ``rom_bytes:+1024``, ``ram_bytes:+1KiB``, ``*:+5%``."""
    metric, sep, amount = text.rpartition(":")
    metric, amount = metric.strip(), amount.strip()
    usage = (
        f"{source}: {text!r} is not METRIC:+N% or METRIC:+N "
        "(e.g. invoke_instructions:+5%, rom_bytes:+1024, *:+2%)"
    )
    if not sep or not metric or not amount:
        raise UsageError(usage)
    if amount.startswith("-"):
        raise UsageError(f"{usage}; a regression is an increase (lower is better)")
    percent = amount.endswith("%")
    body = amount.removesuffix("%").strip().removeprefix("+").strip()
    if percent:
        try:
            number: Number = float(body)
        except ValueError:
            raise UsageError(usage) from None
        if not math.isfinite(number) or number < 0:
            raise UsageError(f"{usage}; N is a finite percentage >= 0")
    else:
        number = parse_limit(body, f"{source} {text!r}")
    return FailRule(metric, number, percent, f"{metric}:{amount}", source)


def _function_of(nodeid: str) -> str:
    """``test_m.py::test_bench[aww-tflmi-host_x86]`` -> ``test_m.py::test_bench``."""
    return nodeid.split("[", 1)[0]


def usable_record(record: RunRecord) -> bool:
    """Metrics worth keeping as a baseline: passed runs, or ones failed only by a gate."""
    if not record.get("metrics"):
        return False
    return record.get("outcome") == "passed" or bool(record.get("gate_failures"))


def baseline_entries(records: list[RunRecord]) -> dict[str, BaselineEntry]:
    """Records -> ``{key: entry}``; the key is the run id, qualified with the test function
    (``<id>::<file>::<function>``) only when several test functions ran the same case."""
    usable = sorted(
        (r for r in records if usable_record(r)), key=lambda r: r.get("nodeid", r["id"])
    )
    functions: dict[str, set[str]] = {}
    for r in usable:
        functions.setdefault(r["id"], set()).add(_function_of(r.get("nodeid", "")))
    out: dict[str, BaselineEntry] = {}
    for r in usable:
        key = r["id"]
        if len(functions[key]) > 1:
            key = f"{key}::{_function_of(r.get('nodeid', ''))}"
        metrics = {k: v for k, v in r["metrics"].items() if as_number(v) is not None}
        out[key] = {
            "nodeid": r.get("nodeid"),
            "model": r.get("model"),
            "backend": r.get("backend"),
            "target": r.get("target"),
            "features": r.get("features", []),
            "metrics": metrics,
        }
    return out


@dataclass
class Baseline:
    path: str
    runs: dict[str, BaselineEntry] = field(default_factory=dict)

    @classmethod
    def from_text(cls, text: str, path: str) -> Baseline:
        """A baseline file or a ``--mlonmcu-json`` report (its usable runs)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--mlonmcu-compare: {path} is not JSON ({exc})") from None
        runs = data.get("runs") if isinstance(data, dict) else None
        if isinstance(runs, list):  # a --mlonmcu-json report
            return cls(path, baseline_entries(runs))
        if isinstance(runs, dict):
            return cls(path, runs)
        raise UsageError(
            f"--mlonmcu-compare: {path} is neither a baseline (--mlonmcu-save-baseline) "
            "nor a results report (--mlonmcu-json)"
        )

    @classmethod
    def load(cls, path: Path) -> Baseline:
        if not path.is_file():
            raise UsageError(f"--mlonmcu-compare: {path} does not exist")
        return cls.from_text(path.read_text(), str(path))

    def key_for(self, run_id: str, nodeid: str) -> str | None:
        qualified = f"{run_id}::{_function_of(nodeid)}"
        if qualified in self.runs:
            return qualified
        return run_id if run_id in self.runs else None

    def to_wire(self) -> str:
        return json.dumps({"path": self.path, "runs": self.runs})

    @classmethod
    def from_wire(cls, text: str) -> Baseline:
        data = json.loads(text)
        return cls(data["path"], data["runs"])


def write_baseline(records: list[RunRecord], path: Path) -> list[str]:
    """Write the session's usable runs as a baseline; returns lines for the terminal.

    A session without any (``--collect-only``, nothing selected, all failed) leaves an
    existing baseline alone rather than replacing it with an empty one.
    """
    runs = baseline_entries(records)
    if not runs:
        return [f"baseline not written (no passed run to save): {path}"]
    data = {"kind": BASELINE_KIND, "version": BASELINE_VERSION, "runs": runs}
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
    return [f"baseline saved: {path} ({len(runs)} run{'' if len(runs) == 1 else 's'})"]


@dataclass
class Delta:
    metric: str
    baseline: Number | None
    value: Number | None
    # "regression" (beyond a rule: fails), "vanished" (in the baseline, no longer produced
    # although a rule gates it: fails), "worse" (within the rules), "improvement", "same",
    # or "missing" (absent on one side, ungated)
    verdict: str
    rule: str | None = None  # the --mlonmcu-fail-on rule that failed
    allowance: str | None = None
    source: str | None = None  # where the rule came from

    @property
    def percent(self) -> float | None:
        if self.value is None or self.baseline is None:
            return None
        return percent_change(self.value, self.baseline)

    def change(self) -> str:
        """``1,000,000 -> 1,060,000 (+6.0%)``."""
        base = "-" if self.baseline is None else fmt_number(self.baseline)
        value = "-" if self.value is None else fmt_number(self.value)
        pct = self.percent
        return f"{base} -> {value}" + ("" if pct is None else f" ({fmt_percent(pct)})")

    def message(self) -> str:
        if self.verdict == "vanished":
            return (
                f"metric {self.metric} is in the baseline ({fmt_number(self.baseline or 0)}) "
                f"but the run no longer produces it [from {self.source} {self.rule}]"
            )
        return (
            f"regression: {self.metric} = {fmt_number(self.value or 0)} vs baseline "
            f"{fmt_number(self.baseline or 0)} ({fmt_percent(self.percent or 0.0)}, allowed "
            f"{self.allowance}) [from {self.source} {self.rule}]"
        )

    def as_dict(self) -> DeltaRecord:
        out = asdict(self)
        pct = self.percent
        out["percent"] = None if pct is None or math.isinf(pct) else round(pct, 3)
        return cast(DeltaRecord, out)


def compare(metrics: RunMetrics, reference: RunMetrics, rules: list[FailRule]) -> list[Delta]:
    """Deltas of the cost metrics and of every metric named in a rule (lower is better).

    A gated metric (named by a rule, or a cost metric under ``*``) that the baseline has and
    the run no longer produces is "vanished": a failure, like a regression.
    """
    explicit = [r.metric for r in rules if r.metric != "*"]
    star = [r for r in rules if r.metric == "*"]
    names = list(COST_METRICS) + [m for m in dict.fromkeys(explicit) if m not in COST_METRICS]
    out = []
    for name in names:
        value, base = as_number(metrics.get(name)), as_number(reference.get(name))
        if value is None and base is None and name not in explicit:
            continue  # a metric neither side measures (ROM on host): nothing to say
        applicable = [r for r in rules if r.metric == name] or (
            star if name in COST_METRICS else []
        )
        if value is None and base is not None and applicable:
            rule = applicable[0]
            out.append(Delta(name, base, None, "vanished", rule.text, rule.allowance, rule.source))
            continue
        if value is None or base is None:
            out.append(Delta(name, base, value, "missing"))
            continue
        failed = next((r for r in applicable if value - base > r.allowed(base)), None)
        if failed is not None:
            out.append(
                Delta(name, base, value, "regression", failed.text, failed.allowance, failed.source)
            )
        elif value > base:
            out.append(Delta(name, base, value, "worse"))
        elif value < base:
            out.append(Delta(name, base, value, "improvement"))
        else:
            out.append(Delta(name, base, value, "same"))
    return out
