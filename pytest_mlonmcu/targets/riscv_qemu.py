"""riscv_qemu: RV32 bare metal on ``qemu-system-riscv32 -M virt`` with picolibc.

Exact instruction counts come from the program itself: it reads ``minstret``
before and after each measured call, and with ``-icount shift=0`` QEMU retires
exactly one count per instruction. Output and exit go through semihosting.

Config keys (``riscv_qemu.<key>``): ``arch`` (ISA variant, see ``ARCHES``),
``rom_size``/``ram_size``/``stack_size`` (memory of the linker script),
``optimize``, ``timeout``.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..core.artifacts import Program
from ..platforms.mlif.riscv import (
    ARCHES,
    MCAUSE_NAMES,
    PICOLIBC_INCLUDE,
    RiscvArch,
    cxx_header_flags,
)
from ..platforms.mlif.target import HARNESS_DIR
from ..platforms.mlif.toolchain import Toolchain
from .qemu_common import QemuTarget, gcc_finds, size_setting

RISCV_DIR = HARNESS_DIR / "riscv"
VIRT_RAM_BASE = 0x80000000
VIRT_DEFAULT_MEMORY = 128 * 1024 * 1024  # QEMU virt's default -m
VIRT_FDT_ROOM = 16 * 1024 * 1024


class RiscvQemu(QemuTarget):
    name = "riscv_qemu"
    description = (
        "RV32 (default rv32gc) on QEMU virt, picolibc + semihosting; "
        "exact instructions from minstret under -icount shift=0"
    )
    family = "riscv"
    in_program_counter = True
    config_keys = {
        "arch": "rv32gc",
        "rom_size": "2MiB",
        "ram_size": "2MiB",
        "stack_size": "64KiB",
        "optimize": "2",
        "timeout": "120",
    }
    required_tools = {
        "riscv64-unknown-elf-gcc": "gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf",
        "qemu-system-riscv32": "qemu-system-misc",
    }
    crash_kind = "trap"

    # -- configuration ---------------------------------------------------------------
    def arch(self) -> RiscvArch:
        return ARCHES[self.config.get_choice("arch", ARCHES, "rv32gc")]

    def memory(self) -> tuple[int, int, int]:
        """(rom, ram, stack) bytes."""
        rom = size_setting(self, "rom_size", 2 * 1024 * 1024)
        ram = size_setting(self, "ram_size", 2 * 1024 * 1024)
        stack = size_setting(self, "stack_size", 64 * 1024, maximum=ram)
        return rom, ram, stack

    def identity(self) -> dict[str, str]:
        return {"target": self.name, "arch": self.arch().march}

    def unavailable_reason(self) -> str | None:
        reason = super().unavailable_reason()
        if reason is None and not gcc_finds("riscv64-unknown-elf-gcc", "picolibc.specs"):
            return (
                f"target {self.name}: picolibc for riscv64-unknown-elf not found "
                "(install with: apt-get install picolibc-riscv64-unknown-elf)"
            )
        return reason

    # -- build ---------------------------------------------------------------------------
    def toolchain(self) -> Toolchain:
        arch = self.arch()
        return Toolchain(
            prefix="riscv64-unknown-elf-",
            cflags=[
                f"-march={arch.march}",
                f"-mabi={arch.mabi}",
                # ISA spec 2.2 keeps csrr in the base ISA: with the default spec,
                # rv32imac rejects csrr and "_zicsr" picks a 64-bit multilib.
                "-misa-spec=2.2",
                *self.opt_flags(),
                "-ffp-contract=off",
                "-ffunction-sections",
                "-fdata-sections",
                "--specs=picolibc.specs",
            ],
            # crt0=hosted: main's return value becomes the exit status, and the
            # start-up count does not depend on the ELF path (crt0=semihost parses argv).
            cxxflags=[
                "-fno-exceptions",
                "-fno-rtti",
                "-fno-threadsafe-statics",
                *cxx_header_flags(),
                "-isystem",
                str(PICOLIBC_INCLUDE),
            ],
            ldflags=["--oslib=semihost", "--crt0=hosted", "-Wl,--gc-sections"],
            libs=["-lm"],
            cxx_driver="gcc",  # links C++ too: there is no -lstdc++ for riscv
        )

    def support_sources(self) -> list[Path]:
        # cxx_support.cc: operator new/delete etc. for C++ backends (weak, gc'd otherwise).
        return [RISCV_DIR / "target_riscv.c", RISCV_DIR / "cxx_support.cc"]

    def link_flags(self, work_dir: Path) -> list[str]:
        rom, ram, stack = self.memory()
        return [
            f"-T{RISCV_DIR / 'riscv_qemu.ld'}",
            f"-Wl,--defsym=__mlif_rom_size={rom},--defsym=__mlif_ram_size={ram}"
            f",--defsym=__mlif_stack_size={stack}",
        ]

    # -- run -------------------------------------------------------------------------------
    def run_command(self, program: Program, work_dir: Path) -> list[str]:
        rom, ram, _ = self.memory()
        cmd = ["qemu-system-riscv32", "-M", "virt", "-cpu", self.arch().qemu_cpu]
        # QEMU puts the device tree near the top of RAM: keep it clear of the program.
        if rom + ram > VIRT_DEFAULT_MEMORY - VIRT_FDT_ROOM:
            cmd += ["-m", f"{math.ceil((rom + ram + VIRT_FDT_ROOM) / 2**20)}M"]
        return [
            *cmd,
            "-bios",
            "none",
            "-kernel",
            str(program.path),
            "-display",
            "none",
            "-monitor",
            "none",
            "-serial",
            "none",
            "-semihosting-config",
            "enable=on,target=native",
            # One minstret count per instruction (without icount it follows the host clock).
            "-icount",
            "shift=0",
        ]

    def describe_crash(self, name: str, fields: dict[str, int], elf: Path) -> str:
        mcause = fields.get("mcause", -1)
        code = mcause & 0x7FFFFFFF
        kind = (
            "interrupt" if mcause >= 0 and mcause & 0x80000000 else MCAUSE_NAMES.get(code, "trap")
        )
        where = self.where(elf, fields["mepc"]) if "mepc" in fields else "unknown address"
        return (
            f"trap: {kind} (mcause={mcause:#x}) at mepc={where}, mtval={fields.get('mtval', 0):#x}"
        )
