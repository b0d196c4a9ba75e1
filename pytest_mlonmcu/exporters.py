"""Reports people read: CSV, a Markdown table for pull requests, PNG bar charts.

All are written by the controller at the end of the session from the merged records
(the same ones as the JSON report). ``--mlonmcu-columns`` and ``--mlonmcu-rename`` (like
MLonMCU's ``filter_cols``/``rename_cols`` postprocesses) shape the CSV, the Markdown and
the terminal tables alike.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from . import history, options
from .core.cache import atomic_write_bytes, atomic_write_text
from .core.case import model_label, safe_name
from .core.errors import UsageError
from .core.numbers import as_number, fmt_percent, percent_change
from .core.records import RunMetrics, RunRecord
from .gates import Baseline, GateSettings, usable_record
from .report import (
    COLUMNS,
    Column,
    column_named,
    default_columns,
    field_column,
    fmt_value,
    metric_column,
    rename_columns,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

REPORTS_KEY = pytest.StashKey["ReportSettings"]()
# One figure per metric (MLonMCU paper style: bars per model, grouped by backend-target).
PLOT_METRICS = ("invoke_instructions", "rom_bytes", "ram_bytes")
PLOT_TITLES = {
    "invoke_instructions": "Invoke instructions",
    "rom_bytes": "ROM [bytes]",
    "ram_bytes": "RAM [bytes]",
}
ID_FIELDS = ("model", "backend", "target", "features")


@dataclass
class ReportSettings:
    csv: Path | None = None
    markdown: Path | None = None
    plot: Path | None = None
    columns: list[str] = field(default_factory=list)
    renames: dict[str, str] = field(default_factory=dict)
    history: str | None = None  # the results database (history.py), None when off
    rootdir: Path = Path(".")  # where git tells the commit

    @classmethod
    def from_pytest(cls, config: pytest.Config, yml: dict[str, Any]) -> ReportSettings:
        def path(name: str) -> Path | None:
            value, _ = options.resolve(config, yml, name)
            return Path(value).resolve() if value else None

        columns, _ = options.resolve(config, yml, "columns")
        rename_raw, src = options.resolve(config, yml, "rename")
        if src == "yml" and isinstance(yml.get("rename"), dict):
            items = [f"{k}={v}" for k, v in yml["rename"].items()]  # rename: {old: new}
        else:
            items = rename_raw
        renames = {}
        for item in items:
            old, sep, new = item.partition("=")
            if not sep or not old.strip() or not new.strip():
                raise UsageError(f"--mlonmcu-rename: {item!r} is not OLD=NEW (e.g. rom_bytes=ROM)")
            renames[old.strip()] = new.strip()
        history_value, _ = options.resolve(config, yml, "history")
        root = Path(config.rootpath)
        where = history.location(history_value, root)
        history.check_location(where)
        return cls(path("csv"), path("markdown"), path("plot"), list(columns), renames, where, root)

    def shape(self, default: list[Column]) -> list[Column]:
        """The chosen columns (or ``default``), renamed."""
        cols = [column_named(n) for n in self.columns] if self.columns else default
        return rename_columns(cols, self.renames)


def metric_keys(records: list[RunRecord]) -> list[str]:
    """Every metric of the session: the table's columns first, then the rest by name."""
    seen = {k for r in records for k in r.get("metrics", {})}
    known = [k for k, _ in COLUMNS if k in seen]
    return known + sorted(seen - set(known))


def csv_columns(records: list[RunRecord]) -> list[Column]:
    cols = [field_column(k) for k in ID_FIELDS]
    cols += [metric_column(k) for k in metric_keys(records)]
    return cols + [field_column("validation"), field_column("outcome")]


def markdown_columns(records: list[RunRecord]) -> list[Column]:
    """The terminal table's columns without those no run filled (short enough for a PR)."""
    return [
        c
        for c in default_columns(records, verbosity=0)
        if c.key in ("model", "backend", "target", "outcome")
        or any(c.text(r) not in ("-", "") for r in records)
    ]


def terminal_columns(
    records: list[RunRecord], verbosity: int, settings: ReportSettings
) -> list[Column]:
    return settings.shape(default_columns(records, verbosity))


