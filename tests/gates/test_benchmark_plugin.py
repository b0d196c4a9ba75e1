"""pytest-benchmark on the real suite (benchmarks/test_mlperf_tiny.py): host_x86 + tflmi.

``--benchmark-json``, ``--benchmark-autosave``/``--benchmark-storage``, ``--benchmark-compare``
and ``--benchmark-compare-fail`` behave as pytest-benchmark users know them, and the wall
time that it measures is the ``latency_ms`` metric that budgets gate.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SUITE = Path(__file__).resolve().parents[2] / "benchmarks" / "test_mlperf_tiny.py"
HOST = (
    "--mlonmcu-model=zoo:toycar",
    "--mlonmcu-backend=tflmi",
    "--mlonmcu-target=host_x86",
    "--mlonmcu-config=host_x86.callgrind=false",  # counts are not the point here
)
RUN_ID = "zoo_toycar-tflmi-host_x86"
BENCH_NAME = f"test_benchmark[{RUN_ID}]"


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_mlperf_tiny=SUITE.read_text())
    return pytester


def test_benchmark_json_autosave_compare_and_compare_fail(suite, run_session):
    storage = f"--benchmark-storage=file://{suite.path / 'bench'}"
    first = run_session(
        *HOST, "--benchmark-autosave", storage, "--benchmark-json=b.json",
        "--mlonmcu-budget=latency_ms<=60000",
    )  # fmt: skip
    first.result.assert_outcomes(passed=1)
    (bench,) = json.loads((suite.path / "b.json").read_text())["benchmarks"]
    assert bench["name"] == BENCH_NAME
    assert bench["extra_info"]["mlonmcu_id"] == RUN_ID  # the run's metrics ride along
    assert bench["extra_info"]["arena_bytes"] > 0
    (saved,) = (suite.path / "bench").rglob("0001_*.json")
    # The latency metric is pytest-benchmark's mean, and a budget checked it.
    latency = first.runs[0]["metrics"]["latency_ms"]
    assert latency == pytest.approx(bench["stats"]["mean"] * 1000, rel=1e-3)
    (check,) = first.runs[0]["budgets"]
    assert (check["metric"], check["ok"], check["value"]) == ("latency_ms", True, latency)

    second = run_session(
        *HOST, storage, "--benchmark-compare", "--benchmark-compare-fail=mean:900%"
    )
    assert second.ret == 0, second.output
    # Both rows of the comparison table, in the order of their speed.
    assert f"{BENCH_NAME} (0001_unversi)" in second.output
    assert f"{BENCH_NAME} (NOW)" in second.output

    # A saved run that was (impossibly) fast: the comparison fails the session.
    data = json.loads(saved.read_text())
    for key in ("min", "max", "mean", "median"):
        data["benchmarks"][0]["stats"][key] = 1e-12
    saved.write_text(json.dumps(data))
    third = run_session(
        *HOST, storage, "--benchmark-compare=0001", "--benchmark-compare-fail=mean:5%"
    )
    assert third.ret != 0
    assert "Performance has regressed" in third.output
    assert f"{BENCH_NAME} (0001_unversi) - Field 'mean' has failed" in third.output


def test_latency_budgets_fail_serially_and_are_not_checked_under_xdist(suite, run_session):
    budget = "--mlonmcu-budget=latency_ms<=0.000001"
    serial = run_session(*HOST, budget)
    serial.result.assert_outcomes(failed=1)
    assert serial.runs[0]["reason"].startswith("budget exceeded: latency_ms = ")
    assert "> 1e-06 (+" in serial.runs[0]["reason"]
    # pytest-benchmark switches itself off under xdist: no latency, nothing to check.
    parallel = run_session(*HOST, budget, "-n", "2")
    parallel.result.assert_outcomes(passed=1)
    (check,) = parallel.runs[0]["budgets"]
    assert check["ok"] is None
    assert check["note"] == (
        "not measured: pytest-benchmark is disabled (under xdist or --benchmark-disable)"
    )


def test_latency_rule_is_not_failed_when_pytest_benchmark_is_off(suite, run_session):
    """A vanished gated metric fails, but latency_ms is not measured with benchmarking off."""
    baseline = {"kind": "pytest-mlonmcu-baseline", "version": 1,
                "runs": {RUN_ID: {"metrics": {"latency_ms": 1e9}}}}  # fmt: skip
    (suite.path / "base.json").write_text(json.dumps(baseline))
    rule = ("--mlonmcu-compare=base.json", "--mlonmcu-fail-on=latency_ms:+10%")
    session = run_session(*HOST, *rule, "--benchmark-disable")
    session.result.assert_outcomes(passed=1)
    (latency,) = [d for d in session.runs[0]["comparison"]["deltas"] if d["metric"] == "latency_ms"]
    assert (latency["verdict"], latency["value"], latency["rule"]) == ("missing", None, None)
