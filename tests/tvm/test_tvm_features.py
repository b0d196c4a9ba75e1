"""Features of the TVM backends: layout_nchw, schedule_none, autotune; and where they apply."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tvm_helpers import mlperf_or_skip, run_bench, tvm_or_skip

from pytest_mlonmcu.backends import BACKENDS, register_builtin_backends
from pytest_mlonmcu.core.errors import UsageError
from pytest_mlonmcu.features import FEATURES, check_features, register_builtin_features
from pytest_mlonmcu.targets.host_x86 import HostX86


@pytest.fixture(autouse=True, scope="module")
def registries() -> None:
    register_builtin_backends()
    register_builtin_features()


@pytest.mark.parametrize("feature", ["layout_nchw", "schedule_none", "autotune"])
def test_tvm_features_apply_to_the_tvm_backends_only(feature: str) -> None:
    assert FEATURES.get(feature)
    check_features((feature,), BACKENDS.get("tvmaotplus"), HostX86)
    with pytest.raises(UsageError, match=f"{feature} is an option of the TVM backends"):
        check_features((feature,), BACKENDS.get("tflmi"), HostX86)


def test_layout_and_schedule_features_stay_exact(tmp_path: Path) -> None:
    tvm_or_skip()
    mlperf_or_skip("toycar")
    runs = {}
    for feature in ("layout_nchw", "schedule_none"):
        proc, got = run_bench(
            tmp_path / feature, "toycar", "tvmaotplus", "host_x86", f"--mlonmcu-feature={feature}"
        )
        assert proc.returncode == 0, proc.stdout[-4000:]
        runs.update(got)
    nchw = runs["toycar-tvmaotplus-host_x86-layout_nchw"]["metrics"]
    unscheduled = runs["toycar-tvmaotplus-host_x86-schedule_none"]["metrics"]
    assert nchw["validation_passed"] and unscheduled["validation_passed"]
    # Without the inline schedule every fused stage needs a full intermediate.
    assert unscheduled["workspace_bytes"] > 0


def test_autotune_picks_the_fastest_candidate_on_the_target(tmp_path: Path) -> None:
    tvm_or_skip()
    mlperf_or_skip("toycar")
    proc, runs = run_bench(
        tmp_path,
        "toycar",
        "tvmaotplus",
        "host_x86",
        "--mlonmcu-feature=autotune",
        "--mlonmcu-config=tvmaotplus.tune_trials=2",
    )
    assert proc.returncode == 0, proc.stdout[-4000:]
    rec = runs["toycar-tvmaotplus-host_x86-autotune"]
    assert rec["metrics"]["validation_passed"] is True
    log_path = next((tmp_path / "out").rglob("tune/tune_log.json"))
    log = json.loads(log_path.read_text())
    assert [c["unroll"] for c in log["candidates"]] == [8, 4]
    best = min(log["candidates"], key=lambda c: c["invoke_instructions"])
    assert log["best"]["unroll"] == best["unroll"] == rec["metrics"]["tvm_tuned_unroll"]
    assert rec["metrics"]["invoke_instructions"] == best["invoke_instructions"]
