"""cgen on RV32GC under QEMU: exact outputs, instructions per MAC, ROM and RAM.

Cross-compiles the generated code with host_driver.c (picolibc, semihosting file
I/O) and runs it in qemu-system-riscv32 with -icount shift=0, where minstret
differences around mlif_model_invoke are exact instruction counts.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from cgen_helpers import (
    DRIVER,
    count_macs,
    mlperf_model_path,
    random_inputs,
    sample_inputs,
    split_outputs,
    tflm_run,
    write_inputs,
)

from pytest_mlonmcu.backends.cgen import generate
from pytest_mlonmcu.backends.cgen.model import read_model

CC = "riscv64-unknown-elf-gcc"
SIZE = "riscv64-unknown-elf-size"
QEMU = "qemu-system-riscv32"
CFLAGS = ["-march=rv32gc", "-mabi=ilp32d", "-O2", "-ffp-contract=off"]
LIBC = ["--specs=picolibc.specs", "--oslib=semihost", "--crt0=hosted"]
LINKER_SCRIPT = """__flash = 0x80000000;
__flash_size = 0x00400000;
__ram = 0x80400000;
__ram_size = 0x00400000;
__stack_size = 0x00004000;
INCLUDE picolibc.ld
"""
MAX_INSTRUCTIONS_PER_MAC = 5.0
MAX_INIT_INSTRUCTIONS = 10_000
ROM_ALLOWANCE = 24 * 1024  # code + quantization constants beyond the weights
PEAK_LIVE = {"aww": 16_000, "vww": 55_296, "resnet": 49_152, "toycar": 768}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (shutil.which(CC) and shutil.which(QEMU) and shutil.which(SIZE)),
        reason=f"{CC} / {QEMU} not installed",
    ),
]


def cross_compile(sources: list[Path], include_dirs: list[Path], work: Path) -> Path:
    (work / "link.ld").write_text(LINKER_SCRIPT)
    elf = work / "app.elf"
    cmd = [CC, *CFLAGS, *LIBC, *(f"-I{d}" for d in include_dirs)]
    cmd += [str(s) for s in sources] + [str(DRIVER), "-T", str(work / "link.ld"), "-o", str(elf)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr[-3000:]}"
    return elf


def object_sizes(sources: list[Path], include_dirs: list[Path], work: Path) -> tuple[int, int]:
    """(ROM, RAM) of the generated code alone: text+data, data+bss of its objects."""
    objs = []
    for src in sources:
        obj = work / (src.stem + ".o")
        cmd = [CC, *CFLAGS, "--specs=picolibc.specs", *(f"-I{d}" for d in include_dirs)]
        subprocess.run([*cmd, "-c", str(src), "-o", str(obj)], check=True)
        objs.append(str(obj))
    out = subprocess.run([SIZE, "-t", *objs], capture_output=True, text=True, check=True).stdout
    text, data, bss = (int(v) for v in out.strip().splitlines()[-1].split()[:3])
    return text + data, data + bss


def run_qemu(elf: Path, work: Path) -> str:
    cmd = [QEMU, "-M", "virt", "-bios", "none", "-kernel", str(elf), "-display", "none"]
    cmd += ["-monitor", "none", "-serial", "none", "-semihosting-config"]
    cmd += ["enable=on,target=native", "-icount", "shift=0"]
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"qemu exit {proc.returncode}: {proc.stdout}{proc.stderr}"
    return proc.stdout + proc.stderr  # semihosting console output arrives on stderr


@pytest.mark.parametrize("name", ["aww", "vww", "resnet", "toycar"])
def test_rv32gc_exact_and_fast(name, tmp_path, record_property):
    path = mlperf_model_path(name)
    if not path.exists():
        pytest.skip(f"{path} not found")
    model = path.read_bytes()
    cg = generate(model, tmp_path / "gen")
    elf = cross_compile(cg.sources, cg.include_dirs, tmp_path)

    sets = random_inputs(model, 2, seed=5) + sample_inputs(name, model)[:1]
    write_inputs(tmp_path / "cgen_inputs.bin", sets)
    stdout = run_qemu(elf, tmp_path)
    want = tflm_run(model, sets)
    got = split_outputs((tmp_path / "cgen_outputs.bin").read_bytes(), want[0], len(sets))
    for g, w in zip(got, want, strict=True):
        assert all(np.array_equal(a, b) for a, b in zip(g, w, strict=True))

    counts = dict(re.findall(r"(\w+) (\d+)", stdout))
    invoke = int(counts["invoke_instructions_max"])
    macs = count_macs(model)
    rom, ram = object_sizes(cg.sources, cg.include_dirs, tmp_path)
    const_bytes = sum(t.nbytes for t in read_model(model).tensors if t.is_const)
    for key, value in {
        "invoke_instructions": invoke,
        "instructions_per_mac": round(invoke / macs, 3),
        "init_instructions": int(counts["init_instructions"]),
        "rom_bytes": rom,
        "model_const_bytes": const_bytes,
        "ram_bytes": ram,
        "arena_bytes": cg.arena_bytes,
        "arena_lower_bound": cg.arena_lower_bound,
    }.items():
        record_property(key, value)
    print(
        f"{name}: {invoke} instructions, {invoke / macs:.3f}/MAC, ROM {rom} B "
        f"(model constants {const_bytes} B), RAM {ram} B, arena {cg.arena_bytes} B "
        f"(bound {cg.arena_lower_bound} B)"
    )
    assert invoke / macs <= MAX_INSTRUCTIONS_PER_MAC
    assert int(counts["init_instructions"]) <= MAX_INIT_INSTRUCTIONS
    assert rom <= const_bytes + ROM_ALLOWANCE
    assert ram <= 1.25 * PEAK_LIVE[name]
