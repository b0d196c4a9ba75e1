"""The README's result tables, rendered from results JSON files (``--mlonmcu-json``).

``python -m pytest_mlonmcu report docs/results/*.json --markdown`` prints every table whose
sessions are given; ``--update README.md`` rewrites the README's blocks between
``<!-- report:NAME -->`` and ``<!-- /report:NAME -->``. Each JSON is one session of
``bash scripts/bench.sh --suite readme`` and is known by its file name (``cgen.json`` ->
``cgen``), since one session holds one set of features and settings.

Paper figures (the MLonMCU paper, RV32GC on ETISS: its TFLM interpreter and TVM AoT invoke
instructions) are the only numbers here that are not measured; the columns say so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .core.errors import UsageError
from .core.numbers import as_number, fmt_number

MODELS = ("aww", "vww", "resnet", "toycar")
TARGETS = ("etiss", "riscv_qemu", "cortexm_qemu", "host_x86")
# The paper's Table IV (RV32GC, ETISS): invoke instructions in millions.
PAPER_TFLM_INVOKE_M = {"aww": "153.1", "vww": "432.0", "resnet": "687.5", "toycar": "3.0"}
PAPER_TVM_AOT_INVOKE_M = {"aww": "29.8", "vww": "87.5", "resnet": "114.8", "toycar": "2.44"}
RV32GC = ("etiss", "riscv_qemu")
TARGET_LABELS = {"etiss": "etiss (rv32gc)", "riscv_qemu": "riscv_qemu (rv32gc)",
                 "cortexm_qemu": "cortexm_qemu (M4F)"}  # fmt: skip

Record = dict[str, Any]
Sessions = dict[str, list[Record]]


def metric(name: str) -> Callable[[Record], str]:
    def cell(r: Record) -> str:
        value = as_number(r["metrics"].get(name))
        return "-" if value is None else fmt_number(value)

    return cell


def per_mac(r: Record) -> str:
    invoke, macs = (as_number(r["metrics"].get(k)) for k in ("invoke_instructions", "macs"))
    return "-" if not invoke or not macs else f"{invoke / macs:.2f}"


def seconds(name: str) -> Callable[[Record], str]:
    def cell(r: Record) -> str:
        value = as_number(r["metrics"].get(name))
        return "-" if value is None else f"{value:.2f}"

    return cell


@dataclass(frozen=True)
class Col:
    title: str
    cell: Callable[[Record], str]
    numeric: bool = True


@dataclass(frozen=True)
class Table:
    name: str
    sources: tuple[str, ...]  # the sessions (JSON file stems) it reads
    select: Callable[[Record], bool]
    cols: tuple[Col, ...]
    order: Callable[[Record], tuple] = lambda r: _order(r)


def _order(r: Record) -> tuple:
    model = MODELS.index(r["model"]) if r["model"] in MODELS else len(MODELS)
    target = TARGETS.index(r["target"]) if r["target"] in TARGETS else len(TARGETS)
    return (model, r["model"], target, r["backend"], tuple(r.get("features", [])))


MODEL = Col("model", lambda r: r["model"], numeric=False)
COMMON_SIZES = (
    Col("ROM (B)", metric("rom_bytes")),
    Col("RAM (B)", metric("ram_bytes")),
    Col("stack (B)", metric("stack_bytes")),
    Col("arena (B)", metric("arena_bytes")),
)


def _tflmi_target(r: Record) -> str:
    label = TARGET_LABELS.get(r["target"], r["target"])
    return label + (" + cmsisnn" if "cmsisnn" in r.get("features", []) else "")


TABLES = (
    Table(
        "cgen", ("cgen",), lambda r: r["backend"] == "cgen",
        (MODEL, Col("target", lambda r: r["target"], numeric=False),
         Col("setup instr", metric("setup_instructions")),
         Col("invoke instr", metric("invoke_instructions")), Col("instr/MAC", per_mac),
         *COMMON_SIZES, Col("live-tensor bound (B)", metric("arena_lower_bound_bytes")),
         Col("weights (B)", metric("weights_bytes"))),
    ),
    Table(
        "tflmi", ("tflmi", "tflmi-cmsisnn"), lambda r: r["backend"] == "tflmi",
        (MODEL, Col("target", _tflmi_target, numeric=False),
         Col("setup instr", metric("setup_instructions")),
         Col("invoke instr", metric("invoke_instructions")),
         Col("paper TFLM invoke (RV32GC, not measured here)",
             lambda r: f"{PAPER_TFLM_INVOKE_M[r['model']]} M" if r["target"] in RV32GC else ""),
         *COMMON_SIZES),
    ),
    Table(
        "tvm", ("tvm",), lambda r: r["target"] == "riscv_qemu",
        (MODEL, Col("backend", lambda r: r["backend"], numeric=False),
         Col("invoke instr", metric("invoke_instructions")),
         Col("paper TVM AoT (not measured here)",
             lambda r: f"{PAPER_TVM_AOT_INVOKE_M[r['model']]} M"),
         Col("instr/MAC", per_mac), *COMMON_SIZES,
         Col("workspace (B)", metric("workspace_bytes")),
         Col("weights (B)", metric("weights_bytes")),
         Col("TVM build (s)", seconds("tvm_build_seconds"))),
    ),
    Table(
        "tvm-targets", ("tvm-targets",), lambda r: True,
        (MODEL, Col("target", lambda r: r["target"], numeric=False),
         Col("setup instr", metric("setup_instructions")),
         Col("invoke instr", metric("invoke_instructions")), Col("instr/MAC", per_mac),
         *COMMON_SIZES),
    ),
    Table(
        "tvmrt", ("tvmrt",), lambda r: True,
        (MODEL, Col("setup instr", metric("setup_instructions")),
         Col("invoke instr", metric("invoke_instructions"))),
    ),
)  # fmt: skip
# The variants table: one column per session of tvmaotplus on riscv_qemu.
VARIANTS = (
    ("NHWC (default)", "tvm"),
    ("`layout_nchw`", "tvm-layout_nchw"),
    ("`schedule_none`", "tvm-schedule_none"),
    ("`autotune` (unroll)", "tvm-autotune"),
    ("float path (`int8=false`; ROM, max diff)", "tvm-float"),
)


def load_sessions(paths: Iterable[Path]) -> Sessions:
    sessions: Sessions = {}
    for path in paths:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise UsageError(f"report: cannot read {path}: {exc}") from None
        runs = data.get("runs") if isinstance(data, dict) else None
        if not isinstance(runs, list):
            raise UsageError(f"report: {path} is not a results JSON (--mlonmcu-json)")
        sessions[path.stem] = runs
    return sessions


def _check_outcomes(name: str, records: list[Record]) -> None:
    bad = [f"{r['id']} ({r['outcome']})" for r in records if r["outcome"] != "passed"]
    if bad:
        raise UsageError(f"report: table {name}: runs that did not pass: {', '.join(bad)}")


def markdown(headers: list[str], rows: list[list[str]], numeric: list[bool]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |"]
    lines.append("|" + "|".join("--:" if n else "---" for n in numeric) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def render(table: Table, sessions: Sessions) -> list[str]:
    records = [r for s in table.sources for r in sessions.get(s, []) if table.select(r)]
    _check_outcomes(table.name, records)
    records.sort(key=table.order)
    rows = [[c.cell(r) for c in table.cols] for r in records]
    return markdown([c.title for c in table.cols], rows, [c.numeric for c in table.cols])


def render_variants(sessions: Sessions) -> list[str]:
    """tvmaotplus on riscv_qemu: invoke instructions / RAM bytes per variant session."""
    by_model: dict[str, dict[str, Record]] = {}
    for _, source in VARIANTS:
        records = [
            r for r in sessions.get(source, [])
            if r["backend"] == "tvmaotplus" and r["target"] == "riscv_qemu"
        ]  # fmt: skip
        _check_outcomes("tvm-variants", records)
        for r in records:
            by_model.setdefault(r["model"], {})[source] = r
    rows = []
    for model in sorted(by_model, key=lambda m: MODELS.index(m) if m in MODELS else 99):
        row = [model]
        for _, source in VARIANTS:
            r = by_model[model].get(source)
            if r is None:
                row.append("-")
                continue
            m = r["metrics"]
            if source == "tvm-autotune":
                row.append(f"{fmt_number(m['invoke_instructions'])} ({m['tvm_tuned_unroll']})")
            elif source == "tvm-float":
                row.append(
                    f"{fmt_number(m['invoke_instructions'])} / {fmt_number(m['ram_bytes'])} "
                    f"({fmt_number(m['rom_bytes'])} B, {fmt_number(m['validation_max_abs_diff'])})"
                )
            else:
                row.append(f"{fmt_number(m['invoke_instructions'])} / {fmt_number(m['ram_bytes'])}")
        rows.append(row)
    headers = ["model", *(title for title, _ in VARIANTS)]
    return markdown(headers, rows, [False] * len(headers))


def all_tables(sessions: Sessions) -> dict[str, list[str]]:
    """Every table whose sessions are all present, by name."""
    out = {t.name: render(t, sessions) for t in TABLES if all(s in sessions for s in t.sources)}
    if all(source in sessions for _, source in VARIANTS):
        out["tvm-variants"] = render_variants(sessions)
    return out


BLOCK = re.compile(r"(<!-- report:([\w-]+) -->\n)(.*?)(<!-- /report:\2 -->)", re.S)


def readme_blocks(text: str) -> dict[str, str]:
    return {m.group(2): m.group(3) for m in BLOCK.finditer(text)}


def update_readme(text: str, tables: dict[str, list[str]]) -> tuple[str, list[str]]:
    """``text`` with every marked block replaced by its table; the names replaced."""
    done: list[str] = []

    def replace(m: re.Match) -> str:
        name = m.group(2)
        if name not in tables:
            return m.group(0)
        done.append(name)
        return m.group(1) + "\n".join(tables[name]) + "\n" + m.group(4)

    return BLOCK.sub(replace, text), done
