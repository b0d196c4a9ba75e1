"""Markers: mlonmcu(...) narrows the matrix, hardware(board) skips, all are registered."""

from __future__ import annotations

import pytest

from .conftest import HOST, NO_CALLGRIND, TFLMI

NARROWED_TESTS = """
import pytest


@pytest.mark.mlonmcu(models=["zoo:toycar"], backends=["tflmi"], targets=["host_x86"])
def test_narrowed(mlonmcu_run):
    mlonmcu_run.process()


def test_whole_matrix(mlonmcu_run):
    mlonmcu_run.process()
"""


def test_marker_narrows_an_explicit_selection(pytester, run_plugin):
    pytester.makepyfile(test_m=NARROWED_TESTS)
    session = run_plugin("--collect-only", "-q", "--mlonmcu-model=zoo:toycar,zoo:aww", TFLMI, HOST)
    assert session.ret == 0, session.output
    assert session.collected("test_narrowed") == ["zoo_toycar-tflmi-host_x86"]
    assert session.collected("test_whole_matrix") == [
        "zoo_toycar-tflmi-host_x86",
        "zoo_aww-tflmi-host_x86",
    ]


def test_marker_replaces_the_default_selection_and_runs(pytester, run_plugin):
    """Without options (the default target may be a simulator) the marker picks its cell."""
    pytester.makepyfile(test_m=NARROWED_TESTS)
    collect = run_plugin("--collect-only", "-q")
    assert collect.ret == 0, collect.output
    assert collect.collected("test_narrowed") == ["zoo_toycar-tflmi-host_x86"]

    session = run_plugin("-k", "test_narrowed", NO_CALLGRIND)
    session.result.assert_outcomes(passed=1)
    assert [r["id"] for r in session.runs] == ["zoo_toycar-tflmi-host_x86"]


def test_default_models_are_mlperf_tiny(pytester, run_plugin):
    pytester.makepyfile(test_m=NARROWED_TESTS)
    session = run_plugin("--collect-only", "-q", TFLMI, HOST)
    assert session.collected("test_whole_matrix") == [
        f"{m}-tflmi-host_x86" for m in ("aww", "vww", "resnet", "toycar")
    ]


def test_marker_takes_comma_strings(pytester, run_plugin):
    pytester.makepyfile(
        test_m="""
        import pytest

        @pytest.mark.mlonmcu(models="m1, m2", backends="tflmi", targets="host_x86")
        def test_bench(mlonmcu_run):
            pass
        """
    )
    session = run_plugin("--collect-only", "-q")
    assert session.collected() == ["m1-tflmi-host_x86", "m2-tflmi-host_x86"]


def test_marker_outside_an_explicit_selection_collects_no_case(pytester, run_plugin):
    pytester.makepyfile(test_m=NARROWED_TESTS)
    session = run_plugin("--collect-only", "-q", "--mlonmcu-model=zoo:aww", TFLMI, HOST)
    assert session.collected("test_narrowed") == ["NOTSET"]  # pytest's empty parameter set
    assert session.collected("test_whole_matrix") == ["zoo_aww-tflmi-host_x86"]


def test_marker_outside_an_explicit_selection_skips_cleanly(pytester, run_plugin):
    pytester.makepyfile(test_m=NARROWED_TESTS)
    session = run_plugin("-k", "test_narrowed", "--mlonmcu-model=zoo:aww", TFLMI, HOST)
    assert "INTERNALERROR" not in session.output
    assert session.ret == 0, session.output
    session.result.assert_outcomes(skipped=1)


HARDWARE_TESTS = """
import pytest


@pytest.mark.hardware("stm32f7")
def test_on_board():
    pass


@pytest.mark.hardware(board="esp32c3")
def test_on_other_board():
    pass
"""


def test_hardware_marker_skips_naming_the_board(pytester, run_plugin):
    pytester.makepyfile(test_hw=HARDWARE_TESTS)
    session = run_plugin()
    session.result.assert_outcomes(skipped=2)
    session.result.stdout.fnmatch_lines(
        [
            "SKIPPED * board 'stm32f7' is not configured (use --mlonmcu-board stm32f7=PORT*",
            "SKIPPED * board 'esp32c3' is not configured*",
        ],
        consecutive=False,
    )


@pytest.mark.parametrize("source", ["cli", "yml"])
def test_hardware_marker_runs_when_the_board_is_configured(pytester, run_plugin, source):
    pytester.makepyfile(test_hw=HARDWARE_TESTS)
    if source == "yml":
        pytester.makefile(".yml", mlonmcu="boards: [stm32f7=loop://]\n")
    args = ["--mlonmcu-board", "stm32f7=loop://"] if source == "cli" else []
    session = run_plugin(*args)
    session.result.assert_outcomes(passed=1, skipped=1)
    session.result.stdout.fnmatch_lines(["*board 'esp32c3' is not configured*configured: stm32f7"])


@pytest.mark.parametrize("marker", ["slow", "hardware('x')", "mlonmcu(models=['m'])"])
def test_markers_are_registered(pytester, run_plugin, marker):
    pytester.makepyfile(
        test_m=f"""
        import pytest

        @pytest.mark.{marker}
        def test_marked():
            pass
        """
    )
    session = run_plugin("--strict-markers", "--collect-only", "-q")
    assert session.ret == 0, session.output
    assert "test_m.py::test_marked" in session.result.stdout.str()


def test_strict_markers_reject_an_unregistered_marker(pytester, run_plugin):
    """The control of test_markers_are_registered: --strict-markers is in force."""
    pytester.makepyfile(
        test_m="""
        import pytest

        @pytest.mark.not_a_marker
        def test_marked():
            pass
        """
    )
    session = run_plugin("--strict-markers", "--collect-only", "-q")
    assert session.ret != 0
    assert "'not_a_marker' not found in `markers` configuration option" in session.output


def test_markers_are_documented(pytester, run_plugin):
    session = run_plugin("--markers")
    session.result.stdout.fnmatch_lines(
        [
            "@pytest.mark.mlonmcu(models=None, backends=None, targets=None, features=None):*",
            "@pytest.mark.hardware(board):*",
            "@pytest.mark.slow:*",
        ],
        consecutive=False,
    )
