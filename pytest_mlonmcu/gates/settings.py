"""The session's gate settings, read once at configure time and sent to xdist workers."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .. import history, options
from ..core.errors import UsageError
from .baseline import Baseline, FailRule, baseline_entries, parse_fail_on
from .budgets import Budget, marker_budgets, parse_budget_expr, parse_pattern_budgets

# workerinput key: the controller's baseline, so every worker compares with the same data.
WORKER_BASELINE_KEY = "mlonmcu_baseline"

GATES_KEY = pytest.StashKey["GateSettings"]()


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
        elif compare_path and str(compare_path).startswith(history.PREFIX):
            baseline = history_baseline(config, yml, str(compare_path))
        elif compare_path:
            baseline = Baseline.load(Path(compare_path).resolve())
        return cls(
            budgets=budgets,
            pattern_budgets=parse_pattern_budgets(yml.get("budgets")),
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


def history_baseline(config: pytest.Config, yml: dict[str, Any], spec: str) -> Baseline:
    """``history:REV``: the runs the results history holds for commit REV."""
    rev = spec.removeprefix(history.PREFIX).strip() or "HEAD"
    value, _ = options.resolve(config, yml, "history")
    where = history.location(value, Path(config.rootpath))
    if where is None:
        raise UsageError(f"--mlonmcu-compare={spec}: the results history is off")
    commit, records = history.records_at(where, rev, Path(config.rootpath))
    return Baseline(f"{spec} ({commit[:12]})", baseline_entries(records))


def configure_node(node: Any) -> None:
    """Controller side of xdist: send the baseline to a worker before it configures."""
    settings = node.config.stash.get(GATES_KEY, None)
    if settings is not None and settings.baseline is not None:
        node.workerinput[WORKER_BASELINE_KEY] = settings.baseline.to_wire()
