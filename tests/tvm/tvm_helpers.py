"""Helpers of the TVM backend tests (a module of its own: `from conftest import` would find
whichever conftest.py was imported first, tests/cgen's when both directories are collected)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
MLPERF_DIR = Path(os.environ.get("MLONMCU_MODELS_DIR") or REPO.parent / "shared/models/mlperf_tiny")


def tvm_or_skip() -> None:
    from pytest_mlonmcu.backends.tvm import tvm_unavailable_reason

    reason = tvm_unavailable_reason()
    if reason:
        pytest.skip(reason)


def mlperf_or_skip(*models: str) -> None:
    for m in models:
        if not (MLPERF_DIR / m / f"{m}.tflite").is_file():
            pytest.skip(f"MLPerf Tiny model {m} not found in {MLPERF_DIR}")


def run_bench(
    tmp_path: Path,
    models: str,
    backends: str,
    targets: str,
    *extra: str,
    timeout: float = 1800,
) -> tuple[subprocess.CompletedProcess, dict[str, dict[str, Any]]]:
    """pytest benchmarks/ for the given matrix; returns the process and {run id: record}."""
    out_json = tmp_path / "results.json"
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        str(REPO / "benchmarks"),
        "-p",
        "no:cacheprovider",
        "-q",
        f"--mlonmcu-models-dir={MLPERF_DIR}",
        f"--mlonmcu-model={models}",
        f"--mlonmcu-backend={backends}",
        f"--mlonmcu-target={targets}",
        f"--mlonmcu-json={out_json}",
        f"--mlonmcu-out={tmp_path / 'out'}",
        *extra,
    ]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    runs = json.loads(out_json.read_text())["runs"] if out_json.is_file() else []
    return proc, {r["id"]: r for r in runs}
