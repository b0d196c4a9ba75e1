"""A slice of the corruption benchmark (benchmarks/bench_corruption.py): 20 seeded
corruptions of each MLPerf Tiny model through load and build of every backend give no
internal error, no hang, no crash, and every error names the model file."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from .model_edits import MLPERF_DIR, REPO

SEEDS = range(20)


def _bench():
    path = REPO / "benchmarks" / "bench_corruption.py"
    spec = importlib.util.spec_from_file_location("bench_corruption", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_corrupted_models_fail_cleanly_in_every_backend(tmp_path: Path) -> None:
    bench = _bench()
    models = [m for m in bench.MODELS if (MLPERF_DIR / m / f"{m}.tflite").is_file()]
    if not models:
        pytest.skip(f"no MLPerf Tiny model in {MLPERF_DIR}")
    backends = list(bench.BACKEND_TARGETS)
    summary = bench.run_campaign(
        models, backends, list(SEEDS), jobs=2, timeout=300, work=tmp_path, models_dir=MLPERF_DIR
    )
    assert summary["failures"] == [], bench.table(summary)
    totals = summary["totals"]
    assert sum(totals.values()) == len(models) * len(SEEDS) * len(backends)
    assert totals["clean"] > 0 and totals["ok"] + totals["skipped"] > 0, bench.table(summary)


def test_tvm_import_errors_name_the_operator_being_converted() -> None:
    """A corrupted fused activation made TVM's importer fail with a bare "57"."""
    from pytest_mlonmcu.backends.tvm.compile import condense_import_error

    def convert_op_to_relax() -> None:  # the shape of the importer's loop
        for op_idx in range(5):
            op_code_str = "FULLY_CONNECTED"
            if op_idx == 4:
                {}[57]  # the importer's table of fused activations
            assert op_code_str

    try:
        convert_op_to_relax()
    except KeyError as exc:
        failure = condense_import_error(exc)
    assert failure.message == (
        "TVM's TFLite importer failed on FULLY_CONNECTED (operator index 4): KeyError: 57"
    )
    assert failure.op == "FULLY_CONNECTED"
