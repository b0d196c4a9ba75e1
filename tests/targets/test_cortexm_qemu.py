"""cortexm_qemu (M3/M4/M7/M33 mps2 boards) and stm32f4_qemu: exact plugin counts,
memory metrics, stack peak, outputs, faults and timeouts."""

from __future__ import annotations

import numpy as np
import pytest
from target_helpers import (
    check_crash_message,
    check_known_counts,
    check_memory_metrics,
    check_stack_peak,
    cxx_expected,
    cxx_samples,
    known_count_outputs,
    known_count_samples,
    outputs_expected,
    outputs_samples,
    run,
)

from pytest_mlonmcu.core.config import RunConfig
from pytest_mlonmcu.core.errors import CompileError, RunError
from pytest_mlonmcu.core.samples import SampleSet
from pytest_mlonmcu.platforms.mlif import qemu_plugin
from pytest_mlonmcu.platforms.mlif.qemu_plugin import plugin_args, read_plugin_counts
from pytest_mlonmcu.targets.cortexm_qemu import CortexMQemu, Stm32f4Qemu

# variant id -> (class, settings, default stack reservation)
VARIANTS = {
    "m3": (CortexMQemu, {"cpu": "cortex-m3"}, 64 * 1024),
    "m4": (CortexMQemu, {"cpu": "cortex-m4"}, 64 * 1024),
    "m7": (CortexMQemu, {"cpu": "cortex-m7"}, 64 * 1024),
    "m33": (CortexMQemu, {"cpu": "cortex-m33"}, 64 * 1024),
    "stm32f4": (Stm32f4Qemu, {}, 16 * 1024),
}

# Harness instructions inside each measured region (GCC 12.2 -O2), from
# `arm-none-eabi-objdump -d program.elf`. The plugin counts from the first
# instruction of mlif_mark_begin (included) to the first of mlif_mark_end (excluded):
#   mlif_mark_begin: ldr, movs, str, bx                                      4
#   bl mlif_target_counter + its body (movs, movs, bx)                       4
#   main: save c0, load the function pointer                                 3
#   bl mlif_measured_call + its tail call `bx r0`                             2
#   (mlif_model_init / mlif_model_invoke)
#   main: mov of the return value                                            1
#   bl mlif_target_counter + body                                            4
#   main: setup region: save c1 (2), pointer for put_str (1)                 3
#         invoke region: strd of c1 (1) [+1 on M3/M7/M33, where GCC schedules
#         one unrelated register move of the loop before the call]         1 [2]
#   bl mlif_mark_end                                                         1
# setup: 4+4+3+2+1+4+3+1 = 22; invoke: 4+4+3+2+1+4+1+1 = 20 (M4), 21 (M3/M7/M33).
# Re-derive these if main.c or target_arm.c change.
HARNESS_SETUP = 22
HARNESS_INVOKE = {"m3": 21, "m4": 20, "m7": 21, "m33": 21, "stm32f4": 20}


