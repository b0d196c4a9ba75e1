"""Expected values and checks shared by the target tests (see conftest.py for fixtures)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np

from pytest_mlonmcu.core.artifacts import Program, RunOutput
from pytest_mlonmcu.core.elf import RESERVATION_SECTIONS
from pytest_mlonmcu.core.samples import SampleSet
from pytest_mlonmcu.platforms.mlif.target import CompiledTarget

PROGRAMS = Path(__file__).parent / "programs"

# programs/known_count.c: init loops 1000 times, invoke N times (N = the sample's input).
KNOWN_COUNT_N = (1000, 54321)
# Instructions of the assembly functions themselves (counted in known_count.c).
KC_INIT = {"riscv": 3 + 2 * 1000, "arm": 3 + 2 * 1000, "x86": 3 + 2 * 1000}
KC_INVOKE_FIXED = {"riscv": 6, "arm": 6, "x86": 4}

# programs/stack_memory.c: the deepest function has a 4000-byte local array.
STACK_DEPTH = 4000
# Frames around it (main, the call chain, deep's saved registers): well under this.
STACK_MARGIN = 256


def run(target: CompiledTarget, program: Program) -> RunOutput:
    return target.run(program, program.work_dir)


def known_count_samples() -> SampleSet:
    # Two samples, two invokes each: counts [f(N1), f(N1), f(N2), f(N2)].
    return SampleSet([[np.array([n], dtype=np.uint32)] for n in KNOWN_COUNT_N], invoke_runs=2)


def known_count_outputs() -> list[list[bytes]]:
    return [[np.array([n], dtype=np.uint32).tobytes()] for n in KNOWN_COUNT_N]


def check_known_counts(metrics: dict, family: str, harness_setup: int, harness_invoke: int) -> None:
    """The run's counts equal the exact formula (no tolerance).

    setup  = harness_setup + KC_INIT
    invoke = harness_invoke + KC_INVOKE_FIXED + 2 * N
    """

    def invoke(n: int) -> int:
        return harness_invoke + KC_INVOKE_FIXED[family] + 2 * n

    n1, n2 = KNOWN_COUNT_N
    assert metrics["setup_instructions"] == harness_setup + KC_INIT[family]
    assert metrics["invoke_instructions"] == invoke(n1)  # the first invoke (sample 0)
    assert metrics["invoke_instructions_max"] == invoke(n2)
    # Mean of [f(N1), f(N1), f(N2), f(N2)]: any single run off by one moves it by 0.25.
    assert metrics["invoke_instructions_mean"] == round((invoke(n1) + invoke(n2)) / 2, 1)


def outputs_samples() -> SampleSet:
    rng = np.random.default_rng(7)
    inputs = [
        np.arange(-8, 8, dtype=np.int8),
        np.array([127, -128, 100, -100, 64, -65, 0, 1, -1, 2, 3, 5, 8, 13, 21, 34], np.int8),
        rng.integers(-128, 128, 16, dtype=np.int8),
    ]
    return SampleSet([[x] for x in inputs])


def outputs_expected(samples: SampleSet) -> list[list[bytes]]:
    """What programs/outputs.c computes, in numpy."""
    out = []
    for (x,) in samples.inputs:
        wide = x.astype(np.int32)
        y = np.clip(2 * wide[::-1] + 1, -128, 127).astype(np.int8)
        stats = np.array(
            [np.float32(wide.sum()) / np.float32(16), np.float32(wide.max()) * np.float32(0.5)],
            dtype=np.float32,
        )
        out.append([y.tobytes(), stats.tobytes()])
    return out


_SECTION = re.compile(
    r"^\s*\[\s*\d+\]\s+(\S+)\s+(\S+)\s+[0-9a-f]+\s+[0-9a-f]+\s+[0-9a-f]+\s+[0-9a-f]+\s+(\S*)\s"
)


def _tool(prefix: str, tool: str, *args: str) -> str:
    return subprocess.run(
        [f"{prefix}{tool}", *args], capture_output=True, text=True, check=True
    ).stdout


def sizes_from_binutils(prefix: str, elf: Path) -> tuple[int, int]:
    """(ROM, RAM) of an ELF computed with binutils, independently of metrics/elf.py.

    Sizes from ``size -A``, section flags and types from ``readelf -S``:
    ROM = allocated read-only sections + initialised writable ones (their load image),
    RAM = allocated writable sections except the stack/heap reservations; the
    harness's mlif_sample_* data (``nm -S``) is not part of the deployment.
    """
    sizes = {}
    for line in _tool(prefix, "size", "-A", str(elf)).splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    rom = ram = 0
    for line in _tool(prefix, "readelf", "-S", "-W", str(elf)).splitlines():
        m = _SECTION.match(line)
        if not m:
            continue
        name, kind, flags = m.groups()
        if "A" not in flags or not sizes.get(name):
            continue
        if "W" not in flags:
            rom += sizes[name]
        elif not any(name.startswith(p) for p in RESERVATION_SECTIONS):
            ram += sizes[name]
            if kind != "NOBITS":
                rom += sizes[name]
    for line in _tool(prefix, "nm", "-S", str(elf)).splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3].startswith("mlif_sample_"):
            rom -= int(parts[1], 16)
    return rom, ram


def check_memory_metrics(prefix: str, program: Program, stack_size: int) -> None:
    rom, ram = sizes_from_binutils(prefix, program.path)
    assert program.metrics["rom_bytes"] == rom
    assert program.metrics["ram_bytes"] == ram
    assert program.metrics["stack_reserved_bytes"] == stack_size
    # stack_memory.c alone holds a 3000-byte table and 400 B of data (ROM), 1400 B of RAM.
    assert rom >= 3000 + 400
    assert ram >= 400 + 1000


def check_stack_peak(output: RunOutput) -> None:
    peak = output.metrics["stack_bytes"]
    assert STACK_DEPTH <= peak < STACK_DEPTH + STACK_MARGIN, peak


def check_crash_message(message: str, target: str, what: str, where: str) -> None:
    """A crash RunError: first line names the cause and the function; tail and command follow."""
    first = message.splitlines()[0]
    assert first.startswith(f"{target}: "), message
    assert what in first and where in first, message
    assert "--- output tail ---" in message and "MLIF setup 0" in message
    assert "--- reproduce ---" in message


def cxx_samples() -> SampleSet:
    return SampleSet([[np.arange(-8, 8, dtype=np.int8)], [np.full(16, 50, dtype=np.int8)]])


def cxx_expected(samples: SampleSet) -> list[list[bytes]]:
    """programs/cxx_model.cc: x * 3, wrapping in int8."""
    return [[(x.astype(np.int32) * 3).astype(np.int8).tobytes()] for (x,) in samples.inputs]
