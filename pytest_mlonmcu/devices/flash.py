"""Putting a program on a board: flash tools by their documented command lines.

Methods (a board's ``flash`` key, or ``<target>.flash``):

=========  =====================================================================================
west       ``west flash --skip-rebuild -d BUILD [--dev-id SERIAL]`` (Zephyr's runners:
           openocd, jlink, stm32cubeprogrammer ... as the board's board.cmake names them)
openocd    ``openocd -f CONFIG [-c "adapter serial SERIAL"] -c "program ELF verify reset exit"``
st-flash   ``st-flash [--serial SERIAL] --reset write BIN ADDRESS`` (stlink-tools)
esptool    ``esptool.py --chip CHIP --port PORT --baud BAUD write_flash ADDRESS BIN``
qemu       no flashing: QEMU starts with the ELF (``devices/qemu.py``)
none       the board runs what it has (e.g. flashed by hand); only its console is read
=========  =====================================================================================

A board entry may replace a method's command with ``flash_args: {command: "..."}``; the
placeholders are ``{elf} {bin} {hex} {build_dir} {port} {serial_number} {python}`` and every
other ``flash_args`` key (``{{``/``}}`` are literal braces; an unknown field or a stray brace is
a usage error). In openocd's ``-c`` commands (Tcl) a value is quoted as one Tcl word, so
``program {elf}`` takes a path with spaces. A flash tool runs in its own process group: on
timeout it is killed with every process it started.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import shutil
import string
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..boards.boardset import Board
from ..core import proc
from ..core.errors import MissingToolError, RunError, UsageError

TEMPLATES: dict[str, list[str]] = {
    "west": ["{python}", "-m", "west", "flash", "--skip-rebuild", "-d", "{build_dir}"],
    "openocd": ["openocd", "-f", "{openocd_config}", "-c", "program {elf} verify reset exit"],
    "st-flash": ["st-flash", "--reset", "write", "{bin}", "{address}"],
    "esptool": [
        "{esptool}", "--chip", "{chip}", "--port", "{port}", "--baud", "{flash_baud}",
        "write_flash", "{address}", "{bin}",
    ],
}  # fmt: skip
# Where a probe's serial number goes (boards.yml: serial_number, or <target>.serial_number).
SERIAL_NUMBER_ARGS: dict[str, tuple[int, list[str]]] = {
    "west": (len(TEMPLATES["west"]), ["--dev-id", "{serial_number}"]),
    "openocd": (1, ["-c", "adapter serial {serial_number}"]),
    "st-flash": (1, ["--serial", "{serial_number}"]),
}
TOOLS = {
    "openocd": ("openocd", "apt-get install openocd"),
    "st-flash": ("st-flash", "apt-get install stlink-tools"),
    "esptool": ("esptool.py", "pip install esptool"),
}


@dataclass(frozen=True)
class FlashImage:
    elf: Path
    build_dir: Path

    @property
    def binary(self) -> Path:
        return self.elf.with_suffix(".bin")

    @property
    def hex(self) -> Path:
        return self.elf.with_suffix(".hex")


@dataclass
class FlashRequest:
    board: Board
    image: FlashImage
    port: str = ""  # the resolved device or URL of the console (esptool flashes through it)
    serial_number: str = ""
    args: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None  # west: a directory inside the workspace


def flash_tool_missing(method: str, args: dict[str, str] | None = None) -> str | None:
    """Why ``method`` (or the board's own ``command``) cannot flash here, or None."""
    if method in ("qemu", "none"):
        return None
    command = (args or {}).get("command")
    if command:
        tool = split_command(command)[0]
        return None if shutil.which(tool) else f"the flash command needs {tool}, not found"
    if method == "west":
        if importlib.util.find_spec("west") is None:
            return "flash method west needs west (pip install west)"
        return None
    tool, hint = TOOLS[method]
    if method == "esptool" and (shutil.which("esptool.py") or shutil.which("esptool")):
        return None
    if shutil.which(tool) is None:
        return f"flash method {method} needs {tool} ({hint})"
    return None


def flash_command(method: str, req: FlashRequest) -> list[str]:
    """The command line that flashes ``req.image`` with ``method``."""
    values = {
        "elf": str(req.image.elf),
        "bin": str(req.image.binary),
        "hex": str(req.image.hex),
        "build_dir": str(req.image.build_dir),
        "port": req.port,
        "serial_number": req.serial_number,
        "python": sys.executable,
        "esptool": shutil.which("esptool.py") or shutil.which("esptool") or "esptool.py",
        "address": "0x08000000",
        "chip": "",
        "flash_baud": "460800",
        "openocd_config": "",
        **{k: "" if v is None else str(v) for k, v in req.args.items()},
    }
    if "command" in req.args:
        text = req.args["command"]
        template = split_command(text)
        values.pop("command")
    else:
        if method not in TEMPLATES:
            raise RunError(f"flash method {method!r} has no command")
        template = list(TEMPLATES[method])
        if req.serial_number and method in SERIAL_NUMBER_ARGS:
            pos, extra = SERIAL_NUMBER_ARGS[method]
            template[pos:pos] = extra
        text = shlex.join(template)
    parts = [_parse_template(part, text, req.board.name, values) for part in template]
    missing = sorted({f for part in parts for _, f in part if f and not values[f]})
    if missing:
        raise RunError(
            f"board {req.board.name}: flash method {method} needs {', '.join(missing)} "
            f"(flash_args in the board entry, or <target>.{missing[0]})"
        )
    tcl = _tcl_arguments(template)
    return [_render(part, values, i in tcl) for i, part in enumerate(parts)]


def _render(part: list[tuple[str, str]], values: dict[str, str], tcl: bool) -> str:
    quote = _tcl_word if tcl else str
    return "".join(literal + (quote(values[name]) if name else "") for literal, name in part)


def split_command(text: str) -> list[str]:
    """A board's ``flash_args.command`` as words (shell quoting), or a UsageError."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise UsageError(f"flash_args.command {text!r}: {exc}") from None
    if not words:
        raise UsageError("flash_args.command is empty")
    return words


def _parse_template(
    part: str, text: str, board: str, values: dict[str, str]
) -> list[tuple[str, str]]:
    """``"program {elf} verify"`` -> [("program ", "elf"), (" verify", "")]; a stray brace,
    an unknown field or a format spec is a UsageError naming the template."""

    def bad(problem: str) -> UsageError:
        return UsageError(
            f"board {board}: flash command {text!r}: {problem}; known fields: "
            + ", ".join("{" + k + "}" for k in sorted(values))
            + " (write {{ and }} for literal braces)"
        )

    try:
        pieces = list(string.Formatter().parse(part))
    except ValueError:  # "Single '{' encountered in format string"
        raise bad(f"stray brace in {part!r}") from None
    out = []
    for literal, name, spec, conversion in pieces:
        if name is None:
            out.append((literal, ""))
            continue
        if name not in values:
            raise bad(f"unknown field {{{name}}}")
        if spec or conversion:
            raise bad(f"{{{name}}} takes no format spec or conversion")
        out.append((literal, name))
    return out


def _tcl_arguments(template: list[str]) -> set[int]:
    """Positions of openocd's ``-c`` commands: Tcl, where a value is quoted as one word."""
    if not Path(template[0]).name.startswith("openocd"):
        return set()
    return {i + 1 for i, word in enumerate(template[:-1]) if word in ("-c", "--command")}


_TCL_PLAIN = re.compile(r"[\w./:@%+,=-]+")


def _tcl_word(value: str) -> str:
    """``value`` as one word of a Tcl command (openocd's ``program {path with space}``)."""
    if _TCL_PLAIN.fullmatch(value):
        return value
    if not any(c in value for c in "{}\\\n"):
        return "{" + value + "}"  # braces: no substitution inside
    return "".join(c if c.isalnum() else "\\n" if c == "\n" else "\\" + c for c in value)


def run_flash(
    cmd: list[str],
    cwd: Path | None,
    timeout: float,
    log_path: Path,
    setting: str = "<target>.flash_timeout",
) -> float:
    """Run a flash command with a timeout; its output goes to ``log_path``. Returns seconds.

    The tool runs in its own process group: a timeout kills it with every helper it started.
    """
    log_path.write_text(f"$ {shlex.join(cmd)}\n")
    try:
        result = proc.run(
            cmd, timeout=timeout, what="flashing", setting=setting, cwd=cwd,
            log_path=log_path, append=True,
        )  # fmt: skip
    except FileNotFoundError:
        raise MissingToolError(f"flash tool {cmd[0]} not found") from None
    except proc.ChildTimeout:
        raise RunError(
            f"flashing timed out after {timeout:g} s (set {setting})\n"
            f"$ {shlex.join(cmd)}\n{_tail(log_path)}"
        ) from None
    if result.returncode != 0:
        raise RunError(
            f"flashing failed (exit {result.returncode})\n$ {shlex.join(cmd)}\n{_tail(log_path)}"
        )
    return result.seconds


def _tail(path: Path, lines: int = 30) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.strip().splitlines()[-lines:])
