"""Zephyr builds run on emulated boards, read over serial like a physical board.

The default suite builds and runs toycar (cgen) on mps2_an385 once through the plugin; the
slow tests cover the other emulated boards, the pty console, hardware markers pointed at an
emulated board, the port lock across xdist workers and compile-only runs for real boards.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from board_helpers import BuiltProgram, make_target, model_args, zephyr_skip_reason

from pytest_mlonmcu.boards.boardset import shipped_boards

ZEPHYR = ["--mlonmcu-platform=zephyr", "--mlonmcu-backend=cgen"]
BENCH = """
def test_bench(mlonmcu_run):
    mlonmcu_run.process()
"""


@pytest.fixture(autouse=True)
def _needs_zephyr(request: pytest.FixtureRequest) -> None:
    reason = zephyr_skip_reason()
    if reason:
        pytest.skip(reason)


def _run_dir(out: Path, run_id: str) -> Path:
    # the run folder; hidden files beside it are the plugin's claim lock
    (found,) = [p for p in (out / run_id).iterdir() if not p.name.startswith(".")]
    return found


def test_toycar_cgen_on_mps2_an385(pytester, run_session):
    """The whole flow: Zephyr app + west build, QEMU with its console on TCP, read by pyserial."""
    pytester.makepyfile(test_bench=BENCH)
    session = run_session(*ZEPHYR, *model_args())  # the platform's default target: mps2_an385
    (record,) = session.runs
    assert record["outcome"] == "passed", session.output
    assert record["target"] == "mps2_an385"
    m = record["metrics"]
    assert m["validation_passed"] is True and m["validation_max_abs_diff"] == 0
    # Exact instruction counts from the TCG plugin (QEMU has no DWT); same code as cortexm_qemu.
    assert m["count_method"].startswith("qemu-plugin: exact instructions")
    assert m["stack_bytes"] > 0
    # The README's claim: toycar counts exactly as on cortexm_qemu with cpu=cortex-m3 (an385).
    bare = run_session(
        "--mlonmcu-backend=cgen", "--mlonmcu-target=cortexm_qemu",
        "--mlonmcu-config=cortexm_qemu.cpu=cortex-m3", *model_args(),
    ).runs[0]["metrics"]  # fmt: skip
    for key in ("setup_instructions", "invoke_instructions"):
        assert m[key] == bare[key] > 0, key
    assert m["board"] == "mps2_an385" and m["zephyr_libc"] == "minimal"
    assert 270_000 < m["rom_bytes"] < m["zephyr_flash_used_bytes"]
    assert m["stack_reserved_bytes"] >= 16 * 1024  # main stack (16 KiB) + kernel stacks
    run = _run_dir(session.out, "toycar-cgen-mps2_an385")
    app = run / "compile" / "app"
    for name in ("CMakeLists.txt", "prj.conf", "mlonmcu_inputs.cmake", "src/mlif_zephyr.c"):
        assert (app / name).is_file(), name
    script = (run / "compile" / "compile_commands.sh").read_text()
    assert "ZEPHYR_TOOLCHAIN_VARIANT=cross-compile" in script and "-b mps2/an385" in script
    serial = (run / "run" / "serial.log").read_text()
    assert serial.startswith("*** Booting Zephyr OS") and "MLIF done 0" in serial
    assert "-serial tcp:127.0.0.1:" in (run / "run" / "flash_command.sh").read_text()
    board = json.loads((run / "run" / "board.json").read_text())
    assert board["flash"] == "qemu" and board["port"].startswith("socket://127.0.0.1:")


def test_boards_that_cannot_build_here_are_skipped_with_the_reason():
    esp = make_target("esp32c3").unavailable_reason()
    assert esp is not None and "hal_espressif" in esp and "esp32c3_devkitm" in esp
    f4 = make_target("nucleo_f446re").unavailable_reason()
    assert f4 is not None and "hal_stm32/stm32cube/stm32f4xx" in f4
    assert make_target("stm32f746g_disco").unavailable_reason() is None


@pytest.mark.slow
def test_one_program_many_ways(mps2_toycar: BuiltProgram, tmp_path: Path):
    """pty console, fixed TCP port, no counting: the same outputs; counts are deterministic."""
    program = mps2_toycar.program
    assert mps2_toycar.metrics["count_method"].startswith("qemu-plugin")
    pty = make_target("mps2_an385", qemu_serial="pty").run(program, tmp_path / "pty")
    assert pty.outputs == mps2_toycar.outputs
    assert pty.metrics["invoke_instructions"] == mps2_toycar.metrics["invoke_instructions"]
    assert "-serial pty" in (tmp_path / "pty" / "flash_command.sh").read_text()
    from pytest_mlonmcu.devices.qemu import free_tcp_port

    url = f"socket://127.0.0.1:{free_tcp_port()}"
    fixed = make_target("mps2_an385", port=url, count="none").run(program, tmp_path / "fixed")
    assert fixed.outputs == mps2_toycar.outputs
    assert "invoke_instructions" not in fixed.metrics
    assert fixed.metrics["count_method"] == "none (no counter on this board)"
    lock = json.loads((tmp_path / "fixed" / "board.json").read_text())["lock"]
    assert lock["key"] == url and lock["released"] >= lock["acquired"]


@pytest.mark.slow
def test_hardware_marker_on_an_emulated_stand_in_never_overlaps(pytester, run_session):
    """stm32f7 mapped to a QEMU-backed board on one fixed port: two xdist workers take turns."""
    from pytest_mlonmcu.devices.qemu import free_tcp_port

    port = free_tcp_port()
    pytester.makefile(
        ".yml",
        mlonmcu=f"boards:\n  stm32f7: {{base: mps2_an385, port: 'socket://127.0.0.1:{port}'}}\n",
    )
    pytester.makepyfile(
        test_hw="""
