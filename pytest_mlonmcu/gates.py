"""CI gates: metric budgets and regressions against a baseline.

Budgets are absolute limits: ``@pytest.mark.budget(rom_bytes="128kB")`` on a test,
``budgets:`` in ``mlonmcu.yml`` (fnmatch patterns on the run id, e.g. ``aww-*-riscv_qemu``)
and ``--mlonmcu-budget METRIC<=VALUE`` (every run). Regressions compare each run with a
baseline (``--mlonmcu-compare PATH``, written by ``--mlonmcu-save-baseline PATH`` or any
``--mlonmcu-json`` report) under the rules of ``--mlonmcu-fail-on METRIC:+N%``. Lower is
better for every gated metric (instructions, bytes, milliseconds).

Both are verdicts of the test itself: they are checked in the process that ran the test,
right after its body (plugin.py wraps ``pytest_runtest_call``), from inputs that every
process has identically: markers, options, and the baseline that the controller read at
configure time and hands to its xdist workers. So ``-n 2`` and a serial session fail the
same tests; the controller only summarises the records.
"""

from __future__ import annotations

import fnmatch
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

from . import options
from .cache import atomic_write_text
from .config import parse_size
from .errors import UsageError
from .stages import Stage

Number = int | float

BUDGET_MARKER = "budget"
MARKER_HELP = (
    "budget(**limits): metric budgets of this test, e.g. "
    "@pytest.mark.budget(rom_bytes='128kB', invoke_instructions='30M')"
)
BASELINE_KIND = "pytest-mlonmcu-baseline"
BASELINE_VERSION = 1
# workerinput key: the controller's baseline, so every worker compares with the same data.
WORKER_BASELINE_KEY = "mlonmcu_baseline"
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
LATENCY_METRIC = "latency_ms"
# Verdicts of a baseline comparison that fail the test.
FAILING_VERDICTS = ("regression", "vanished")

GATES_KEY = pytest.StashKey["GateSettings"]()
CHECK_KEY = pytest.StashKey["RunGates"]()


# -- numbers ------------------------------------------------------------------------
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


# -- budgets --------------------------------------------------------------------------
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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_budget_expr(text: str, source: str) -> Budget:
    """``rom_bytes<=128kB`` -> Budget("rom_bytes", 128000, source)."""
    metric, sep, value = text.partition("<=")
    if not sep or not metric.strip() or not value.strip():
        raise UsageError(f"{source}: {text!r} is not METRIC<=VALUE (e.g. rom_bytes<=128kB)")
    return Budget(metric.strip(), parse_limit(value.strip(), f"{source} {text!r}"), source)


def _pattern_budgets(raw: Any) -> list[tuple[str, list[Budget]]]:
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


# -- baselines ----------------------------------------------------------------------
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


def usable_record(record: dict[str, Any]) -> bool:
    """Metrics worth keeping as a baseline: passed runs, or ones failed only by a gate."""
    if not record.get("metrics"):
        return False
    return record.get("outcome") == "passed" or bool(record.get("gate_failures"))


