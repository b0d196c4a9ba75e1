"""``python -m pytest_mlonmcu history``: a metric across commits, with deltas and trend plots.

One column per commit (in the order its last session was stored; ``*`` marks a dirty tree,
sessions outside git are ``no-git``), one row per run id; a cell is the run's value in the
last session of that commit and its change from the previous column that has one.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

from ..core.numbers import as_number, fmt_number, fmt_percent, percent_change
from ..report import format_table
from .store import StoredRun


@dataclass(frozen=True)
class Column:
    label: str  # short commit (+ "*" when dirty)
    when: float  # the last session's start


def columns_and_values(
    runs: list[StoredRun], metric: str
) -> tuple[list[Column], dict[str, dict[str, float | int]]]:
    """Commit columns (oldest first) and {run id: {column label: value}}."""
    last_when: dict[str, float] = {}
    values: dict[str, dict[str, float | int]] = {}
    for run in runs:  # oldest session first: later ones overwrite
        label = (run.commit[:10] if run.commit else "no-git") + ("*" if run.dirty else "")
        last_when[label] = run.started
        value = as_number(run.metrics.get(metric))
        if value is not None and run.outcome in ("passed", "failed"):
            values.setdefault(run.run_id, {})[label] = value
    ordered = sorted(last_when.items(), key=lambda kv: kv[1])
    return [Column(label, when) for label, when in ordered], values


def history_table(runs: list[StoredRun], metric: str, last: int = 6) -> list[str]:
    columns, values = columns_and_values(runs, metric)
    shown = columns[-last:] if last > 0 else columns
    if not values or not shown:
        return [f"no stored run has {metric}"]
    headers = ["run id"] + [
        f"{c.label} ({time.strftime('%Y-%m-%d %H:%M', time.localtime(c.when))})" for c in shown
    ]
    rows = []
    for run_id in sorted(values):
        row, previous = [run_id], None
        for column in columns:  # deltas against the previous commit, shown or not
            value = values[run_id].get(column.label)
            cell = "-"
            if value is not None:
                cell = fmt_number(value)
                if previous is not None:
                    change = percent_change(value, previous)
                    cell += " (=)" if change == 0 else f" ({fmt_percent(change)})"
                previous = value
            if column in shown:
                row.append(cell)
        rows.append(row)
    lines = [f"{metric} by commit (oldest first; * = uncommitted changes)"]
    return lines + format_table(headers, rows, set(range(1, len(headers))))


def write_trend_plots(runs: list[StoredRun], metrics: list[str], out_dir: Path) -> list[Path]:
    """One PNG per metric: a line per run id over the commits."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for metric in metrics:
        columns, values = columns_and_values(runs, metric)
        if not values:
            continue
        labels = [c.label for c in columns]
        fig = Figure(figsize=(max(6.4, 1.2 * len(labels) + 3), 4.8), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        for run_id in sorted(values):
            ys = [values[run_id].get(label, math.nan) for label in labels]
            ax.plot(range(len(labels)), ys, marker="o", label=run_id)
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
        ax.set_ylabel(metric)
        ax.set_title(f"{metric} by commit")
        ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.0, 0.5))
        fig.tight_layout()
        path = out_dir / f"history-{metric}.png"
        fig.savefig(path)
        written.append(path)
    return written