def to_csv(records: list[RunRecord], columns: list[Column]) -> str:
    """Raw values (no thousands separators), one row per run."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([c.title for c in columns])
    for r in records:
        row = []
        for c in columns:
            value = c.value(r)
            row.append("" if value is None else value)
        writer.writerow(row)
    return buf.getvalue()


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _baseline_metrics(record: RunRecord, baseline: Baseline | None) -> RunMetrics | None:
    if baseline is None:
        return None
    key = baseline.key_for(record["id"], record.get("nodeid", ""))
    return None if key is None else baseline.runs[key].get("metrics", {})


def _regressed(record: RunRecord) -> set[str]:
    comparison = record.get("comparison")
    deltas = (comparison.get("deltas") if comparison else None) or []
    return {d["metric"] for d in deltas if d["verdict"] == "regression"}


def delta_cell(value: Any, reference: Any, regression: bool = False) -> str:
    """``51,020,074 (-2.1%)``; a regression beyond --mlonmcu-fail-on in bold."""
    text = _md(fmt_value(value))
    v, b = as_number(value), as_number(reference)
    if v is None or b is None:
        return text
    if v == b:
        return f"{text} (±0%)"
    pct = fmt_percent(percent_change(v, b))
    return f"{text} (**{pct}**)" if regression else f"{text} ({pct})"


def to_markdown(
    records: list[RunRecord],
    columns: list[Column],
    gates: GateSettings | None = None,
    title: str = "pytest-mlonmcu results",
) -> str:
    """A table ready to paste into a pull request, then the failed gates (if any)."""
    baseline = gates.baseline if gates is not None else None
    lines = [f"### {title}", ""]
    lines.append("| " + " | ".join(_md(c.title) for c in columns) + " |")
    lines.append("|" + "|".join("---:" if c.numeric else "---" for c in columns) + "|")
    for r in records:
        ref = _baseline_metrics(r, baseline)
        regressed = _regressed(r)
        cells = []
        for c in columns:
            if c.numeric and ref is not None:
                cells.append(delta_cell(c.value(r), ref.get(c.key), c.key in regressed))
            else:
                cells.append(_md(c.text(r)))
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    if baseline is not None:
        lines.append(
            f"Deltas against the baseline `{Path(baseline.path).name}` (lower is better; "
            "**bold**: a regression beyond `--mlonmcu-fail-on`)."
        )
        lines.append("")
    failures = [(r["id"], m) for r in records for m in r.get("gate_failures") or []]
    if failures:
        lines += ["**Failed gates**", ""]
        lines += [f"- `{rid}`: {_md(message)}" for rid, message in failures]
        lines.append("")
    if baseline is not None:
        matched = set()
        new = []
        for r in records:
            key = baseline.key_for(r["id"], r.get("nodeid", ""))
            if key is None:
                new.append(r["id"])
            else:
                matched.add(key)
        missing = sorted(set(baseline.runs) - matched)
        if new:
            lines += [f"New runs (not in the baseline): {', '.join(f'`{i}`' for i in new)}", ""]
        if missing:
            lines += [
                f"Baseline runs missing here: {', '.join(f'`{k}`' for k in missing)}",
                "",
            ]
    return "\n".join(lines)


# -- plots --------------------------------------------------------------------------
@dataclass
class PlotData:
    """What one bar chart shows: one group per model, one bar per backend-target(-features)."""

    metric: str
    title: str
    models: list[str]
    series: list[str]
    values: dict[str, list[float | None]]  # series -> one value per model (None: no run)
    path: Path | None = None


def _model_label(record: RunRecord) -> str:
    model = record["model"]
    return Path(model).stem if model.endswith(".tflite") else model


def _series_label(record: RunRecord) -> str:
    return "-".join([record["backend"], record["target"], *record.get("features", [])])


def plot_data(records: list[RunRecord], metric: str) -> PlotData | None:
    """The chart of ``metric`` over the usable runs; None when no run measured it."""
    cells: dict[tuple[str, str], float] = {}
    models: list[str] = []
    series: list[str] = []
    for r in records:
        value = as_number(r.get("metrics", {}).get(metric))
        if value is None or not usable_record(r):
            continue
        model, label = _model_label(r), _series_label(r)
        cells.setdefault((model, label), float(value))  # first test function wins
        if model not in models:
            models.append(model)
        if label not in series:
            series.append(label)
    if not cells:
        return None
    values = {s: [cells.get((m, s)) for m in models] for s in series}
    return PlotData(metric, PLOT_TITLES.get(metric, metric), models, series, values)


def _compact(value: float) -> str:
    """``51020074`` -> ``51.0M``: short bar labels."""
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:.3g}"


def render_plot(data: PlotData) -> Figure:
    """A grouped bar chart (Agg canvas, no pyplot: no global state in the user's process)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    n_models, n_series = len(data.models), len(data.series)
    width = max(6.4, 3.0 + n_models * (0.45 * n_series + 0.5))  # room for the legend
    fig = Figure(figsize=(width, 4.8), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    bar = 0.8 / n_series
    for i, label in enumerate(data.series):
        xs = [m - 0.4 + bar * (i + 0.5) for m in range(n_models)]
        heights = [v if v is not None else 0.0 for v in data.values[label]]
        bars = ax.bar(xs, heights, bar, label=label)
        texts = [_compact(v) if v is not None else "n/a" for v in data.values[label]]
        ax.bar_label(bars, labels=texts, fontsize=7, padding=2, rotation=90 if n_series > 3 else 0)
    ax.set_xticks(range(n_models), data.models)
    ax.set_xlabel("model")
    ax.set_ylabel(data.title)
    ax.set_title(f"{data.title} per model (lower is better)")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _compact(v)))
    ax.margins(y=0.15)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    # Outside the axes, so that it never hides a bar.
    ax.legend(
        title="backend-target", fontsize=8, title_fontsize=8,
        loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
    )  # fmt: skip
    fig.tight_layout()
    return fig