def baseline_entries(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Records -> ``{key: entry}``; the key is the run id, qualified with the test function
    (``<id>::<file>::<function>``) only when several test functions ran the same case."""
    usable = sorted(
        (r for r in records if usable_record(r)), key=lambda r: r.get("nodeid", r["id"])
    )
    functions: dict[str, set[str]] = {}
    for r in usable:
        functions.setdefault(r["id"], set()).add(_function_of(r.get("nodeid", "")))
    out: dict[str, dict[str, Any]] = {}
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
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)

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


def write_baseline(records: list[dict[str, Any]], path: Path) -> list[str]:
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

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        pct = self.percent
        out["percent"] = None if pct is None or math.isinf(pct) else round(pct, 3)
        return out


def compare(
    metrics: dict[str, Any], reference: dict[str, Any], rules: list[FailRule]
) -> list[Delta]:
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


# -- settings -------------------------------------------------------------------------
@dataclass
class GateSettings:
    budgets: list[Budget] = field(default_factory=list)  # every run
    pattern_budgets: list[tuple[str, list[Budget]]] = field(default_factory=list)
    fail_on: list[FailRule] = field(default_factory=list)
    baseline: Baseline | None = None
    save_baseline: Path | None = None

    @classmethod
    def from_pytest(cls, config: pytest.Config, yml: dict[str, Any]) -> GateSettings:
        lines, src = options.resolve(config, yml, "budget")
        source = "--mlonmcu-budget" if src == "cli" else "ini mlonmcu_budget"
        budgets = [parse_budget_expr(str(line).strip(), source) for line in lines]
        rules_raw, rules_src = options.resolve(config, yml, "fail-on")
        rules_source = {"cli": "--mlonmcu-fail-on", "ini": "ini mlonmcu_fail_on"}.get(
            rules_src, "mlonmcu.yml fail_on"
        )
        fail_on = [parse_fail_on(text, rules_source) for text in rules_raw]
        compare_path, _ = options.resolve(config, yml, "compare")
        save_path, _ = options.resolve(config, yml, "save-baseline")
        if fail_on and not compare_path and rules_src == "cli":
            raise UsageError("--mlonmcu-fail-on needs a baseline: --mlonmcu-compare PATH")
        baseline = None
        workerinput = getattr(config, "workerinput", None)
        if workerinput is not None and WORKER_BASELINE_KEY in workerinput:
            # The controller's copy: workers never re-read a file that may have changed.
            baseline = Baseline.from_wire(workerinput[WORKER_BASELINE_KEY])
        elif compare_path:
            baseline = Baseline.load(Path(compare_path).resolve())
        return cls(
            budgets=budgets,
            pattern_budgets=_pattern_budgets(yml.get("budgets")),
            fail_on=fail_on,
            baseline=baseline,
            save_baseline=Path(save_path).resolve() if save_path else None,
        )

    def budgets_for(self, item: pytest.Item, run_id: str) -> list[Budget]:
        """Every budget of this test: each source is its own gate (the tightest decides)."""
        out = marker_budgets(item)
        for pattern, budgets in self.pattern_budgets:
            if fnmatch.fnmatchcase(run_id, pattern):
                out += budgets
        return out + self.budgets


def configure_node(node: Any) -> None:
    """Controller side of xdist: send the baseline to a worker before it configures."""
    settings = node.config.stash.get(GATES_KEY, None)
    if settings is not None and settings.baseline is not None:
        node.workerinput[WORKER_BASELINE_KEY] = settings.baseline.to_wire()


# -- the check of one test ----------------------------------------------------------
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


def record_fields(item: pytest.Item) -> dict[str, Any]:
    """What the gates add to the test's JSON record."""
    gates = item.stash.get(CHECK_KEY, None)
    settings = item.config.stash.get(GATES_KEY, None)
    comparison = None
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


# -- the controller's summary -------------------------------------------------------
def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _limit(lines: list[str], verbosity: int, most: int = 10) -> list[str]:
    if verbosity > 0 or len(lines) <= most:
        return lines
    return lines[:most] + [f"  ... and {len(lines) - most} more (-v lists all)"]


def summary_lines(
    records: list[dict[str, Any]], settings: GateSettings, verbosity: int = 0
) -> list[str]:
    """The terminal section of budgets and the baseline comparison ([] when neither is used)."""
    out: list[str] = []
    checks = [(r, c) for r in records for c in r.get("budgets") or []]
    if checks:
        exceeded = [(r, c) for r, c in checks if c["ok"] is False]
        unchecked = [(r, c) for r, c in checks if c["ok"] is None]
        runs = len({r["nodeid"] for r, _ in checks})
        out.append(
            f"budgets: {len(checks)} in {_n(runs, 'run')}, "
            f"{len(exceeded)} exceeded, {len(unchecked)} not checked"
        )
        for r, c in exceeded:
            out.append(f"  FAILED {r['id']}: {BudgetCheck(**c).message()}")
        for r, c in unchecked:
            out.append(f"  not checked {r['id']}: {c['metric']} ({c['note']})")
    baseline = settings.baseline
    if baseline is None:
        return out
    groups: dict[str, list[str]] = {"regression": [], "worse": [], "improvement": []}
    missing_metrics: list[str] = []
    new, not_compared, matched = [], [], set()
    compared = 0
    for r in records:
        key = baseline.key_for(r["id"], r.get("nodeid", ""))
        if key is None:
            new.append(r["id"])
            continue
        matched.add(key)
        comparison = r.get("comparison") or {}
        if not comparison.get("compared"):
            not_compared.append(f"{r['id']} ({r['outcome']})")
            continue
        compared += 1
        for d in comparison["deltas"]:
            delta = Delta(**{k: d[k] for k in ("metric", "baseline", "value", "verdict")})
            line = f"  {r['id']}: {d['metric']} {delta.change()}"
            if d["verdict"] == "regression":
                line += f", allowed {d['allowance']} [{d['rule']}]"
            elif d["verdict"] == "vanished":
                line += f", no longer produced [{d['rule']}]"
                groups["regression"].append(line)
            if d["verdict"] in groups:
                groups[d["verdict"]].append(line)
            elif d["verdict"] == "missing":
                side = "this run" if d["value"] is None else "the baseline"
                missing_metrics.append(f"  {r['id']}: {d['metric']} (not in {side})")
    missing = sorted(set(baseline.runs) - matched)
    out.append(
        f"baseline {baseline.path}: {_n(compared, 'run')} compared, "
        f"{_n(len(groups['regression']), 'regression')}, {len(groups['worse'])} worse within "
        f"the rules, {_n(len(groups['improvement']), 'improvement')}; "
        f"{_n(len(new), 'new run')}, {_n(len(missing), 'baseline run')} missing"
    )
    titles = {
        "regression": "regressions (fail):",
        "worse": "worse, within --mlonmcu-fail-on:",
        "improvement": "improvements:",
    }
    for verdict, title in titles.items():
        if groups[verdict]:
            out += [title, *_limit(groups[verdict], verbosity)]
    sections = [
        ("metrics missing on one side:", missing_metrics),
        ("new runs (not in the baseline):", [f"  {i}" for i in new]),
        ("missing runs (in the baseline, not in this session):", [f"  {k}" for k in missing]),
        ("not compared (the test failed or skipped first):", [f"  {i}" for i in not_compared]),
    ]
    for title, lines in sections:
        if lines:
            out += [title, *_limit(lines, verbosity)]
    return out
