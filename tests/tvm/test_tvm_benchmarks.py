"""tvmaot and tvmaotplus on the MLPerf Tiny models, through the plugin (a subprocess).

Integer path (default): outputs bit-exact with TFLM (validation ``exact``), and the
planned arena of tvmaotplus needs less RAM than tvmaot's buffer per tensor.
toycar runs in the default suite; aww, vww and resnet are ``slow``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tvm_helpers import mlperf_or_skip, run_bench, tvm_or_skip

TARGETS = ("host_x86", "riscv_qemu")


def check_matrix(tmp_path: Path, model: str) -> None:
    tvm_or_skip()
    mlperf_or_skip(model)
    proc, runs = run_bench(tmp_path, model, "tvmaot,tvmaotplus", ",".join(TARGETS))
    if "skipped" in proc.stdout and not runs:
        pytest.skip("targets unavailable here:\n" + proc.stdout[-2000:])
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    for target in TARGETS:
        aot = runs.get(f"{model}-tvmaot-{target}")
        plus = runs.get(f"{model}-tvmaotplus-{target}")
        if aot is None or aot["outcome"] == "skipped":
            continue  # this target is not installed here
        for rec in (aot, plus):
            assert rec["outcome"] == "passed", rec
            assert rec["metrics"]["validation_passed"] is True
            assert rec["metrics"]["validation_max_abs_diff"] == 0
            assert rec["metrics"]["invoke_instructions"] > 0
        assert plus["metrics"]["ram_bytes"] < aot["metrics"]["ram_bytes"]
        assert plus["metrics"]["arena_bytes"] <= plus["metrics"]["arena_lower_bound_bytes"] * 1.25


def test_toycar(tmp_path: Path) -> None:
    check_matrix(tmp_path, "toycar")


@pytest.mark.slow
@pytest.mark.parametrize("model", ["aww", "vww", "resnet"])
def test_mlperf_tiny(tmp_path: Path, model: str) -> None:
    check_matrix(tmp_path, model)


@pytest.mark.slow
def test_float_path_is_selectable(tmp_path: Path) -> None:
    """tvmaot.int8=false: TVM's float arithmetic, validated on the top class only."""
    tvm_or_skip()
    mlperf_or_skip("aww")
    proc, runs = run_bench(
        tmp_path, "aww", "tvmaot", "host_x86", "--mlonmcu-config=tvmaot.int8=false"
    )
    rec = runs["aww-tvmaot-host_x86"]
    assert rec["outcome"] == "passed", proc.stdout[-4000:]
    assert rec["metrics"]["validation_passed"] is True