import pytest


@pytest.mark.hardware("stm32f7")
def test_first(mlonmcu_run):
    mlonmcu_run.process()


@pytest.mark.hardware("stm32f7")
def test_second(mlonmcu_run):
    mlonmcu_run.process()
"""
    )
    session = run_session("-p", "xdist", "-n", "2", "--mlonmcu-backend=cgen", *model_args())
    assert [r["outcome"] for r in session.runs] == ["passed", "passed"], session.output
    assert {r["target"] for r in session.runs} == {"stm32f7"}  # the board is the target
    locks = []
    for run in (session.out / "toycar-cgen-stm32f7").glob("[!.]*"):
        info = json.loads((run / "run" / "board.json").read_text())
        assert info["port"] == f"socket://127.0.0.1:{port}"
        locks.append(info["lock"])
    assert {lock["worker"] for lock in locks} == {"gw0", "gw1"}
    (a, b) = sorted((lock["acquired"], lock["released"]) for lock in locks)
    assert b[0] >= a[1], f"lock holds overlap: {locks}"


@pytest.mark.slow
def test_real_board_compiles_and_skips_its_run(pytester, run_session):
    pytester.makepyfile(test_bench=BENCH)
    session = run_session(*ZEPHYR, "--mlonmcu-target=stm32f746g_disco", *model_args())
    (record,) = session.runs
    assert record["outcome"] == "skipped"
    assert "board stm32f7 is not attached: give --mlonmcu-board stm32f7=PORT" in record["reason"]
    assert record["metrics"]["rom_bytes"] > 270_000  # compiled before the run was skipped
    session = run_session(
        *ZEPHYR, "--mlonmcu-target=stm32f746g_disco", "--mlonmcu-until=compile", *model_args()
    )
    (record,) = session.runs
    assert record["outcome"] == "passed"
    assert record["metrics"]["zephyr_flash_size_bytes"] == 1024 * 1024


@pytest.mark.slow
def test_a_model_that_does_not_fit_names_region_and_overflow(pytester, run_session):
    pytester.makepyfile(test_bench=BENCH)
    session = run_session(*ZEPHYR, "--mlonmcu-target=qemu_cortex_m3", *model_args())
    (record,) = session.runs
    assert record["outcome"] == "failed"
    assert "the program does not fit: region FLASH overflowed by" in record["reason"]
    assert "(region size 262,144 bytes)" in record["reason"]


@pytest.mark.slow
def test_qemu_riscv32_counts_with_minstret_under_icount(pytester, run_session):
    pytester.makepyfile(test_bench=BENCH)
    session = run_session(*ZEPHYR, "--mlonmcu-target=qemu_riscv32", *model_args())
    (record,) = session.runs
    assert record["outcome"] == "passed", session.output
    m = record["metrics"]
    assert m["count_method"] == "minstret under qemu -icount shift=0: exact instructions"
    assert m["invoke_instructions"] > 500_000


@pytest.mark.slow
def test_cmake_build_without_west(pytester, run_session):
    pytester.makepyfile(test_bench=BENCH)
    session = run_session(
        *ZEPHYR, "--mlonmcu-config=mps2_an385.build=cmake", "--mlonmcu-until=compile", *model_args()
    )
    (record,) = session.runs
    assert record["outcome"] == "passed", session.output
    assert record["metrics"]["zephyr_build_tool"] == "cmake"
    run = _run_dir(session.out, "toycar-cgen-mps2_an385")
    assert "cmake -GNinja" in (run / "compile" / "compile_commands.sh").read_text()


def test_unknown_yml_board_base_is_a_usage_error():
    with pytest.raises(Exception, match="base 'nope' is not a known board"):
        shipped_boards().with_entries({"x": {"base": "nope"}})


@pytest.mark.slow
def test_recipe_a_board_defined_in_mlonmcu_yml_counts_as_its_base(pytester, run_session):
    """docs/architecture.md, "Add a board": a board is data; one defined in mlonmcu.yml is a
    target of its own name, built and run like the board it is based on, to the instruction."""
    pytester.makefile(".yml", mlonmcu="boards:\n  lab_m3: {base: mps2_an385}\n")
    pytester.makepyfile(test_bench=BENCH)
    session = run_session(*ZEPHYR, *model_args(), "--mlonmcu-target=lab_m3,mps2_an385")
    runs = {r["target"]: r for r in session.runs}
    assert sorted(runs) == ["lab_m3", "mps2_an385"], session.output
    lab, base = runs["lab_m3"]["metrics"], runs["mps2_an385"]["metrics"]
    assert runs["lab_m3"]["outcome"] == "passed", session.output
    assert lab["board"] == "lab_m3" and lab["validation_passed"] is True
    for key in ("setup_instructions", "invoke_instructions", "rom_bytes"):
        assert lab[key] == base[key], key