@pytest.fixture(scope="module", params=list(VARIANTS))
def variant(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def target(variant, make_target):
    cls, settings, _ = VARIANTS[variant]
    return make_target(cls, timeout=20, **settings)


@pytest.fixture(scope="module")
def stack_memory(target, build):
    program = build(target, "stack_memory.c", SampleSet([[np.array([3, 0, 0, 0], np.uint8)]]))
    return program, run(target, program)


def test_known_count_exact(variant, target, build) -> None:
    program = build(target, "known_count.c", known_count_samples())
    output = run(target, program)
    check_known_counts(output.metrics, "arm", HARNESS_SETUP, HARNESS_INVOKE[variant])
    assert output.outputs == known_count_outputs()
    # The plugin also counted the whole run (start-up, stack painting, printing).
    assert output.metrics["total_instructions"] > sum(
        [output.metrics["setup_instructions"], 2 * output.metrics["invoke_instructions_max"]]
    )


def test_rom_ram_match_binutils(variant, stack_memory) -> None:
    program, _ = stack_memory
    check_memory_metrics("arm-none-eabi-", program, VARIANTS[variant][2])


def test_stack_peak(stack_memory) -> None:
    check_stack_peak(stack_memory[1])


def test_outputs(target, build) -> None:
    samples = outputs_samples()
    output = run(target, build(target, "outputs.c", samples))
    assert output.outputs == outputs_expected(samples)


def test_cxx_backend(target, build) -> None:
    # Static constructor, operator new and virtual calls work in the start-up and runtime.
    samples = cxx_samples()
    output = run(target, build(target, "cxx_model.cc", samples))
    assert output.outputs == cxx_expected(samples)


def test_undefined_instruction_reports_hardfault(target, build) -> None:
    program = build(target, "fault.c", SampleSet([[np.zeros(4, np.uint8)]]))
    with pytest.raises(RunError) as info:
        run(target, program)
    check_crash_message(str(info.value), target.name, "HardFault", "(mlif_model_invoke)")
    assert "UNDEFINSTR" in str(info.value).splitlines()[0]


@pytest.mark.parametrize("cls", [CortexMQemu, Stm32f4Qemu])
def test_bad_address_reports_busfault(cls, make_target, build) -> None:
    target = make_target(cls, timeout=5)
    defines = {"MLIF_FAULT_ADDRESS": "0xF0000000"}  # nothing is mapped there
    program = build(target, "fault.c", SampleSet([[np.zeros(4, np.uint8)]]), defines)
    with pytest.raises(RunError) as info:
        run(target, program)
    check_crash_message(str(info.value), cls.name, "HardFault", "mlif_model_invoke")
    assert "PRECISERR" in str(info.value) and "BFAR=0xf0000000" in str(info.value)


def test_endless_loop_times_out(make_target, build) -> None:
    target = make_target(CortexMQemu, timeout=2)
    program = build(target, "hang.c", SampleSet([[np.zeros(4, np.uint8)]]))
    with pytest.raises(RunError, match="timeout") as info:
        run(target, program)
    assert "MLIF setup 0" in str(info.value)
    assert "qemu-system-arm -M mps2-an386" in str(info.value)


def test_stm32f4_memory_is_the_chips(make_target, build) -> None:
    # 1 MiB flash at 0x08000000 and 128 KiB RAM at 0x20000000, like an STM32F405.
    target = make_target(Stm32f4Qemu)
    program = build(target, "stack_memory.c", SampleSet([[np.zeros(4, np.uint8)]]))
    assert program.symbols["main"] & 0xFFF00000 == 0x08000000
    too_big = make_target(Stm32f4Qemu, ram_size="128KiB", stack_size="127KiB")
    with pytest.raises(CompileError, match="overflow|RAM"):
        build(too_big, "stack_memory.c", SampleSet([[np.zeros(4, np.uint8)]]))


def test_without_plugin_counts_are_absent(make_target, build) -> None:
    target = make_target(CortexMQemu, count="false")
    output = run(target, build(target, "known_count.c", known_count_samples()))
    assert "invoke_instructions" not in output.metrics
    assert output.outputs == known_count_outputs()


def test_plugin_arguments_escape_commas(tmp_path) -> None:
    args = plugin_args(tmp_path / "a,b.so", 0x10, 0x20, tmp_path / "out,1.txt")
    assert args[0] == "-plugin"
    assert "a,,b.so,begin=0x10,end=0x20,out=" in args[1] and args[1].endswith("out,,1.txt")
    (tmp_path / "counts.txt").write_text("region 5\nregion 7\ntotal 99\n")
    assert read_plugin_counts(tmp_path / "counts.txt") == ([5, 7], 99)


def test_missing_plugin_header_makes_target_unavailable(
    monkeypatch, tmp_path, target_cache
) -> None:
    monkeypatch.delenv(qemu_plugin.INCLUDE_ENV, raising=False)
    monkeypatch.setattr(qemu_plugin, "header_candidates", lambda configured=None: [tmp_path])
    target = CortexMQemu(RunConfig().scoped("cortexm_qemu"), target_cache)
    reason = target.unavailable_reason()
    if reason and "qemu-plugin.h" not in reason:
        pytest.skip(reason)  # the toolchain or QEMU is missing here anyway
    assert reason is not None
    assert "apt-get source qemu" in reason and "MLONMCU_QEMU_PLUGIN_INCLUDE" in reason
    # Without counting the plugin is not needed.
    no_count = CortexMQemu(
        RunConfig({"cortexm_qemu.count": "false"}).scoped("cortexm_qemu"), target_cache
    )
    assert no_count.unavailable_reason() is None


def test_plugin_header_from_config_key(tmp_path) -> None:
    (tmp_path / "qemu-plugin.h").write_text("/* stand-in */\n")
    assert qemu_plugin.find_plugin_header(tmp_path) == tmp_path
    assert qemu_plugin.find_plugin_header(tmp_path / "qemu-plugin.h") == tmp_path
