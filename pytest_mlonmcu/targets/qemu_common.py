"""What the QEMU system-emulation targets share: memory sizes, crash reports.

A guest that traps (RISC-V) or faults (Cortex-M) prints one ``MLIF error trap ...``
or ``MLIF error fault ...`` line and exits non-zero. ``QemuTarget`` turns that into
a RunError whose first line says what happened and where (the function at the
faulting address, from the ELF symbol table), followed by the usual output tail
and the command line to reproduce.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..core import proc
from ..core.artifacts import Program, RunOutput
from ..core.elf import symbols
from ..core.errors import RunError, UsageError
from ..platforms.mlif.target import CompiledTarget

_HEX_FIELD = re.compile(r"(\w+)=(0x[0-9a-fA-F]+)")


def symbol_at(elf: Path, address: int) -> str | None:
    """``function+0xoff`` for a code address (Thumb bit ignored), or None."""
    best: tuple[int, str] | None = None
    for sym in symbols(elf):
        if sym.kind != "STT_FUNC" or not sym.name:
            continue
        if sym.address <= address < sym.address + max(sym.size, 1):
            if best is None or sym.address > best[0]:
                best = (sym.address, sym.name)
    if best is None:
        return None
    offset = address - best[0]
    return f"{best[1]}+{offset:#x}" if offset else best[1]


def parse_crash_line(output: str, kind: str) -> tuple[str, dict[str, int]] | None:
    """The last ``MLIF error <kind> [NAME] key=0x.. ...`` line as (NAME or "", fields)."""
    found = None
    for line in output.splitlines():
        pos = line.find(f"MLIF error {kind} ")
        if pos >= 0:
            found = line[pos:]
    if found is None:
        return None
    words = found.split()
    name = words[3] if len(words) > 3 and "=" not in words[3] else ""
    return name, {k: int(v, 16) for k, v in _HEX_FIELD.findall(found)}


def size_setting(target: CompiledTarget, key: str, default: int, maximum: int | None = None) -> int:
    """A byte size from the target's configuration (``"512k"``, ``"0x80000"``...), checked."""
    value = target.config.get_int(key, default)
    assert value is not None
    if value <= 0 or value % 4:
        raise UsageError(f"{target.name}.{key}={value}: expected a positive multiple of 4 bytes")
    if maximum is not None and value > maximum:
        raise UsageError(
            f"{target.name}.{key}={value}: the simulated memory has only {maximum} bytes"
        )
    return value


def gcc_finds(gcc: str, name: str) -> bool:
    """Whether ``gcc`` finds a file of its installation (specs, crt objects)."""
    try:
        out = proc.run([gcc, f"-print-file-name={name}"], timeout=proc.limit("query"), what="gcc")
    except (OSError, proc.ChildTimeout):
        return False
    return out.returncode == 0 and out.stdout.strip() != name


class QemuTarget(CompiledTarget):
    """A CompiledTarget run by qemu-system-*; explains traps and faults by symbol."""

    # "trap" (RISC-V) or "fault" (Cortex-M): the word after "MLIF error".
    crash_kind = ""

    def describe_crash(self, name: str, fields: dict[str, int], elf: Path) -> str:
        """One line: what the trap/fault was and the function it happened in."""
        raise NotImplementedError

    def where(self, elf: Path, address: int) -> str:
        name = symbol_at(elf, address)
        return f"{address:#x} ({name})" if name else f"{address:#x}"

    def run_and_parse(self, cmd: list[str], program: Program, work_dir: Path) -> RunOutput:
        try:
            return super().run_and_parse(cmd, program, work_dir)
        except RunError as err:
            log = work_dir / "run.log"
            output = log.read_text(errors="replace") if log.exists() else ""
            crash = parse_crash_line(output, self.crash_kind)
            if crash is None:
                raise
            what = self.describe_crash(*crash, program.path)
            raise RunError(f"{self.name}: {what}\n{err}") from None
