"""ROM and RAM of an ELF, classified by section flags (not names).

ROM = allocated read-only sections + the load image of writable PROGBITS (.data);
RAM = writable allocated sections (.data + .bss) without the stack and heap
reservations, which are reported separately. Sample data the harness embeds
(symbols ``mlif_sample_*``) is not part of the deployment and is left out of ROM.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

# Sections that only reserve memory for the stack or the heap (linker scripts name them so).
RESERVATION_SECTIONS = {".stack": "stack_reserved_bytes", ".heap": "heap_reserved_bytes"}
EXCLUDED_SYMBOL_PREFIX = "mlif_sample_"


@dataclass
class ElfSizes:
    rom_bytes: int
    ram_bytes: int
    excluded_rom_bytes: int = 0
    reservations: dict[str, int] = field(default_factory=dict)
    sections: dict[str, dict] = field(default_factory=dict)

    def as_metrics(self) -> dict[str, int]:
        out = {"rom_bytes": self.rom_bytes, "ram_bytes": self.ram_bytes}
        out.update(self.reservations)
        if self.excluded_rom_bytes:
            out["rom_sample_data_bytes"] = self.excluded_rom_bytes
        return out


def elf_sizes(path: Path) -> ElfSizes:
    rom = ram = 0
    reservations: dict[str, int] = {}
    sections: dict[str, dict] = {}
    with path.open("rb") as f:
        elf = ELFFile(f)
        for sec in elf.iter_sections():
            flags = sec["sh_flags"]
            if not flags & SH_FLAGS.SHF_ALLOC or sec["sh_size"] == 0:
                continue
            if flags & SH_FLAGS.SHF_TLS and sec["sh_type"] == "SHT_NOBITS":
                continue  # .tbss: a template; its space is reserved in another section
            size = sec["sh_size"]
            name = sec.name
            is_write = bool(flags & SH_FLAGS.SHF_WRITE)
            is_bits = sec["sh_type"] != "SHT_NOBITS"
            reserve_key = next(
                (k for p, k in RESERVATION_SECTIONS.items() if name.startswith(p)), None
            )
            if is_write and reserve_key:
                reservations[reserve_key] = reservations.get(reserve_key, 0) + size
                kind = "reserved"
            elif is_write:
                ram += size
                kind = "ram"
                if is_bits:
                    rom += size  # the initial values live in flash
                    kind = "rom+ram"
            else:
                rom += size
                kind = "rom"
            sections[name] = {"size": size, "kind": kind, "address": sec["sh_addr"]}
        excluded = sum(
            size
            for name, size in _symbol_sizes(elf).items()
            if name.startswith(EXCLUDED_SYMBOL_PREFIX)
        )
    return ElfSizes(rom - excluded, ram, excluded, reservations, sections)


def _symbol_sizes(elf: ELFFile) -> dict[str, int]:
    out: dict[str, int] = {}
    for sec in elf.iter_sections():
        if isinstance(sec, SymbolTableSection):
            for sym in sec.iter_symbols():
                if sym["st_info"]["type"] == "STT_OBJECT" and sym["st_size"]:
                    out[sym.name] = sym["st_size"]
    return out


@dataclass(frozen=True)
class Symbol:
    name: str
    address: int  # a Thumb function's without its low bit
    size: int
    kind: str  # STT_FUNC, STT_OBJECT, ...


def symbols(path: Path) -> list[Symbol]:
    """Every symbol of the ELF's symbol tables."""
    out: list[Symbol] = []
    with path.open("rb") as f:
        elf = ELFFile(f)
        is_arm = elf.header["e_machine"] == "EM_ARM"
        for sec in elf.iter_sections():
            if not isinstance(sec, SymbolTableSection):
                continue
            for sym in sec.iter_symbols():
                kind = sym["st_info"]["type"]
                addr = sym["st_value"]
                if is_arm and kind == "STT_FUNC":
                    addr &= ~1
                out.append(Symbol(sym.name, addr, sym["st_size"], kind))
    return out


def symbol_addresses(path: Path, names: list[str] | None = None) -> dict[str, int]:
    """Addresses of (function and object) symbols; Thumb bit cleared."""
    return {s.name: s.address for s in symbols(path) if names is None or s.name in names}
