"""etiss: RV32 programs on ETISS (bare_etiss_processor), the simulator of the MLonMCU paper.

Programs are built with riscv64-unknown-elf-gcc and picolibc (C library only: startup, linker
script and I/O are ours, in harness/etiss/). Output goes through ETISS's Logger plugin (bytes
stored at 0x80000000), instruction counts come from the instret CSR (exact), a trap prints
mcause/mepc/mtval and stops, the end of the program is a jump-to-self that ETISS's
``etiss.exit_on_loop`` turns into a simulator exit. ETISS itself is built from pinned source on
first use (pytest_mlonmcu.install.etiss).

Each run's work dir keeps the ini file (``etiss.ini``), ETISS's output (``run.log``) and the
command that reproduces the run (``run_etiss.sh``); ETISS runs with that dir as cwd.
"""

from __future__ import annotations

import logging
import re
import shlex
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from ..core import proc
from ..core.artifacts import Artifact, Program, RunOutput
from ..core.errors import RunError, UsageError
from ..core.protocol import parse_harness_output
from ..install.etiss import EtissInstall, ensure_etiss, etiss_unavailable_reason
from ..platforms.mlif.riscv import ARCHES, CXX_HEADERS, MCAUSE_NAMES, RiscvArch, cxx_header_flags
from ..platforms.mlif.target import HARNESS_DIR, CompiledTarget, run_with_timeout, tail
from ..platforms.mlif.toolchain import Toolchain

if TYPE_CHECKING:
    from ..core.samples import SampleSet

log = logging.getLogger(__name__)

ETISS_DIR = HARNESS_DIR / "etiss"
PICOLIBC_SPECS = Path("/usr/lib/picolibc/riscv64-unknown-elf/picolibc.specs")

# Must match harness/etiss/target_etiss.c; the logger owns addr & mask == addr.
LOGGER_ADDR = 0x80000000
LOGGER_MASK = 0xF0000000

TRAP_LINE = re.compile(
    r"MLIF error trap mcause=0x([0-9a-fA-F]+) mepc=0x([0-9a-fA-F]+) mtval=0x([0-9a-fA-F]+)"
)
# Conversions whose ETISS implementation passes the instruction's rm field to softfloat without
# resolving DYN (7) through frm: DYN then rounds up (towards +inf) instead of frm's mode. GCC
# emits DYN for C casts to float ((float)double, (float)int) and for lrint-style conversions.
# (match, mask) of fcvt.s.d, fcvt.s.w, fcvt.s.wu, fcvt.w.s, fcvt.wu.s, fcvt.w.d, fcvt.wu.d.
RAW_RM_CONVERSIONS = [
    (0x40100053, 0xFFF0007F),
    (0xD0000053, 0xFFF0007F),
    (0xD0100053, 0xFFF0007F),
    (0xC0000053, 0xFFF0007F),
    (0xC0100053, 0xFFF0007F),
    (0xC2000053, 0xFFF0007F),
    (0xC2100053, 0xFFF0007F),
]
RM_MASK = 0x7000
RM_DYN = 0x7000

# ETISS messages that mean the simulator itself failed (not the program).
ETISS_FAILURE = re.compile(
    r"FATALERROR|ERROR|Failed to|could not|not found|Unrecognised option|terminate called|"
    r"Segmentation fault|Aborted|forbidden",
    re.IGNORECASE,
)


