"""The terminal summary table (rows = runs, columns = metrics)."""

from __future__ import annotations

from typing import Any

# (metric key, header) - MLonMCU's column names.
COLUMNS = [
    ("setup_instructions", "Setup Instructions"),
    ("invoke_instructions", "Invoke Instructions"),
    ("rom_bytes", "ROM"),
    ("ram_bytes", "RAM"),
    ("stack_bytes", "Stack"),
    ("arena_bytes", "Arena"),
    ("validation_max_abs_diff", "Max Diff"),
]
QUIET_COLUMNS = {"invoke_instructions", "rom_bytes", "ram_bytes"}


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return str(value)


def _validation(record: dict[str, Any]) -> str:
    passed = record["metrics"].get("validation_passed")
    if passed is None:
        return "-"
    return f"{record['metrics'].get('validation_mode', '')} " + ("ok" if passed else "FAILED")


def summary_table(records: list[dict[str, Any]], verbosity: int = 0) -> list[str]:
    """Lines of a plain-text table; fewer columns with -q, stage times with -v."""
    columns = [c for c in COLUMNS if verbosity >= 0 or c[0] in QUIET_COLUMNS]
    headers = [
        "Model",
        "Backend",
        "Target",
        "Features",
        *(h for _, h in columns),
        "Validation",
        "Outcome",
    ]
    if verbosity > 0:
        headers.append("Stage Times [s]")
    rows = []
    for r in records:
        m = r["metrics"]
        row = [r["model"], r["backend"], r["target"], ",".join(r["features"]) or "-"]
        row += [_fmt(m.get(key)) for key, _ in columns]
        row += [_validation(r), r["outcome"]]
        if verbosity > 0:
            row.append(" ".join(f"{k}={v['seconds']:.2f}" for k, v in r["stages"].items()))
        rows.append(row)
    widths = [
        max(len(h), *(len(row[i]) for row in rows)) if rows else len(h)
        for i, h in enumerate(headers)
    ]
    numeric = {i for i, h in enumerate(headers) if h in {h2 for _, h2 in columns}}

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(widths[i]) if i in numeric else c.ljust(widths[i]) for i, c in enumerate(cells)
        ).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(row) for row in rows]
    return out
