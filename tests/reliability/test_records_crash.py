"""A worker that dies mid-session keeps the runs it finished; the crashed test is a failure.

Fault injection: one test of the matrix kills its own process (``os._exit`` or SIGKILL,
as a segfault or the OOM killer would) after another test passed in the same worker.
"""

from __future__ import annotations

import pytest
from spine.conftest import FAST

RUN_ID = "zoo_toycar-tflmi-host_x86"
# xdist's load scheduling sends three tests round-robin: with -n 1 and with -n 2 the worker
# that runs test_c has finished test_a first (and with -n 2 another worker runs test_b).
CRASH_TESTS = """
import os
import signal


def test_a_passes(mlonmcu_run):
    mlonmcu_run.process()


def test_b_passes(mlonmcu_run):
    mlonmcu_run.process()


def test_c_crashes(mlonmcu_run):
    mlonmcu_run.process(until="build")
    {kill}
"""
KILLS = {
    "os_exit": "os._exit(1)",
    "sigkill": "os.kill(os.getpid(), signal.SIGKILL)",
}


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("kill", sorted(KILLS))
def test_crashed_worker_keeps_finished_runs(pytester, run_plugin, kill, workers):
    pytester.makepyfile(test_crash=CRASH_TESTS.format(kill=KILLS[kill]))
    session = run_plugin(*FAST, "-n", workers, junit=True)
    session.result.assert_outcomes(passed=2, failed=1)
    assert len(session.runs) == 3
    for test in ("test_a_passes", "test_b_passes"):
        passed = session.record(RUN_ID, test)
        assert passed["outcome"] == "passed", passed
        assert passed["metrics"]["validation_passed"] is True
    crashed = session.record(RUN_ID, "test_c_crashes")
    assert crashed["outcome"] == "failed"
    assert "crashed while running" in crashed["reason"], crashed["reason"]
    assert "test_c_crashes" in crashed["reason"]
    assert (crashed["model"], crashed["backend"], crashed["target"]) == (
        "zoo:toycar",
        "tflmi",
        "host_x86",
    )
    # ... and the terminal table and junit agree with the JSON.
    table = session.output.split("mlonmcu results", 1)[1].split("results JSON")[0]
    assert table.count(" passed") == 2 and table.count(" failed") == 1, table
    props = session.junit_properties()
    assert props[f"test_a_passes[{RUN_ID}]"]["validation_passed"] == "True"


def test_crash_during_setup_is_named_from_the_test_id(pytester, run_plugin):
    """Dying before the setup report (no case sent yet): the case comes from the test id."""
    pytester.makeconftest(
        """
import os
import pytest


@pytest.fixture
def dies(mlonmcu_case):
    os._exit(3)
"""
    )
    pytester.makepyfile(
        test_setup_crash="""
def test_ok(mlonmcu_run):
    mlonmcu_run.process(until="load")


def test_zz_dies_in_setup(dies):
    pass
"""
    )
    session = run_plugin(*FAST, "-n", "1")
    session.result.assert_outcomes(passed=1, failed=1)
    assert session.record(RUN_ID, "test_ok")["outcome"] == "passed"
    crashed = session.record(RUN_ID, "test_zz_dies_in_setup")
    assert crashed["outcome"] == "failed" and "crashed" in crashed["reason"]
    # Only the label is known from an id (not the name the user wrote).
    assert (crashed["model"], crashed["backend"], crashed["target"]) == (
        "zoo_toycar",
        "tflmi",
        "host_x86",
    )
