"""Reports: the JSON file (schema, xdist merge, skipped/failed runs), junit XML, summary."""

from __future__ import annotations

from .conftest import BENCH_TEST, FAST, HOST, NO_CALLGRIND, TFLMI, use_data

RECORD_KEYS = {
    "id",
    "model",
    "backend",
    "target",
    "features",
    "outcome",
    "reason",
    "stages",
    "metrics",
}
ALL_STAGES = ["load", "tune", "build", "compile", "run", "postprocess"]

# One passing, one failing (corrupt model) and one skipped (board) run per test function.
MIXED_TESTS = """
import pytest


@pytest.mark.mlonmcu(models=["zoo:toycar", "bad.tflite"])
def test_first(mlonmcu_run):
    mlonmcu_run.process()


@pytest.mark.mlonmcu(models=["zoo:toycar", "bad.tflite"])
def test_second(mlonmcu_run):
    mlonmcu_run.process()


@pytest.mark.hardware("stm32f7")
@pytest.mark.mlonmcu(models=["zoo:toycar"])
def test_on_board(mlonmcu_run):
    mlonmcu_run.process()
"""
WORKER_METRIC = """
import os


def pytest_mlonmcu_add_metrics(run):
    return {"worker": os.environ.get("PYTEST_XDIST_WORKER", "main")}
"""


def test_json_report_schema(pytester, run_plugin):
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin(*FAST)
    assert session.ret == 0, session.output
    assert set(session.report) == {"version", "runs"}
    assert session.report["version"] == 1
    (record,) = session.runs
    assert RECORD_KEYS <= set(record)
    assert record["id"] == "zoo_toycar-tflmi-host_x86"
    assert (record["model"], record["backend"], record["target"]) == (
        "zoo:toycar",
        "tflmi",
        "host_x86",
    )
    assert record["features"] == []
    assert (record["outcome"], record["reason"]) == ("passed", "")
    assert list(record["stages"]) == ALL_STAGES
    for stage in record["stages"].values():
        assert set(stage) == {"seconds"} and isinstance(stage["seconds"], float)
    metrics = record["metrics"]
    assert metrics["macs"] == 264192 and metrics["model_ops"] == 10
    assert metrics["validation_passed"] is True and metrics["validation_mode"] == "exact"
    assert metrics["validation_outputs"] == 2 and metrics["validation_max_abs_diff"] == 0
    assert isinstance(metrics["arena_bytes"], int) and metrics["arena_bytes"] > 0


def test_skipped_and_failed_runs_are_reported(pytester, run_plugin):
    (pytester.path / "bad.tflite").write_bytes(b"definitely not a flatbuffer" * 10)
    pytester.makepyfile(test_m=MIXED_TESTS)
    session = run_plugin(TFLMI, HOST, NO_CALLGRIND)
    session.result.assert_outcomes(passed=2, failed=2, skipped=1)
    assert len(session.runs) == 5

    passed = session.record("zoo_toycar-tflmi-host_x86", "test_first")
    assert (passed["outcome"], passed["reason"]) == ("passed", "")

    failed = session.record("bad-tflmi-host_x86", "test_second")
    assert failed["outcome"] == "failed"
    assert "ModelError" in failed["reason"]
    assert f"{pytester.path / 'bad.tflite'}: not a TFLite flatbuffer" in failed["reason"]
    assert list(failed["stages"]) == ["load"]

    skipped = session.record("zoo_toycar-tflmi-host_x86", "test_on_board")
    assert skipped["outcome"] == "skipped"
    assert skipped["reason"].startswith("board 'stm32f7' is not configured")
    assert skipped["stages"] == {} and skipped["metrics"] == {}


def test_json_report_merges_xdist_workers(pytester, run_plugin):
    (pytester.path / "bad.tflite").write_bytes(b"definitely not a flatbuffer" * 10)
    pytester.makeconftest(WORKER_METRIC)
    pytester.makepyfile(test_m=MIXED_TESTS)
    session = run_plugin(TFLMI, HOST, NO_CALLGRIND, "-p", "xdist", "-n", "2")
    session.result.assert_outcomes(passed=2, failed=2, skipped=1)
    assert "2 workers" in session.output
    nodeids = sorted(r["nodeid"] for r in session.runs)
    assert nodeids == sorted(
        [
            "test_m.py::test_first[zoo_toycar-tflmi-host_x86]",
            "test_m.py::test_first[bad-tflmi-host_x86]",
            "test_m.py::test_second[zoo_toycar-tflmi-host_x86]",
            "test_m.py::test_second[bad-tflmi-host_x86]",
            "test_m.py::test_on_board[zoo_toycar-tflmi-host_x86]",
        ]
    )
    outcomes = sorted(r["outcome"] for r in session.runs)
    assert outcomes == ["failed", "failed", "passed", "passed", "skipped"]
    workers = {r["metrics"]["worker"] for r in session.runs if r["outcome"] == "passed"}
    assert workers <= {"gw0", "gw1"} and "main" not in workers
    # The controller's summary table has every run.
    table = session.result.stdout.str().split("mlonmcu results", 1)[1].split("\n=", 1)[0]
    assert table.count("zoo:toycar") == 3 and table.count("bad.tflite") == 2


def test_junit_xml_carries_metrics_as_properties(pytester, run_plugin):
    """echo_c is compiled for host_x86 and counted by callgrind (fast: a tiny program)."""
    use_data(pytester, "echo_backend.py", "conftest.py")
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin(
        "--mlonmcu-model=zoo:toycar",
        "--mlonmcu-backend=echo_c",
        HOST,
        "--mlonmcu-config=validation.enabled=false",
        junit=True,
    )
    session.result.assert_outcomes(passed=1)
    metrics = session.record("zoo_toycar-echo_c-host_x86")["metrics"]
    props = session.junit_properties()["test_bench[zoo_toycar-echo_c-host_x86]"]
    for key in ("invoke_instructions", "setup_instructions", "rom_bytes", "ram_bytes", "macs"):
        assert key in metrics, metrics
        assert props[key] == str(metrics[key])
    assert int(props["invoke_instructions"]) > 0
    assert props["echo_bytes"] == "640"  # the backend's own metric
    assert {f"{s}_seconds" for s in ALL_STAGES} <= set(props)


def test_junit_xml_has_properties_of_failed_runs(pytester, run_plugin):
    use_data(pytester, "echo_backend.py", "conftest.py")
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin("--mlonmcu-model=zoo:toycar", "--mlonmcu-backend=echo_c", HOST, junit=True)
    session.result.assert_outcomes(failed=1)
    props = session.junit_properties()["test_bench[zoo_toycar-echo_c-host_x86]"]
    assert props["validation_passed"] == "False"
    assert int(props["validation_max_abs_diff"]) > 0


def test_summary_table_columns_follow_verbosity(pytester, run_plugin):
    pytester.makepyfile(test_m=BENCH_TEST)
    normal = run_plugin(*FAST).result.stdout.str().split("mlonmcu results", 1)[1]
    assert "Arena" in normal and "Max Diff" in normal and "Stage Times" not in normal
    assert "exact ok" in normal
    verbose = run_plugin(*FAST, "-v").result.stdout.str().split("mlonmcu results", 1)[1]
    assert "Stage Times [s]" in verbose and "postprocess=" in verbose
    quiet = run_plugin(*FAST, "-q").result.stdout.str().split("mlonmcu results", 1)[1]
    assert "Invoke Instructions" in quiet and "Arena" not in quiet
    silent = run_plugin(*FAST, "-qq").result.stdout.str()
    assert "mlonmcu results" not in silent
