"""Cortex-M bare metal on ``qemu-system-arm``: mps2 boards and an STM32F405 board.

``cortexm_qemu`` picks an Arm MPS2 FPGA board by CPU (``cortexm_qemu.cpu``);
``stm32f4_qemu`` is the netduinoplus2 board (STM32F405: 1 MiB flash, 128 KiB RAM,
memory like a real stm32f4). Both use newlib-nano with semihosting and the startup
code and linker script in ``harness/arm``.

Cortex-M under QEMU has no instruction counter the program could read (the DWT
is not emulated), so a TCG plugin (``harness/qemu_plugin/insn_count.c``) counts
instructions from the first instruction of ``mlif_mark_begin`` to the first of
``mlif_mark_end``, exactly, and writes one line per region; ``collect_counts``
hands them to the report.

Config keys (``<target>.<key>``): ``cpu`` (cortexm_qemu only), ``rom_size``,
``ram_size``, ``stack_size``, ``optimize``, ``timeout``, ``count`` (use the plugin,
default true), ``plugin_include`` (directory of qemu-plugin.h).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..core.artifacts import Program
from ..core.errors import RunError
from ..core.protocol import HarnessReport
from ..platforms.mlif.qemu_plugin import (
    build_insn_count_plugin,
    plugin_args,
    plugin_unavailable_reason,
    read_plugin_output,
)
from ..platforms.mlif.target import HARNESS_DIR
from ..platforms.mlif.toolchain import Toolchain
from .qemu_common import QemuTarget, gcc_finds, size_setting

ARM_DIR = HARNESS_DIR / "arm"
MiB = 1024 * 1024
KiB = 1024
PLUGIN_OUT = "insn_counts.txt"


@dataclass(frozen=True)
class QemuMachine:
    """A board QEMU emulates (``-M``) and its memory map (not a board of ``boards.yml``)."""

    name: str  # QEMU -M
    cpu: str
    cpu_flags: tuple[str, ...]
    flash: int  # where the vector table is (the board boots from there)
    flash_size: int
    ram: int
    ram_size: int
    stack_size: int  # default stack reservation


_MPS2_FLASH, _MPS2_RAM = 0x00000000, 0x20000000  # ZBT SSRAM1 / SSRAM2&3, 4 MiB each

MPS2_MACHINES: dict[str, QemuMachine] = {
    "cortex-m3": QemuMachine(
        "mps2-an385",
        "cortex-m3",
        ("-mcpu=cortex-m3", "-mthumb", "-mfloat-abi=soft"),
        _MPS2_FLASH,
        4 * MiB,
        _MPS2_RAM,
        4 * MiB,
        64 * KiB,
    ),
    "cortex-m4": QemuMachine(
        "mps2-an386",
        "cortex-m4",
        ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"),
        _MPS2_FLASH,
        4 * MiB,
        _MPS2_RAM,
        4 * MiB,
        64 * KiB,
    ),
    "cortex-m7": QemuMachine(
        "mps2-an500",
        "cortex-m7",
        # QEMU's M7 has the double-precision FPv5 unit.
        ("-mcpu=cortex-m7", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-d16"),
        _MPS2_FLASH,
        4 * MiB,
        _MPS2_RAM,
        4 * MiB,
        64 * KiB,
    ),
    "cortex-m33": QemuMachine(
        "mps2-an505",
        "cortex-m33",
        ("-mcpu=cortex-m33", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-sp-d16"),
        # Boots in the secure state: secure aliases of SSRAM1 (code, INITSVTOR)
        # and SSRAM2&3 (data).
        0x10000000,
        4 * MiB,
        0x38000000,
        4 * MiB,
        64 * KiB,
    ),
}

STM32F405 = QemuMachine(
    "netduinoplus2",
    "cortex-m4",
    ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"),
    0x08000000,  # flash, aliased at 0 for the boot vector fetch
    1 * MiB,
    0x20000000,  # SRAM1+SRAM2 (the 64 KiB CCM at 0x10000000 is not used)
    128 * KiB,
    16 * KiB,
)

# Configurable fault status bits (CFSR) and their ARM names.
CFSR_BITS = {
    0: "IACCVIOL (instruction access violation)",
    1: "DACCVIOL (data access violation)",
    3: "MUNSTKERR",
    4: "MSTKERR",
    5: "MLSPERR",
    8: "IBUSERR (instruction bus error)",
    9: "PRECISERR (precise data bus error)",
    10: "IMPRECISERR (imprecise data bus error)",
    11: "UNSTKERR",
    12: "STKERR",
    13: "LSPERR",
    16: "UNDEFINSTR (undefined instruction)",
    17: "INVSTATE (invalid EPSR state, e.g. ARM-mode branch)",
    18: "INVPC (invalid exception return)",
    19: "NOCP (coprocessor disabled or absent)",
    20: "STKOF (stack overflow)",
    24: "UNALIGNED (unaligned access)",
    25: "DIVBYZERO (division by zero)",
}


class CortexMQemu(QemuTarget):
    name = "cortexm_qemu"
    description = (
        "Cortex-M (default M4F; cpu=cortex-m3/m4/m7/m33) on QEMU mps2 boards, newlib-nano + "
        "semihosting; exact instructions via a TCG plugin"
    )
    family = "arm"
    profile_points = True  # feature profile: the plugin reports each bracket edge
    config_keys = {
        "cpu": "cortex-m4",
        "rom_size": "4MiB",
        "ram_size": "4MiB",
        "stack_size": "64KiB",
        "optimize": "2",
        "timeout": "120",
        "count": "true",
        "plugin_include": "",
    }
    required_tools = {
        "arm-none-eabi-gcc": "gcc-arm-none-eabi libnewlib-arm-none-eabi",
        "qemu-system-arm": "qemu-system-arm",
    }
    crash_kind = "fault"
    _last_command: list[str] = []

    # -- configuration ---------------------------------------------------------------
    def machine(self) -> QemuMachine:
        return MPS2_MACHINES[self.config.get_choice("cpu", MPS2_MACHINES, "cortex-m4")]

    def memory(self) -> tuple[int, int, int]:
        """(rom, ram, stack) bytes, within the machine's memories."""
        m = self.machine()
        rom = size_setting(self, "rom_size", m.flash_size, maximum=m.flash_size)
        ram = size_setting(self, "ram_size", m.ram_size, maximum=m.ram_size)
        stack = size_setting(self, "stack_size", m.stack_size, maximum=ram)
        return rom, ram, stack

    def counting(self) -> bool:
        return self.config.get_bool("count", True)

    def identity(self) -> dict[str, str]:
        m = self.machine()
        return {"target": self.name, "cpu": m.cpu, "board": m.name}

    def unavailable_reason(self) -> str | None:
        reason = super().unavailable_reason()
        if reason is None and not gcc_finds("arm-none-eabi-gcc", "rdimon.specs"):
            return (
                f"target {self.name}: newlib for arm-none-eabi not found "
                "(install with: apt-get install libnewlib-arm-none-eabi)"
            )
        if reason is None and self.counting():
            plugin = plugin_unavailable_reason(self.config.get_path("plugin_include"))
            if plugin:
                return f"target {self.name}: {plugin} (or set {self.name}.count=false)"
        return reason

    # -- build ---------------------------------------------------------------------------
    def toolchain(self) -> Toolchain:
        return Toolchain(
            prefix="arm-none-eabi-",
            cflags=[
                *self.machine().cpu_flags,
                *self.opt_flags(),
                "-ffp-contract=off",
                "-ffunction-sections",
                "-fdata-sections",
                "--specs=nano.specs",
            ],
            # Our startup replaces crt0 (vector table, .data copy, FPU enable);
            # librdimon provides the semihosting system calls.
            ldflags=["--specs=rdimon.specs", "-nostartfiles", "-Wl,--gc-sections"],
            libs=["-lm"],
        )

    def support_sources(self) -> list[Path]:
        return [ARM_DIR / "startup_cortexm.c", ARM_DIR / "target_arm.c"]

    def link_flags(self, work_dir: Path) -> list[str]:
        m = self.machine()
        rom, ram, stack = self.memory()
        syms = {
            "__mlif_flash": m.flash,
            "__mlif_flash_size": rom,
            "__mlif_ram": m.ram,
            "__mlif_ram_size": ram,
            "__mlif_stack_size": stack,
        }
        defsyms = ",".join(f"--defsym={k}={v:#x}" for k, v in syms.items())
        return [f"-T{ARM_DIR / 'cortexm.ld'}", f"-Wl,{defsyms}"]

    # -- run -------------------------------------------------------------------------------
    def run_command(self, program: Program, work_dir: Path) -> list[str]:
        cmd = [
            "qemu-system-arm",
            "-M",
            self.machine().name,
            "-kernel",
            str(program.path),
            "-display",
            "none",
            "-monitor",
            "none",
            "-serial",
            "none",
            "-nic",
            "none",
            "-semihosting-config",
            "enable=on,target=native",
        ]
        self._last_command = cmd  # for the error message of collect_counts
        if self.counting():
            out = work_dir / PLUGIN_OUT
            out.unlink(missing_ok=True)
            begin = program.symbols.get("mlif_mark_begin")
            end = program.symbols.get("mlif_mark_end")
            if begin is None or end is None:
                raise RunError(f"{self.name}: {program.path} has no mlif_mark_begin/mlif_mark_end")
            plugin = build_insn_count_plugin(self.cache, self.config.get_path("plugin_include"))
            point = None
            if program.artifact is not None and program.artifact.profiled:  # feature profile
                point = program.symbols.get("mlif_profile_point")
            cmd += plugin_args(plugin, begin, end, out, point)
        return cmd

    def collect_counts(
        self, report: HarnessReport, program: Program, work_dir: Path, proc_output: str
    ) -> None:
        if not self.counting():
            return
        regions, total, points = read_plugin_output(work_dir / PLUGIN_OUT)
        if total is not None:
            report.metrics["total_instructions"] = total
        try:
            report.fill_counts(regions)
            if report.op_counts:
                report.fill_op_counts(points)
        except ValueError as err:
            what = f"instruction counting plugin: {err}"
            raise RunError(self.failure(what, proc_output, self._last_command)) from None

    def describe_crash(self, name: str, fields: dict[str, int], elf: Path) -> str:
        cfsr = fields.get("cfsr", 0)
        causes = [text for bit, text in CFSR_BITS.items() if cfsr & (1 << bit)]
        hfsr = fields.get("hfsr", 0)
        if hfsr & (1 << 1):
            causes.append("VECTTBL (vector table read fault)")
        if cfsr & (1 << 15) and "bfar" in fields:
            causes.append(f"BFAR={fields['bfar']:#x}")
        if cfsr & (1 << 7) and "mmfar" in fields:
            causes.append(f"MMFAR={fields['mmfar']:#x}")
        where = self.where(elf, fields["pc"]) if "pc" in fields else "unknown address"
        detail = "; ".join(causes) or "no fault status bits set"
        return (
            f"{name or 'fault'} at pc={where}: {detail} "
            f"(cfsr={cfsr:#x}, hfsr={hfsr:#x}, lr={fields.get('lr', 0):#x})"
        )


class Stm32f4Qemu(CortexMQemu):
    name = "stm32f4_qemu"
    description = (
        "STM32F405 (Cortex-M4F, 1 MiB flash, 128 KiB RAM) as QEMU's netduinoplus2, newlib-nano + "
        "semihosting; exact instructions via a TCG plugin"
    )
    config_keys = {
        "rom_size": "1MiB",
        "ram_size": "128KiB",
        "stack_size": "16KiB",
        "optimize": "2",
        "timeout": "120",
        "count": "true",
        "plugin_include": "",
    }

    def machine(self) -> QemuMachine:
        return STM32F405
