"""riscv_qemu: exact counts, memory metrics, stack peak, outputs, traps and timeouts."""

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

from pytest_mlonmcu.core.errors import CompileError, RunError
from pytest_mlonmcu.core.samples import SampleSet
from pytest_mlonmcu.targets.riscv_qemu import RiscvQemu

ARCHES = ["rv32gc", "rv32imc"]

# Harness instructions inside each measured region (GCC 12.2 -O2; the same code for
# rv32gc and rv32imc), from `riscv64-unknown-elf-objdump -d program.elf`.
# A count is minstret(2nd read) - minstret(1st read), and `csrr minstret` returns the
# instructions retired before it, so a region is [1st csrr minstret, 2nd csrr minstret):
#   rest of mlif_target_counter: csrr minstret, csrr minstreth, bne, ret       4
#   main: save c0 (2 mv), function pointer (lui + addi)                          4
#   jal mlif_measured_call + its tail call `jr a0`                               2
#   (mlif_model_init / mlif_model_invoke)
#   main: mv of the return value, jal mlif_target_counter                        2
#   mlif_target_counter: csrr minstreth                                          1
#                                                                             = 13
# Re-derive these if main.c or target_riscv.c change.
HARNESS_SETUP = 13
HARNESS_INVOKE = 13


@pytest.fixture(scope="module", params=ARCHES)
def target(request: pytest.FixtureRequest, make_target) -> RiscvQemu:
    return make_target(RiscvQemu, arch=request.param, timeout=20)


@pytest.fixture(scope="module")
def stack_memory(target, build):
    program = build(target, "stack_memory.c", SampleSet([[np.array([3, 0, 0, 0], np.uint8)]]))
    return program, run(target, program)


def test_known_count_exact(target, build) -> None:
    program = build(target, "known_count.c", known_count_samples())
    output = run(target, program)
    check_known_counts(output.metrics, "riscv", HARNESS_SETUP, HARNESS_INVOKE)
    assert output.outputs == known_count_outputs()


def test_rom_ram_match_binutils(target, stack_memory) -> None:
    program, _ = stack_memory
    check_memory_metrics("riscv64-unknown-elf-", program, 64 * 1024)


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


def test_illegal_instruction_reports_trap(target, build) -> None:
    program = build(target, "fault.c", SampleSet([[np.zeros(4, np.uint8)]]))
    with pytest.raises(RunError) as info:
        run(target, program)
    check_crash_message(
        str(info.value), "riscv_qemu", "illegal instruction (mcause=0x2)", "(mlif_model_invoke)"
    )


def test_bad_address_reports_trap(make_target, build) -> None:
    target = make_target(RiscvQemu, timeout=5)
    program = build(
        target, "fault.c", SampleSet([[np.zeros(4, np.uint8)]]), {"MLIF_FAULT_ADDRESS": "0"}
    )
    with pytest.raises(RunError) as info:
        run(target, program)
    check_crash_message(
        str(info.value), "riscv_qemu", "load access fault (mcause=0x5)", "mlif_model_invoke"
    )
    assert "mtval=0x0" in str(info.value).splitlines()[0]


def test_endless_loop_times_out(make_target, build) -> None:
    target = make_target(RiscvQemu, timeout=2)
    program = build(target, "hang.c", SampleSet([[np.zeros(4, np.uint8)]]))
    with pytest.raises(RunError, match="timeout") as info:
        run(target, program)
    assert "MLIF setup 0" in str(info.value)
    assert "qemu-system-riscv32" in str(info.value)


def test_memory_config(make_target, build) -> None:
    small = make_target(RiscvQemu, rom_size="128KiB", ram_size="96KiB", stack_size="8KiB")
    program = build(small, "stack_memory.c", SampleSet([[np.zeros(4, np.uint8)]]))
    assert program.metrics["stack_reserved_bytes"] == 8 * 1024
    check_stack_peak(run(small, program))

    tiny = make_target(RiscvQemu, rom_size="4KiB")
    with pytest.raises(CompileError, match="overflow"):
        build(tiny, "stack_memory.c", SampleSet([[np.zeros(4, np.uint8)]]))
