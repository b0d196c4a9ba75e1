"""The boards of a session: ``boards.yml`` (shipped) plus mlonmcu.yml's ``boards:`` mapping.

A board is one kind of device: which Zephyr board builds for it, how a program gets onto it
(flash method), where its console is (serial port), its memory and its counter. Every board is
a target of the same name; a board whose Zephyr board name differs (``stm32f746g_disco`` for
``stm32f7``) is that target too (the Zephyr platform, ``platforms/zephyr/``, makes them).

A ``BoardSet`` is an immutable value: the boards, and which of them are *attached* in the
session (``--mlonmcu-board NAME[=PORT]``, the ini key or mlonmcu.yml ``boards:``). The session
keeps its set in its settings and hands an attached board's port to its target as the run
setting ``<board>.port`` (``port_settings``).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from ..core.config import did_you_mean, parse_int
from ..core.errors import UsageError

BOARDS_FILE = Path(str(resources.files("pytest_mlonmcu") / "boards" / "boards.yml"))
FLASH_METHODS = ("west", "openocd", "st-flash", "esptool", "qemu", "none")
COUNTERS = ("dwt", "minstret", "mcycle", "k_cycle", "none")
FAMILIES = {"arm": "arm-none-eabi-", "riscv": "riscv64-unknown-elf-"}
KNOWN_KEYS = {
    "description",
    "zephyr_board",
    "target",
    "family",
    "cpu_flags",
    "kconfig",
    "modules",
    "requires",
    "flash",
    "flash_args",
    "serial",
    "baud",
    "rom",
    "ram",
    "counter",
    "counter_unit",
    "clock_hz",
    "qemu",
    "stack",
    "unsupported",
    "labgrid",
    # mlonmcu.yml only
    "base",
    "port",
}
# Keys of the nested mappings that the plugin reads (flash_args are the flash templates' own).
SUB_KEYS = {
    "serial": {"port", "by_id", "vid_pid", "serial_number"},
    "qemu": {"binary", "machine", "cpu", "count", "extra"},
    "labgrid": {"place", "coordinator"},
}


@dataclass(frozen=True)
class Board:
    name: str
    zephyr_board: str
    family: str
    target: str = ""
    description: str = ""
    cpu_flags: tuple[str, ...] = ()
    kconfig: tuple[str, ...] = ()
    modules: tuple[str, ...] = ()
    requires: dict[str, str] = field(default_factory=dict)  # module -> path inside it
    flash: str = "none"
    flash_args: dict[str, str] = field(default_factory=dict)
    serial: dict[str, str] = field(default_factory=dict)  # port / by_id / vid_pid
    baud: int = 115200
    rom: int = 0
    ram: int = 0
    counter: str = "none"
    counter_unit: str = "cycles"
    clock_hz: int = 0
    qemu: dict[str, Any] = field(default_factory=dict)
    stack: int = 8192
    unsupported: str = ""
    labgrid: dict[str, str] = field(default_factory=dict)  # place, coordinator (optional)

    @property
    def target_name(self) -> str:
        return self.target or _one_word(self.zephyr_board)

    @property
    def toolchain_prefix(self) -> str:
        return FAMILIES[self.family]

    @property
    def emulated(self) -> bool:
        return self.flash == "qemu"

    def default_port(self) -> str:
        """The port spec of boards.yml/mlonmcu.yml (a device, by-id glob or VID:PID), or ''."""
        return self.serial.get("port") or ""

    def describe(self) -> str:
        return self.description or f"Zephyr board {self.zephyr_board}"


def _one_word(zephyr_board: str) -> str:
    """``mps2/an385`` -> ``mps2_an385`` (a target name is one word)."""
    return zephyr_board.replace("/", "_").replace("-", "_")


def _size(value: Any, where: str) -> int:
    if value in (None, ""):
        return 0
    try:
        return parse_int(value, where)
    except UsageError:
        raise UsageError(f"{where}: {value!r} is not a size (e.g. 320KiB, 1MiB)") from None


def _int(data: Mapping[str, Any], key: str, default: int, where: str, minimum: int) -> int:
    """An integer key of a board entry (``baud: fast`` is a usage error naming board and key)."""
    value = data.get(key)
    if value in (None, ""):
        return default
    return parse_int(value, f"{where}: {key}", minimum=minimum)


def _check_keys(keys: Iterable[Any], known: Iterable[str], where: str) -> None:
    """Unknown keys of an entry are usage errors, each with the nearest known key."""
    known = sorted(known)
    unknown = sorted(str(k) for k in keys if k not in known)
    if not unknown:
        return
    named = []
    for key in unknown:
        hint = did_you_mean(key, known).strip()
        named.append(f"{key} ({hint})" if hint else key)
    raise UsageError(
        f"{where}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(named)}; "
        f"known keys: {', '.join(known)}"
    )


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value in (None, ""):
        return ()
    if isinstance(value, str):
        return tuple(v for v in value.split() if v)
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    raise UsageError(f"{where}: expected a list, got {value!r}")


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value in (None, ""):
        return {}
    if not isinstance(value, Mapping):
        raise UsageError(f"{where}: expected a mapping, got {value!r}")
    return {str(k): v for k, v in value.items()}


def board_from_mapping(name: str, data: Mapping[str, Any], origin: str) -> Board:
    """A Board from one YAML entry (``data`` already merged with its ``base``)."""
    where = f"{origin}: board {name}"
    _check_keys(data, KNOWN_KEYS, where)
    for key, known in SUB_KEYS.items():
        if isinstance(data.get(key), Mapping):
            _check_keys(data[key], known, f"{where} {key}")
    if not data.get("zephyr_board"):
        raise UsageError(f"{where}: zephyr_board is missing (e.g. stm32f746g_disco)")
    family = str(data.get("family", "arm"))
    if family not in FAMILIES:
        raise UsageError(f"{where}: family {family!r}: expected one of {', '.join(FAMILIES)}")
    flash = str(data.get("flash", "none"))
    if flash not in FLASH_METHODS:
        raise UsageError(f"{where}: flash {flash!r}: expected one of {', '.join(FLASH_METHODS)}")
    counter = str(data.get("counter", "none"))
    if counter not in COUNTERS:
        raise UsageError(f"{where}: counter {counter!r}: expected one of {', '.join(COUNTERS)}")
    unit = str(data.get("counter_unit", "instructions" if counter == "minstret" else "cycles"))
    if unit not in ("instructions", "cycles"):
        raise UsageError(f"{where}: counter_unit {unit!r}: expected instructions or cycles")
    serial = {k: str(v) for k, v in _mapping(data.get("serial"), f"{where} serial").items()}
    if data.get("port"):
        serial["port"] = str(data["port"])
    qemu = _mapping(data.get("qemu"), f"{where} qemu")
    if flash == "qemu" and not qemu.get("machine"):
        raise UsageError(f"{where}: flash qemu needs qemu: {{machine: ...}}")
    return Board(
        name=name,
        zephyr_board=str(data["zephyr_board"]),
        family=family,
        target=str(data.get("target") or ""),
        description=str(data.get("description") or ""),
        cpu_flags=_strings(data.get("cpu_flags"), f"{where} cpu_flags"),
        kconfig=_strings(data.get("kconfig"), f"{where} kconfig"),
        modules=_strings(data.get("modules"), f"{where} modules"),
        requires={k: str(v) for k, v in _mapping(data.get("requires"), where).items()},
        flash=flash,
        flash_args={k: str(v) for k, v in _mapping(data.get("flash_args"), where).items()},
        serial=serial,
        baud=_int(data, "baud", 115200, where, minimum=1),
        rom=_size(data.get("rom"), f"{where} rom"),
        ram=_size(data.get("ram"), f"{where} ram"),
        counter=counter,
        counter_unit=unit,
        clock_hz=_int(data, "clock_hz", 0, where, minimum=0),
        qemu=qemu,
        stack=_size(data.get("stack"), f"{where} stack") or 8192,
        unsupported=str(data.get("unsupported") or ""),
        labgrid={k: str(v) for k, v in _mapping(data.get("labgrid"), where).items()},
    )


# -- the boards of a session --------------------------------------------------------------


@dataclass(frozen=True)
class BoardSet:
    """Boards by name (``boards.yml``'s first) and the attached ones (name -> port or None).

    ``with_entries`` and ``configure`` return new sets; a set never changes.
    """

    boards: Mapping[str, Board]
    # boards.yml's own definitions: a redefined board's Zephyr name still means the shipped one
    shipped: Mapping[str, Board]
    # The merged YAML entry of each board (``base: NAME`` starts from a copy of NAME's).
    entries: Mapping[str, Mapping[str, Any]]
    attached: Mapping[str, str | None] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_file(cls, path: Path = BOARDS_FILE) -> BoardSet:
        """The boards of a ``boards.yml``, none attached."""
        data = yaml.safe_load(path.read_text()) or {}
        entries = {}
        boards = {}
        for name, entry in _mapping(data.get("boards"), str(path)).items():
            entries[name] = _mapping(entry, f"{path}: board {name}")
            boards[name] = board_from_mapping(name, entries[name], str(path))
        return cls(MappingProxyType(boards), MappingProxyType(boards), MappingProxyType(entries))

    # -- lookups ----------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Board]:
        return iter(self.boards.values())

    def __contains__(self, name: object) -> bool:
        return name in self.boards

    def names(self) -> list[str]:
        return list(self.boards)

    def get(self, name: str) -> Board:
        try:
            return self.boards[name]
        except KeyError:
            raise UsageError(
                f"unknown board {name!r}; known boards: {', '.join(sorted(self.boards))}"
            ) from None

    def find(self, name: str) -> Board | None:
        return self.boards.get(name)

    @staticmethod
    def target_name_of(zephyr_board: str) -> str:
        """The target of a Zephyr board's spelling: ``mps2/an385`` -> ``mps2_an385``."""
        return _one_word(zephyr_board)

    def is_attached(self, name: str) -> bool:
        return name in self.attached

    def port_spec(self, name: str) -> str | None:
        """The port of attached board ``name`` (given, else the board's own spec: port, by-id
        glob or VID:PID; '' when it has none), None when it is not attached."""
        if name not in self.attached:
            return None
        board = self.boards.get(name)
        port = self.attached[name] or ""
        if not port and board is not None:
            port = board.default_port() or board.serial.get("by_id") or ""
            port = port or board.serial.get("vid_pid") or ""
        return port

    def port_settings(self) -> dict[str, str]:
        """``<board>.port`` run settings of the attached boards that have a port (a target
        reads its board's port there; a setting given by the user wins over these)."""
        out = {}
        for name in self.attached:
            port = self.port_spec(name)
            if name in self.boards and port:
                out[f"{name}.port"] = port
        return out

    # -- new sets ---------------------------------------------------------------------------
    def with_entries(self, mapping: Mapping[str, Any], origin: str = "mlonmcu.yml") -> BoardSet:
        """This set with boards added or overridden by a ``boards:`` mapping.

        An entry with only ``port`` (and no definition keys) names a port for a known board and
        defines nothing. ``base: NAME`` starts from a copy of another board's entry.
        """
        entries = dict(self.entries)
        boards = dict(self.boards)
        for name, entry in mapping.items():
            name = str(name)
            raw = _mapping(entry, f"{origin}: board {name}")
            if not set(raw) - {"port"}:
                continue
            base_name = raw.get("base")
            if base_name:
                if str(base_name) not in entries:
                    raise UsageError(
                        f"{origin}: board {name}: base {base_name!r} is not a known board "
                        f"({', '.join(sorted(entries))})"
                    )
                merged = copy.deepcopy(dict(entries[str(base_name)]))
                merged.pop("target", None)  # a derived board is its own target
            else:
                merged = copy.deepcopy(dict(entries.get(name, {})))
            merged.update({k: v for k, v in raw.items() if k != "base"})
            boards[name] = board_from_mapping(name, merged, origin)
            entries[name] = merged
        return BoardSet(
            MappingProxyType(boards), self.shipped, MappingProxyType(entries), self.attached
        )

    def configure(self, yml_value: Any, items: Iterable[str], source: str) -> BoardSet:
        """This set with the session's boards: definitions and attachments (name -> port or None)
        from the resolved ``board`` option.

        ``yml_value`` is mlonmcu.yml's ``boards:`` (a list of NAME[=PORT] or a mapping of board
        entries); its definitions are added whatever the source of the option. ``items`` are
        the NAME[=PORT] strings of the winning source (``source``: cli, ini, yml, default).
        """
        boards = self
        attached: dict[str, str | None] = {}
        if isinstance(yml_value, Mapping):
            boards = self.with_entries(yml_value)
            if source == "yml":
                for name, entry in yml_value.items():
                    port = entry.get("port") if isinstance(entry, Mapping) else entry
                    attached[str(name)] = str(port) if port else None
                items = []
        for item in items:
            name, _, port = str(item).partition("=")
            attached[name.strip()] = port.strip() or None
        return BoardSet(boards.boards, boards.shipped, boards.entries, MappingProxyType(attached))


@functools.cache
def shipped_boards() -> BoardSet:
    """``boards.yml``'s boards, none attached (read once: a set never changes)."""
    return BoardSet.from_file(BOARDS_FILE)
