"""What the RV32 targets (riscv_qemu, etiss) share: ISA variants, trap causes, C++ headers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RiscvArch:
    march: str
    mabi: str
    # Extensions switched off in QEMU's CPU, so code built for a smaller ISA
    # that still contains a missing instruction traps instead of running.
    qemu_cpu: str


# The `<target>.arch` variants (ETISS's RV32IMACFD model covers all of them).
ARCHES: dict[str, RiscvArch] = {
    "rv32gc": RiscvArch("rv32gc", "ilp32d", "rv32"),
    "rv32imafc": RiscvArch("rv32imafc", "ilp32f", "rv32,d=false"),
    "rv32imac": RiscvArch("rv32imac", "ilp32", "rv32,f=false,d=false"),
    # Like the esp32c3 core (no atomics, no FPU).
    "rv32imc": RiscvArch("rv32imc", "ilp32", "rv32,a=false,f=false,d=false"),
    "rv32im": RiscvArch("rv32im", "ilp32", "rv32,a=false,f=false,d=false,c=false"),
}

MCAUSE_NAMES = {
    0: "instruction address misaligned",
    1: "instruction access fault",
    2: "illegal instruction",
    3: "breakpoint",
    4: "load address misaligned",
    5: "load access fault",
    6: "store/AMO address misaligned",
    7: "store/AMO access fault",
    8: "environment call from U-mode",
    11: "environment call from M-mode",
    12: "instruction page fault",
    13: "load page fault",
    15: "store/AMO page fault",
}

# No libstdc++ for riscv64-unknown-elf in Debian: C++ uses the arm-none-eabi libstdc++
# headers (their ARM-specific parts sit behind __ARM_EABI__), without exceptions/RTTI.
CXX_HEADERS = [
    Path("/usr/include/newlib/c++/12.2.1"),
    Path("/usr/include/newlib/c++/12.2.1/arm-none-eabi"),
]


PICOLIBC_INCLUDE = Path("/usr/lib/picolibc/riscv64-unknown-elf/include")


def cxx_header_flags() -> list[str]:
    return ["-nostdinc++", *[a for d in CXX_HEADERS for a in ("-isystem", str(d))]]
