"""@pytest.mark.hardware, --mlonmcu-board and --mlonmcu-platform through the plugin (no builds)."""

from __future__ import annotations

PLAIN = """
import pytest


@pytest.mark.hardware("stm32f7")
def test_on_board():
    pass


@pytest.mark.hardware("mps2_an385")
def test_on_emulated_board():
    pass
"""

MATRIX = """
import pytest


@pytest.mark.hardware("stm32f7")
@pytest.mark.mlonmcu(models=["toycar"], backends=["cgen"], targets=["etiss"])
def test_on_board(mlonmcu_run):
    mlonmcu_run.process()
"""


def test_unconfigured_board_skips_emulated_board_runs(pytester, run_session):
    pytester.makepyfile(test_hw=PLAIN)
    session = run_session()
    session.result.assert_outcomes(passed=1, skipped=1)
    session.result.stdout.fnmatch_lines(
        ["SKIPPED * board 'stm32f7' is not configured (use --mlonmcu-board stm32f7=PORT*"]
    )


def test_configured_board_must_be_reachable(pytester, run_session):
    pytester.makepyfile(test_hw=PLAIN)
    session = run_session("--mlonmcu-board", "stm32f7=/dev/ttyACM77")
    session.result.assert_outcomes(passed=1, skipped=1)
    session.result.stdout.fnmatch_lines(
        ["SKIPPED * board 'stm32f7' is configured but not reachable: serial port "
         "'/dev/ttyACM77' does not exist*"]
    )  # fmt: skip
    session = run_session("--mlonmcu-board", "stm32f7=loop://")
    session.result.assert_outcomes(passed=2)


def test_yml_board_mapping_configures_and_defines(pytester, run_session):
    pytester.makefile(".yml", mlonmcu="boards:\n  stm32f7: {port: 'loop://'}\n")
    pytester.makepyfile(test_hw=PLAIN)
    run_session().result.assert_outcomes(passed=2)


def test_matrix_hardware_test_runs_on_its_board(pytester, run_session):
    pytester.makepyfile(test_hw=MATRIX)
    collected = run_session("--collect-only", "-q", "--mlonmcu-board", "stm32f7=loop://")
    collected.result.stdout.fnmatch_lines(["test_hw.py::test_on_board[toycar-cgen-stm32f7]"])
    # Not attached: the matrix stays as it is and the test is skipped naming the board.
    session = run_session()
    session.result.assert_outcomes(skipped=1)
    assert session.runs[0]["reason"].startswith("board 'stm32f7' is not configured")


def test_platform_option(pytester, run_session):
    pytester.makepyfile(test_b="def test_b(mlonmcu_run):\n    pass\n")
    session = run_session("--collect-only", "-q", "--mlonmcu-platform=zephyr",
                          "--mlonmcu-model=toycar", "--mlonmcu-backend=cgen")  # fmt: skip
    session.result.stdout.fnmatch_lines(["test_b.py::test_b[toycar-cgen-mps2_an385]"])
    bad = run_session("--mlonmcu-platform=zephyr", "--mlonmcu-target=riscv_qemu")
    assert bad.result.ret != 0
    bad.result.stderr.fnmatch_lines(["*target riscv_qemu is not a zephyr target*mps2_an385*"])
    listing = run_session("--mlonmcu-list")
    listing.result.stdout.fnmatch_lines(
        ["*stm32f746g_disco*STM32F746G-DISCO*", "*stm32f746g_disco.port*"], consecutive=False
    )


def test_a_run_on_a_board_that_is_not_attached_is_a_skip(pytester, run_session):
    """The Zephyr target raises BoardNotAttached (it imports no pytest); the test is skipped."""
    pytester.makepyfile(
        test_b="""
from pytest_mlonmcu.core.errors import BoardNotAttached


def test_run():
    raise BoardNotAttached("compiled for stm32f7; board stm32f7 is not attached: give ...")
"""
    )
    session = run_session()
    session.result.assert_outcomes(skipped=1)
    session.result.stdout.fnmatch_lines(
        ["SKIPPED * compiled for stm32f7; board stm32f7 is not attached: give ..."]
    )
