"""The controller's summary: the terminal section of budgets and the baseline comparison."""

from __future__ import annotations

from ..core.records import RunRecord
from .baseline import Delta
from .budgets import BudgetCheck
from .settings import GateSettings


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _limit(lines: list[str], verbosity: int, most: int = 10) -> list[str]:
    if verbosity > 0 or len(lines) <= most:
        return lines
    return lines[:most] + [f"  ... and {len(lines) - most} more (-v lists all)"]


def summary_lines(
    records: list[RunRecord], settings: GateSettings, verbosity: int = 0
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
        comparison = r.get("comparison")
        if not comparison or not comparison.get("compared"):
            not_compared.append(f"{r['id']} ({r['outcome']})")
            continue
        compared += 1
        for d in comparison["deltas"]:
            delta = Delta(d["metric"], d["baseline"], d["value"], d["verdict"])
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