class Etiss(CompiledTarget):
    name = "etiss"
    description = "RV32 (rv32gc default) on the ETISS instruction-set simulator; exact instret"
    family = "riscv"
    in_program_counter = True
    config_keys = {
        "arch": "rv32gc",
        "optimize": "2",
        "timeout": "120",
        "rom_start": "0x0",
        "rom_size": "4MiB",
        "ram_start": "0x20000000",
        "ram_size": "4MiB",
        "stack_size": "64KiB",
        "jit": "TCCJIT",
        "fix_rounding": "true",
        "install_dir": "",
        "source": "",
    }
    required_tools = {"riscv64-unknown-elf-gcc": "gcc-riscv64-unknown-elf"}

    # -- availability -------------------------------------------------------------------
    def unavailable_reason(self) -> str | None:
        reason = super().unavailable_reason()
        if reason:
            return reason
        if not PICOLIBC_SPECS.is_file():
            return (
                f"target {self.name}: picolibc is missing "
                "(install with: apt-get install picolibc-riscv64-unknown-elf)"
            )
        return etiss_unavailable_reason(self.config)

    def etiss(self) -> EtissInstall:
        # Installer output goes to the log (shown for failing tests only), not the terminal.
        return ensure_etiss(self.config, progress=log.info)

    # -- compile ------------------------------------------------------------------------
    def arch(self) -> RiscvArch:
        return ARCHES[self.config.get_choice("arch", ARCHES, "rv32gc")]

    def toolchain(self) -> Toolchain:
        arch = self.arch()
        march, mabi = arch.march, arch.mabi
        cxx = ["-std=c++17", "-fno-exceptions", "-fno-rtti", "-fno-threadsafe-statics"]
        cxx += ["-fno-use-cxa-atexit"]
        if all(d.is_dir() for d in CXX_HEADERS):
            cxx += cxx_header_flags()
        return Toolchain(
            prefix="riscv64-unknown-elf-",
            cflags=[
                f"-march={march}",
                f"-mabi={mabi}",
                # ISA spec 2.2 keeps zicsr in the base ISA, so csrr assembles with the
                # 32-bit multilib (with _zicsr GCC 12 picks a 64-bit library).
                "-misa-spec=2.2",
                *self.opt_flags(),
                "-g",
                # No fused multiply-add: same rounding as the host, and ETISS's fmsub/fnmsub
                # bug cannot hit compiled code.
                "-ffp-contract=off",
                "-ffunction-sections",
                "-fdata-sections",
                f"--specs={PICOLIBC_SPECS}",
            ],
            cxxflags=cxx,
            ldflags=["-nostartfiles", "-Wl,--gc-sections"],
            libs=["-lm"],
            cxx_driver="gcc",
        )

    def compile(self, artifact: Artifact, samples: SampleSet, work_dir: Path) -> Program:
        program = super().compile(artifact, samples, work_dir)
        if self.config.get_bool("fix_rounding", True) and self.arch().mabi != "ilp32":
            patched = patch_dynamic_rounding(program.path)
            if patched:
                # compile_commands.sh rebuilds the unpatched ELF: say what differs.
                (work_dir / "etiss_patches.txt").write_text(
                    "program.elf was patched after linking (etiss.fix_rounding=true): rounding "
                    "mode DYN -> RNE in these float conversions (ETISS ignores frm for them):\n"
                    + "".join(f"{addr:#010x}\n" for addr in patched)
                )
        return program

    def support_sources(self) -> list[Path]:
        return [ETISS_DIR / "crt0.S", ETISS_DIR / "target_etiss.c"]

    def memory_map(self) -> dict[str, int]:
        """ROM/RAM origins and sizes, checked against each other and the logger window."""
        mem = {
            "rom_start": self.config.get_int("rom_start", 0) or 0,
            "rom_size": self.config.get_int("rom_size", 4 << 20) or 0,
            "ram_start": self.config.get_int("ram_start", 0x20000000) or 0,
            "ram_size": self.config.get_int("ram_size", 4 << 20) or 0,
            "stack_size": self.config.get_int("stack_size", 64 << 10, minimum=1),
        }
        if mem["rom_size"] <= 0 or mem["ram_size"] <= 0:
            raise UsageError("etiss.rom_size and etiss.ram_size must be positive")
        regions = [
            ("ROM", mem["rom_start"], mem["rom_size"]),
            ("RAM", mem["ram_start"], mem["ram_size"]),
        ]
        (_, s1, l1), (_, s2, l2) = regions
        if s1 < s2 + l2 and s2 < s1 + l1:
            raise UsageError(f"etiss: ROM {s1:#x}+{l1:#x} and RAM {s2:#x}+{l2:#x} overlap")
        for name, start, length in regions:
            end = start + length
            if end > 1 << 32 or (start < LOGGER_ADDR + 0x10000000 and end > LOGGER_ADDR):
                raise UsageError(
                    f"etiss: {name} {start:#x}..{end:#x} must stay below 4 GiB and out of the "
                    f"logger window {LOGGER_ADDR:#x}..{LOGGER_ADDR + 0x10000000:#x}"
                )
        return mem

    def link_flags(self, work_dir: Path) -> list[str]:
        mem = self.memory_map()
        syms = {
            "__etiss_rom_origin": mem["rom_start"],
            "__etiss_rom_size": mem["rom_size"],
            "__etiss_ram_origin": mem["ram_start"],
            "__etiss_ram_size": mem["ram_size"],
            "__etiss_stack_size": mem["stack_size"],
        }
        return [
            f"-T{ETISS_DIR / 'etiss.ld'}",
            *[f"-Wl,--defsym={k}={v:#x}" for k, v in syms.items()],
        ]

    # -- run ----------------------------------------------------------------------------
    def write_ini(self, program: Program, work_dir: Path) -> Path:
        mem = self.memory_map()
        jit = self.config.get("jit", "TCCJIT")
        ini = work_dir / "etiss.ini"
        ini.write_text(
            "; written by pytest-mlonmcu for this run\n"
            "[StringConfigurations]\n"
            f"vp.elf_file={program.path.resolve()}\n"
            f"jit.type={jit}\n"
            "arch.cpu=RV32IMACFD\n"
            "simple_mem_system.memseg_mode_00=RX\n"
            "simple_mem_system.memseg_mode_01=RW\n"
            "\n[BoolConfigurations]\n"
            "etiss.enable_dmi=true\n"
            "etiss.exit_on_loop=true\n"
            "etiss.load_integrated_libraries=true\n"
            # A program segment outside ROM/RAM is an error, not a silently created segment.
            "simple_mem_system.error_on_seg_mismatch=true\n"
            "\n[IntConfigurations]\n"
            "etiss.loglevel=2\n"
            f"simple_mem_system.memseg_origin_00={mem['rom_start']:#x}\n"
            f"simple_mem_system.memseg_length_00={mem['rom_size']:#x}\n"
            f"simple_mem_system.memseg_origin_01={mem['ram_start']:#x}\n"
            f"simple_mem_system.memseg_length_01={mem['ram_size']:#x}\n"
            "\n[Plugin Logger]\n"
            f"plugin.logger.logaddr={LOGGER_ADDR:#x}\n"
            f"plugin.logger.logmask={LOGGER_MASK:#x}\n"
        )
        return ini

    def run_command(self, program: Program, work_dir: Path) -> list[str]:
        install = self.etiss()
        ini = self.write_ini(program, work_dir)
        cmd = [str(install.processor), f"-i{install.base_ini}", f"-i{ini}"]
        script = work_dir / "run_etiss.sh"
        script.write_text(
            f"#!/bin/sh\n# Reproduces this ETISS run.\ncd {shlex.quote(str(work_dir))} && {shlex.join(cmd)}\n"
        )
        script.chmod(0o755)
        return cmd

    def run(self, program: Program, work_dir: Path) -> RunOutput:
        work_dir.mkdir(parents=True, exist_ok=True)
        cmd = self.run_command(program, work_dir)
        log_path = work_dir / "run.log"
        # cwd = the run's own dir: ETISS writes files into its working directory.
        output, seconds = run_with_timeout(
            cmd, work_dir, self.timeout(), log_path, setting=f"{self.name}.timeout"
        )
        self.check_trap(output, program, cmd)
        report = parse_harness_output(output)
        if not report.complete:
            raise RunError(self.simulator_failure(output, cmd))
        self.check_report(report, output, cmd)
        result = self.run_output(report, cmd, log_path, seconds)
        estimated = re.search(r"CPU Cycles \(estimated\):\s*([0-9.eE+]+)", output)
        if estimated:
            result.metrics["etiss_total_instructions"] = int(float(estimated.group(1)))
        return result

    # -- failures -----------------------------------------------------------------------
    def check_trap(self, output: str, program: Program, cmd: list[str]) -> None:
        m = TRAP_LINE.search(output)
        if not m:
            return
        mcause, mepc, mtval = (int(g, 16) for g in m.groups())
        if mcause & 0x80000000:
            what = f"interrupt {mcause & 0x7FFFFFFF}"
        else:
            what = MCAUSE_NAMES.get(mcause, "unknown cause")
        where = describe_address(program.path, mepc)
        raise RunError(
            self.failure(
                f"trap: {what} (mcause={mcause}) at pc {mepc:#010x} in {where}, mtval={mtval:#x}",
                output,
                cmd,
            )
        )

    def simulator_failure(self, output: str, cmd: list[str]) -> str:
        """A run that never printed 'MLIF done': name ETISS's own complaint if there is one."""
        complaints = [ln.strip() for ln in output.splitlines() if ETISS_FAILURE.search(ln)]
        if complaints:
            what = "ETISS failed: " + complaints[0]
        elif "MLIF " not in output:
            what = "ETISS ended before the program printed anything (broken ini, plugin or ELF?)"
        else:
            what = "the program ended without reporting completion"
        return self.failure(what, output, cmd)

    def failure(self, what: str, output: str, cmd: list[str]) -> str:
        # ETISS must run in the run's dir (it writes files there): say so in the reproducer.
        ini = next((Path(a[2:]) for a in reversed(cmd) if a.startswith("-i")), None)
        if ini is None:
            return super().failure(what, output, cmd)
        return (
            f"{self.name}: {what}\n--- output tail ---\n{tail(output)}\n--- reproduce ---\n"
            f"cd {shlex.quote(str(ini.parent))} && {shlex.join(cmd)}"
        )

    def identity(self) -> dict[str, str]:
        return {"target": self.name, "arch": self.arch().march}