def write_plots(
    records: list[RunRecord], out_dir: Path, metrics: tuple[str, ...] = PLOT_METRICS
) -> list[PlotData]:
    """``<out_dir>/<metric>.png`` for each metric that some run measured."""
    out = []
    for metric in metrics:
        data = plot_data(records, metric)
        if data is None:
            continue
        buf = io.BytesIO()
        render_plot(data).savefig(buf, format="png")
        data.path = out_dir / f"{metric}.png"
        atomic_write_bytes(data.path, buf.getvalue())
        out.append(data)
    return out


def write_reports(
    records: list[RunRecord], settings: ReportSettings, gates: GateSettings | None
) -> list[str]:
    """Write the requested files; returns lines naming them for the terminal summary."""
    written = []
    if settings.history is not None:
        try:
            count = history.append_session(settings.history, records, settings.rootdir)
        except Exception as exc:  # any database's error: the results stay in the other reports
            written.append(f"results history: could not write {settings.history}: {exc}")
        else:
            if count:
                written.append(f"results history: {count} runs added to {settings.history}")
    if settings.csv is not None:
        atomic_write_text(settings.csv, to_csv(records, settings.shape(csv_columns(records))))
        written.append(f"results CSV: {settings.csv}")
    if settings.markdown is not None:
        text = to_markdown(records, settings.shape(markdown_columns(records)), gates)
        atomic_write_text(settings.markdown, text)
        written.append(f"results Markdown: {settings.markdown}")
    if settings.plot is not None:
        settings.plot.mkdir(parents=True, exist_ok=True)
        plots = write_plots(records, settings.plot)
        names = ", ".join(p.path.name for p in plots if p.path) or "none (no metric to plot)"
        written.append(f"plots in {settings.plot}: {names}")
    return written


def write_operator_plots(records: list[RunRecord], out_dir: Path) -> list[Path]:
    """Feature profile: per model, one stacked bar per run (backend-target), a segment per
    operator type (its instructions summed); ``<out_dir>/operators-<model>.png``."""
    by_model: dict[str, list[RunRecord]] = {}
    for r in records:
        if r.get("operators"):
            by_model.setdefault(r["model"], []).append(r)
    if not by_model:
        return []  # matplotlib is imported only when there is something to plot
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    written = []
    for model, runs in sorted(by_model.items()):
        kinds = sorted({o["operator"] for r in runs for o in r["operators"]})
        labels = ["-".join([r["backend"], r["target"]]) for r in runs]
        fig = Figure(figsize=(max(6.4, 2.5 + 1.2 * len(runs)), 4.8), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        bottoms = [0.0] * len(runs)
        for kind in kinds:
            heights = [
                float(sum(o["instructions"] for o in r["operators"] if o["operator"] == kind))
                for r in runs
            ]
            ax.bar(range(len(runs)), heights, 0.6, bottom=bottoms, label=kind)
            bottoms = [b + h for b, h in zip(bottoms, heights)]
        ax.set_xticks(range(len(runs)), labels, rotation=20, ha="right")
        ax.set_ylabel("invoke instructions")
        ax.set_title(f"{model}: instructions per operator type")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _compact(v)))
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        fig.tight_layout()
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"operators-{safe_name(model_label(model))}.png"
        fig.savefig(path)
        written.append(path)
    return written
