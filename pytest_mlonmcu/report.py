"""Result tables: the column model (shared with exporters.py) and the terminal summary table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .core.numbers import fmt_number
from .core.records import RunRecord

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
# Titles of metrics outside the default table (a metric without one is titled by its key).
METRIC_TITLES = {
    **dict(COLUMNS),
    "total_instructions": "Total Instructions",
    "latency_ms": "Latency [ms]",
    "macs": "MACs",
    "param_bytes": "Params",
    "weights_bytes": "Weights",
}


def fmt_value(value: Any) -> str:
    """A table cell: ``-`` for no value, yes/no, a number as ``fmt_number`` shows it."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return fmt_number(value)
    return str(value)


def _validation(record: RunRecord) -> str:
    passed = record["metrics"].get("validation_passed")
    if passed is None:
        return "-"
    return f"{record['metrics'].get('validation_mode', '')} " + ("ok" if passed else "FAILED")


def _stage_times(record: RunRecord) -> str:
    return " ".join(f"{k}={v['seconds']:.2f}" for k, v in record["stages"].items())


# Record fields usable as columns: key -> (title, cell value).
FIELDS: dict[str, tuple[str, Callable[[RunRecord], Any]]] = {
    "id": ("Run", lambda r: r["id"]),
    "nodeid": ("Test", lambda r: r.get("nodeid")),
    "model": ("Model", lambda r: r["model"]),
    "backend": ("Backend", lambda r: r["backend"]),
    "target": ("Target", lambda r: r["target"]),
    "features": ("Features", lambda r: ",".join(r["features"]) or "-"),
    "validation": ("Validation", _validation),
    "outcome": ("Outcome", lambda r: r["outcome"]),
    "reason": ("Reason", lambda r: r.get("reason") or ""),
    "stage_times": ("Stage Times [s]", _stage_times),
}


@dataclass(frozen=True)
class Column:
    """One table column: a record field (``model``, ``outcome``...) or a metric key."""

    key: str
    title: str
    numeric: bool = False

    def value(self, record: RunRecord) -> Any:
        if self.key in FIELDS:
            return FIELDS[self.key][1](record)
        return record.get("metrics", {}).get(self.key)

    def text(self, record: RunRecord) -> str:
        return fmt_value(self.value(record))


def field_column(key: str) -> Column:
    return Column(key, FIELDS[key][0])


def metric_column(key: str) -> Column:
    return Column(key, METRIC_TITLES.get(key, key), numeric=True)


def column_named(name: str) -> Column:
    """A column by key (``rom_bytes``, ``outcome``) or title (``ROM``, case-insensitive);
    an unknown name is a metric key (a run that lacks it shows ``-``)."""
    if name in FIELDS:
        return field_column(name)
    if name in METRIC_TITLES:
        return metric_column(name)
    lowered = name.strip().lower()
    for key, (title, _) in FIELDS.items():
        if title.lower() == lowered:
            return field_column(key)
    for key, title in METRIC_TITLES.items():
        if title.lower() == lowered:
            return metric_column(key)
    return metric_column(name.strip())


def rename_columns(columns: list[Column], renames: dict[str, str]) -> list[Column]:
    """Apply ``OLD=NEW`` renames; OLD is a column's key or its title."""
    if not renames:
        return columns
    out = []
    for col in columns:
        new = renames.get(col.key, renames.get(col.title))
        out.append(Column(col.key, new, col.numeric) if new else col)
    return out


def default_columns(records: list[RunRecord], verbosity: int = 0) -> list[Column]:
    """The terminal table: fewer metrics with -q, stage times with -v."""
    metrics = [metric_column(k) for k, _ in COLUMNS if verbosity >= 0 or k in QUIET_COLUMNS]
    if verbosity >= 0 and any("latency_ms" in r["metrics"] for r in records):
        metrics.append(metric_column("latency_ms"))  # host runs timed by pytest-benchmark
    cols = [field_column(k) for k in ("model", "backend", "target", "features")]
    cols += metrics + [field_column("validation"), field_column("outcome")]
    if verbosity > 0:
        cols.append(field_column("stage_times"))
    return cols


def format_table(headers: list[str], rows: list[list[str]], numeric: set[int]) -> list[str]:
    """Lines of a plain-text table; ``numeric`` columns are right-aligned."""
    widths = [
        max(len(h), *(len(row[i]) for row in rows)) if rows else len(h)
        for i, h in enumerate(headers)
    ]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(widths[i]) if i in numeric else c.ljust(widths[i]) for i, c in enumerate(cells)
        ).rstrip()

    return [line(headers), line(["-" * w for w in widths])] + [line(row) for row in rows]


def summary_table(
    records: list[RunRecord], verbosity: int = 0, columns: list[Column] | None = None
) -> list[str]:
    """Lines of the terminal table (``columns``: --mlonmcu-columns/--mlonmcu-rename)."""
    columns = columns if columns is not None else default_columns(records, verbosity)
    rows = [[c.text(r) for c in columns] for r in records]
    numeric = {i for i, c in enumerate(columns) if c.numeric}
    return format_table([c.title for c in columns], rows, numeric)


def operator_table(record: RunRecord) -> list[str]:
    """Feature profile: the run's operators, their instructions and share of the invoke."""
    rows_in = record.get("operators") or []
    total = sum(r["instructions"] for r in rows_in) or 1
    rows = [
        [
            str(r["index"]),
            r["operator"],
            "x".join(map(str, r["output_shape"])) or "-",
            fmt_number(r["macs"]) if r["macs"] else "-",
            fmt_number(r["instructions"]),
            f"{r['instructions_per_mac']:.2f}" if r["instructions_per_mac"] is not None else "-",
            f"{100 * r['instructions'] / total:.1f}%",
        ]
        for r in rows_in
    ]
    headers = ["#", "operator", "output", "MACs", "instructions", "instr/MAC", "share"]
    return format_table(headers, rows, {0, 3, 4, 5, 6})