def patch_dynamic_rounding(elf: Path) -> list[int]:
    """Rewrite rm=DYN to RNE in the conversions ETISS gets wrong; returns patched addresses.

    Exact while frm stays RNE (its reset value; nothing in the harness changes it): the
    instruction count and size do not change. Instructions are found by decoding each function
    symbol's bytes in order (16-bit compressed or 32-bit), so data is never touched.
    """
    with elf.open("rb") as f:
        ef = ELFFile(f)
        funcs = []
        for sec in ef.iter_sections():
            if isinstance(sec, SymbolTableSection):
                funcs += [
                    (s["st_value"], s["st_size"])
                    for s in sec.iter_symbols()
                    if s["st_info"]["type"] == "STT_FUNC" and s["st_size"] > 0
                ]
        code = [
            (s["sh_addr"], s["sh_offset"], s["sh_size"])
            for s in ef.iter_sections()
            if s["sh_flags"] & 0x4 and s["sh_type"] == "SHT_PROGBITS"  # SHF_EXECINSTR
        ]
    data = bytearray(elf.read_bytes())
    patched = []
    for start, size in sorted(set(funcs)):
        sec = next((c for c in code if c[0] <= start and start + size <= c[0] + c[2]), None)
        if sec is None:
            continue
        pos, end = sec[1] + start - sec[0], sec[1] + start - sec[0] + size
        while pos + 2 <= end:
            if data[pos] & 3 != 3:  # compressed: no conversions there
                pos += 2
                continue
            word = int.from_bytes(data[pos : pos + 4], "little")
            if (word & RM_MASK) == RM_DYN and any((word & m) == v for v, m in RAW_RM_CONVERSIONS):
                data[pos : pos + 4] = (word & ~RM_MASK).to_bytes(4, "little")
                patched.append(sec[0] + pos - sec[1])
            pos += 4
    if patched:
        elf.write_bytes(bytes(data))
    return patched


def describe_address(elf: Path, address: int) -> str:
    """``function (file:line)`` for an address, via addr2line or the ELF symbol table."""
    addr2line = shutil.which("riscv64-unknown-elf-addr2line")
    if addr2line:
        result = proc.run(
            [addr2line, "-f", "-e", str(elf), f"{address:#x}"],
            timeout=proc.limit("query"), what="addr2line",
        )  # fmt: skip
        lines = result.stdout.split("\n")
        if result.returncode == 0 and len(lines) >= 2 and lines[0] not in ("", "??"):
            loc = lines[1].strip()
            return f"{lines[0]} ({loc})" if loc and not loc.startswith("??") else lines[0]
    return symbol_at(elf, address) or "an unknown function"


def symbol_at(elf: Path, address: int) -> str | None:
    with elf.open("rb") as f:
        for sec in ELFFile(f).iter_sections():
            if not isinstance(sec, SymbolTableSection):
                continue
            for sym in sec.iter_symbols():
                start, size = sym["st_value"], sym["st_size"]
                if sym["st_info"]["type"] == "STT_FUNC" and start <= address < start + max(size, 1):
                    return f"{sym.name}+{address - start:#x}"
    return None
