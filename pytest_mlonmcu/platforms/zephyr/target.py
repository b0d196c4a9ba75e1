"""A Zephyr board as a target (platform ``zephyr``): ``ZephyrPlatform.create_targets``
(``platform.py``) makes one subclass per board of the session, and one per Zephyr board name
(``stm32f746g_disco``) bound to its board.

compile: the run's artifact + the harness become a Zephyr application, built with west or
CMake (``platforms/zephyr/build.py``); ROM/RAM from the ELF, the kernel's stacks reported apart
(``stack_reserved_bytes``) like the stack reservation of the bare-metal targets.

run: the program is flashed (``devices/flash.py``) and the console read over serial
(``devices/serial.py``) under the port's lock. Emulated boards (flash ``qemu``) run anywhere
QEMU does; a physical board runs when it is attached (``--mlonmcu-board NAME[=PORT]``: the session
sets ``<board>.port``), otherwise the run stops after compile with ``BoardNotAttached``, which the plugin turns into a
skip that says so.

Counts: the program's own counter when the board has one that works (DWT cycles on a real
Cortex-M, ``minstret`` on RISC-V: exact instructions under QEMU's ``-icount shift=0``). On
emulated Cortex-M boards QEMU has no DWT (CYCCNT stays 0, which the program detects): the TCG
plugin counts the instructions between the mlif markers from outside, with ``-icount
shift=0`` so that timer interrupts land at the same instruction in every run (the same
object code counts the same as on ``cortexm_qemu``). The kernel's cycle counter is not used
under QEMU: without icount it follows the host clock. ``count_method`` names what was used;
cycle counts are reported as ``*_cycles``, never as instructions.

Config keys (``<target>.<key>``, a bound target also reads ``<board>.<key>``): ``port``,
``flash``, ``serial_number``, ``baud``, ``timeout`` (s, reading), ``flash_timeout``,
``lock_timeout``, ``optimize`` (2, 3, s, z, g, 0), ``stack_size``, ``libc`` (auto, minimal,
newlib, picolibc), ``build`` (auto, west, cmake), ``kconfig`` (extra lines, ``;``-separated),
``count`` (plugin, icount, none; emulated boards), ``qemu_serial`` (tcp, pty),
``plugin_include``. Zephyr itself: ``zephyr.base``, ``zephyr.source``, ``zephyr.modules``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shlex
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from ...boards.boardset import FLASH_METHODS, Board
from ...core.artifacts import Artifact, Program, RunOutput
from ...core.config import ComponentConfig, parse_int, parse_timeout
from ...core.elf import elf_sizes, symbol_addresses
from ...core.errors import BoardNotAttached, CompileError, MissingToolError, RunError, UsageError
from ...core.protocol import HarnessReport, parse_harness_output
from ...devices.flash import FlashImage, FlashRequest, flash_command, flash_tool_missing, run_flash
from ...devices.labgrid import acquired as labgrid_acquired
from ...devices.labgrid import labgrid_missing
from ...devices.locks import board_lock
from ...devices.qemu import QemuInstance, qemu_missing
from ...devices.serial import (
    PortNotFound,
    SerialConsole,
    SerialTimeout,
    resolve_port,
    socket_address,
)
from ...install.zephyr import (
    ZephyrInstall,
    cached_zephyr,
    ensure_zephyr,
    zephyr_unavailable_reason,
)
from ..mlif.qemu_plugin import build_insn_count_plugin, plugin_args, read_plugin_counts
from ..mlif.target import COMMON_DIR, CompiledTarget, tail
from ..mlif.toolchain import Toolchain
from .build import BUILD_TOOLS, LIBCS, OPTIMIZATIONS, ZephyrBuilder, ZephyrOptions

if TYPE_CHECKING:
    from ...core.samples import SampleSet

log = logging.getLogger(__name__)

PLUGIN_OUT = "insn_counts.txt"
# Kernel stacks (thread, idle, interrupt): reserved RAM, reported as stack_reserved_bytes.
STACK_SYMBOLS = ("z_main_stack", "z_idle_stacks", "z_interrupt_stacks")
# Zephyr's image-end marker: writable, but placed in flash (ROM only).
ROM_ONLY_SECTIONS = (".last_section",)
FATAL = ">>> ZEPHYR FATAL ERROR"


def zephyr_sizes(elf: Path) -> dict[str, int]:
    """ROM/RAM of a Zephyr ELF: elf_sizes' classification by flags, with the kernel's
    stacks moved from RAM to ``stack_reserved_bytes`` and .last_section counted in ROM only."""
    sizes = elf_sizes(elf)
    metrics = sizes.as_metrics()
    for name in ROM_ONLY_SECTIONS:
        sec = sizes.sections.get(name)
        if sec and sec["kind"] == "rom+ram":
            metrics["ram_bytes"] -= sec["size"]
    stacks = 0
    for name, size in _object_sizes(elf).items():
        if name in STACK_SYMBOLS:
            stacks += size
    if stacks:
        metrics["ram_bytes"] -= stacks
        metrics["stack_reserved_bytes"] = metrics.get("stack_reserved_bytes", 0) + stacks
    return metrics


def _object_sizes(elf: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    with elf.open("rb") as f:
        for sec in ELFFile(f).iter_sections():
            if isinstance(sec, SymbolTableSection):
                for sym in sec.iter_symbols():
                    if sym["st_info"]["type"] == "STT_OBJECT" and sym["st_size"]:
                        out[sym.name] = sym["st_size"]
    return out


class ZephyrBoardTarget(CompiledTarget):
    """A Zephyr board; subclasses (made by ``ZephyrPlatform.create_targets``) name the board."""

    platform: ClassVar[str] = "zephyr"
    board: ClassVar[Board]
    # True for a target named after the Zephyr board (stm32f746g_disco) rather than the board.
    bound: ClassVar[bool] = False
    # A bound target of a board the session redefined: the Zephyr board its name now means.
    redefined_as: ClassVar[str | None] = None
    # Every key it reads (--mlonmcu-list; unknown keys are usage errors).
    config_keys: ClassVar[dict[str, str]] = {
        "port": "(--mlonmcu-board NAME=PORT; emulated: socket://HOST:PORT or a free one)",
        "flash": "(the board's: west, openocd, st-flash, esptool, qemu, none)",
        "timeout": "120",
        "optimize": "2",
        "libc": "auto",
        "build": "auto",
        "count": "(emulated boards: plugin, icount or none)",
        "serial_number": "(the board's: the probe's serial number for flashing)",
        "baud": "(the board's)",
        "flash_timeout": "120",
        "lock_timeout": "3600",
        "stack_size": "(the board's stack)",
        "kconfig": "(extra prj.conf lines, ;-separated)",
        "qemu_serial": "tcp (or pty)",
        "plugin_include": "(QEMU plugin headers)",
    }

    # -- configuration --------------------------------------------------------------------
    def board_config(self) -> ComponentConfig:
        return ComponentConfig(self.board.name, self.config._config)

    def setting(self, key: str, default: str | None = None) -> str | None:
        value = self.config.get(key)
        if value is None and self.bound:
            value = self.board_config().get(key)
        return default if value is None else value

    def zephyr_config(self) -> ComponentConfig:
        return ComponentConfig("zephyr", self.config._config)

    def seconds(self, key: str, default: str) -> float:
        """A timeout setting (finite, > 0): a usage error naming the key otherwise."""
        return parse_timeout(self.setting(key, default), f"{self.name}.{key}")

    def timeout(self) -> float:
        return self.seconds("timeout", "120")

    def flash_method(self) -> str:
        method = self.setting("flash", self.board.flash) or "none"
        if method not in FLASH_METHODS:
            raise UsageError(
                f"{self.name}.flash={method!r}: expected one of {', '.join(FLASH_METHODS)}"
            )
        return method

    def count_mode(self) -> str:
        mode = self.setting("count", str(self.board.qemu.get("count", "none"))) or "none"
        mode = {"true": "plugin", "false": "none"}.get(mode, mode)
        if mode not in ("plugin", "icount", "none"):
            raise UsageError(f"{self.name}.count={mode!r}: expected plugin, icount or none")
        return mode

    def options(self) -> ZephyrOptions:
        optimize = self.setting("optimize", "2") or "2"
        if optimize not in OPTIMIZATIONS:
            raise UsageError(
                f"{self.name}.optimize={optimize!r}: expected one of {', '.join(OPTIMIZATIONS)}"
            )
        libc = self.setting("libc", "auto") or "auto"
        if libc not in LIBCS:
            raise UsageError(f"{self.name}.libc={libc!r}: expected one of {', '.join(LIBCS)}")
        build = self.setting("build", "auto") or "auto"
        if build not in BUILD_TOOLS:
            raise UsageError(
                f"{self.name}.build={build!r}: expected one of {', '.join(BUILD_TOOLS)}"
            )
        stack = self.config.get_int("stack_size") or self.board.stack
        kconfig = tuple(
            k.strip() for k in (self.setting("kconfig", "") or "").split(";") if k.strip()
        )
        return ZephyrOptions(
            optimize=optimize,
            stack_size=stack,
            libc=libc,
            build_tool=build,
            counter=self.board.counter,
            kconfig=kconfig,
        )

    def identity(self) -> dict[str, str]:
        return {"target": self.name, "board": self.board.zephyr_board, "platform": "zephyr"}

    # -- availability ---------------------------------------------------------------------
    def unavailable_reason(self) -> str | None:
        if self.board.unsupported:
            return f"target {self.name}: {self.board.unsupported}"
        reason = super().unavailable_reason()
        if reason:
            return reason
        reason = zephyr_unavailable_reason(self.zephyr_config(), self.cache)
        if reason:
            return f"target {self.name}: {reason}"
        try:
            install = self._install(log.info)
        except MissingToolError as exc:
            return f"target {self.name}: {exc}"
        return self.modules_missing(install)

    def modules_missing(self, install: ZephyrInstall) -> str | None:
        missing = [m for m in self.board.modules if m not in install.modules]
        if missing:
            return (
                f"target {self.name}: Zephyr board {self.board.zephyr_board} needs the module(s) "
                f"{', '.join(missing)}, which {install.origin or install.base} lacks (has: "
                f"{', '.join(sorted(install.modules)) or 'none'}; upstream: west update "
                f"{' '.join(missing)})"
            )
        for module, sub in self.board.requires.items():
            if not (install.modules[module] / sub).exists():
                return (
                    f"target {self.name}: Zephyr board {self.board.zephyr_board} needs "
                    f"{module}/{sub}, which {install.origin or install.base} lacks "
                    "(a subset of the module; upstream: west update " + module + ")"
                )
        return None

    def _install(self, progress: Callable[[str], None]) -> ZephyrInstall:
        return ensure_zephyr(self.zephyr_config(), progress, cache=self.cache)

    # -- build ----------------------------------------------------------------------------
    def toolchain(self) -> Toolchain:
        """The flags of code built outside Zephyr for this board (e.g. the TFLM library)."""
        system = (
            ["--specs=nano.specs"] if self.board.family == "arm" else ["--specs=picolibc.specs"]
        )
        return Toolchain(
            prefix=self.board.toolchain_prefix,
            cflags=[
                *self.board.cpu_flags,
                f"-O{self.setting('optimize', '2')}",
                "-ffp-contract=off",
                "-ffunction-sections",
                "-fdata-sections",
                *system,
            ],
            cxx_driver="g++" if self.board.family == "arm" else "gcc",
        )

    def compile(self, artifact: Artifact, samples: SampleSet, work_dir: Path) -> Program:
        if artifact.kind != "c_sources":
            raise CompileError(
                f"target {self.name} cannot run a {artifact.kind!r} artifact of backend "
                f"{artifact.backend}"
            )
        work_dir.mkdir(parents=True, exist_ok=True)
        install = self._install(log.info)
        reason = self.modules_missing(install)
        if reason:
            raise MissingToolError(reason)
        builder = ZephyrBuilder(install, self.cache)
        options = self.options()
        app = work_dir / "app"
        libc = builder.generate_app(artifact, samples, self.board, options, app, COMMON_DIR)
        build = builder.build(app, work_dir / "build", self.board, options, libc)
        elf = work_dir / self.program_name
        shutil.copy2(build.elf, elf)
        zmap = build.elf.with_suffix(".map")
        if zmap.is_file():
            shutil.copy2(zmap, work_dir / "program.map")
        metrics: dict = zephyr_sizes(elf)
        metrics.update(
            {
                "zephyr_build_seconds": round(build.seconds, 2),
                "zephyr_build_tool": build.tool,
                "zephyr_libc": build.libc,
            }
        )
        for region, (used, size) in build.regions.items():
            if region in ("FLASH", "RAM"):
                metrics[f"zephyr_{region.lower()}_used_bytes"] = used
                metrics[f"zephyr_{region.lower()}_size_bytes"] = size
        return Program(
            target=self.name,
            path=elf,
            work_dir=work_dir,
            metrics=metrics,
            commands=[["sh", "-c", line] for line in build.commands],
            symbols=symbol_addresses(elf, ["mlif_mark_begin", "mlif_mark_end", "main"]),
            artifact=artifact,
        )

    # -- run ------------------------------------------------------------------------------
    def attachment(self) -> tuple[str, str]:
        """(flash method, port spec) of the board this run uses; BoardNotAttached (a skip)
        when none is attached."""
        method = self.flash_method()
        if self.redefined_as is not None:
            raise BoardNotAttached(
                f"compiled for {self.name}; board {self.board.name} is now defined as "
                f"{self.redefined_as}, so no attached board runs it"
            )
        # The session sets <board>.port for an attached board (BoardSet.port_settings).
        port = self.setting("port")
        if method == "qemu":
            reason = qemu_missing(self.board)
            if reason:
                raise MissingToolError(reason)
            return method, port or self.board.default_port()
        if not port:
            raise BoardNotAttached(
                f"compiled for {self.name}; board {self.board.name} is not attached: give "
                f"--mlonmcu-board {self.board.name}=PORT (or 'boards' in mlonmcu.yml) to flash "
                "and run it"
            )
        missing = flash_tool_missing(method, self.board.flash_args) or labgrid_missing(self.board)
        if missing:
            raise MissingToolError(f"board {self.board.name}: {missing}")
        return method, port

    def run(self, program: Program, work_dir: Path) -> RunOutput:
        method, port = self.attachment()
        work_dir.mkdir(parents=True, exist_ok=True)
        if method == "qemu":
            return self._run_qemu(program, work_dir, port)
        return self._run_device(program, work_dir, method, port)

    def _lock_timeout(self) -> float:
        return self.seconds("lock_timeout", "3600")

    def _baud(self) -> int:
        return parse_int(self.setting("baud", str(self.board.baud)), f"{self.name}.baud", minimum=1)

    def _run_device(self, program: Program, work_dir: Path, method: str, spec: str) -> RunOutput:
        try:
            url = resolve_port(spec)
        except PortNotFound as exc:
            raise RunError(f"board {self.board.name}: {exc}") from None
        build_dir = program.work_dir / "build"
        req = FlashRequest(
            board=self.board,
            image=FlashImage(build_dir / "zephyr" / "zephyr.elf", build_dir),
            port=url,
            serial_number=self.setting("serial_number", self.board.serial.get("serial_number", ""))
            or "",
            args={**self.board.flash_args, **self._place()},
            cwd=self._west_cwd() if method == "west" else None,
        )
        cmd = flash_command(method, req) if method != "none" else []
        _write_script(work_dir / "flash_command.sh", [cmd] if cmd else [])
        serial_log = work_dir / "serial.log"
        # USB consoles that re-enumerate on reset (esp32c3) are opened after flashing.
        open_after = self.board.flash_args.get("open_serial") == "after"
        with (
            board_lock(url, self._lock_timeout(), f"{self.name}.lock_timeout") as hold,
            labgrid_acquired(self.board, work_dir / "labgrid.log"),
        ):
            console = SerialConsole(url, self._baud(), serial_log)
            try:
                if not open_after:
                    console.open(timeout=10)
                flash_seconds = 0.0
                if cmd:
                    flash_seconds = run_flash(
                        cmd, req.cwd, self.seconds("flash_timeout", "120"),
                        work_dir / "flash.log", f"{self.name}.flash_timeout",
                    )  # fmt: skip
                if open_after:
                    console.open(timeout=15)
                start = time.monotonic()
                output = self._read(console, cmd or ["(no flashing)", url])
                seconds = time.monotonic() - start
            finally:
                console.close()
        self._write_board_json(work_dir, method, url, hold.as_dict())
        report = parse_harness_output(output)
        self._check(report, output, cmd or [url])
        out = self.run_output(report, cmd or [url], serial_log, seconds)
        out.metrics["flash_seconds"] = round(flash_seconds, 3)
        return self._label_counts(out, emulated=False)

    def _place(self) -> dict[str, str]:
        place = self.board.labgrid.get("place")
        return {"place": place} if place else {}

    def _west_cwd(self) -> Path | None:
        install = cached_zephyr(self.zephyr_config(), self.cache)
        return install.topdir if install is not None else None

    def _read(self, console: SerialConsole, cmd: list[str]) -> str:
        try:
            return console.wait_for(timeout=self.timeout())
        except SerialTimeout as exc:
            raise RunError(
                f"{self.name} (board {self.board.name}): {exc}\n(set {self.name}.timeout to wait "
                f"longer)\n--- reproduce ---\n{shlex.join(cmd)}"
            ) from None

    def _run_qemu(self, program: Program, work_dir: Path, spec: str) -> RunOutput:
        mode = self.setting("qemu_serial", "tcp") or "tcp"
        address = None
        if spec:
            address = socket_address(spec)
            if address is None or mode != "tcp":
                raise UsageError(
                    f"{self.name}: emulated board {self.board.name} serves its console itself; "
                    f"its port must be socket://HOST:PORT (got {spec!r}) with qemu_serial=tcp"
                )
        extra: list[str] = []
        count = self.count_mode()
        if count in ("icount", "plugin"):
            # Virtual time = instructions: timer interrupts (and so the counts) are the same in
            # every run, and the kernel's idle timer never lands inside a measured region.
            extra += ["-icount", "shift=0"]
        if count == "plugin":
            extra += self._plugin_args(program, work_dir)
        qemu = QemuInstance(
            self.board, program.path, work_dir, mode=mode, address=address, extra_args=extra
        )
        # A fixed port is a shared resource (two QEMUs cannot listen on it): lock it.
        lock_key = spec if spec else None
        serial_log = work_dir / "serial.log"
        with _maybe_lock(lock_key, self._lock_timeout(), f"{self.name}.lock_timeout") as hold:
            url = qemu.start()
            try:
                console = SerialConsole(url, self._baud(), serial_log)
                try:
                    try:
                        console.open(timeout=10, alive=qemu.alive)
                        qemu.resume()
                    except RunError as exc:
                        raise RunError(
                            f"{self.name}: {exc}\n--- QEMU ---\n{tail(qemu.output)}\n"
                            f"--- reproduce ---\n{shlex.join(qemu.command)}"
                        ) from None
                    start = time.monotonic()
                    output = self._read(console, qemu.command)
                    seconds = time.monotonic() - start
                finally:
                    console.close()
            finally:
                qemu.stop()
        _write_script(
            work_dir / "flash_command.sh",
            [qemu.command],
            # The recorded command starts the guest halted until the host resumes it.
            f"by hand, console on this terminal: {shlex.join(qemu.interactive_command())}",
        )
        lock_info = hold.as_dict() if hold is not None else None
        self._write_board_json(work_dir, "qemu", url, lock_info)
        report = parse_harness_output(output)
        self._check(report, output, qemu.command)
        if count == "plugin":
            self._plugin_counts(report, work_dir, output, qemu.command)
        out = self.run_output(report, qemu.command, serial_log, seconds)
        return self._label_counts(out, emulated=True, count=count)

    def _plugin_args(self, program: Program, work_dir: Path) -> list[str]:
        begin = program.symbols.get("mlif_mark_begin")
        end = program.symbols.get("mlif_mark_end")
        if begin is None or end is None:
            raise RunError(f"{self.name}: {program.path} has no mlif_mark_begin/mlif_mark_end")
        out = work_dir / PLUGIN_OUT
        out.unlink(missing_ok=True)
        plugin = build_insn_count_plugin(self.cache, self.config.get_path("plugin_include"))
        return plugin_args(plugin, begin, end, out)

    def _plugin_counts(
        self, report: HarnessReport, work_dir: Path, output: str, cmd: list[str]
    ) -> None:
        regions, total = read_plugin_counts(work_dir / PLUGIN_OUT)
        if total is not None:
            report.metrics["total_instructions"] = total
        try:
            report.fill_counts(regions)
        except ValueError as err:
            raise RunError(
                self.failure(f"instruction counting plugin: {err}", output, cmd)
            ) from None

    def _check(self, report: HarnessReport, output: str, cmd: list[str]) -> None:
        if FATAL in output:
            fatal = output[output.index(FATAL) :]
            raise RunError(
                f"{self.name}: Zephyr fatal error on board {self.board.name}\n"
                f"{tail(fatal)}\n--- reproduce ---\n{shlex.join(cmd)}"
            )
        self.check_report(report, output, cmd)

    def _label_counts(self, out: RunOutput, emulated: bool, count: str = "none") -> RunOutput:
        """Name what the counts are: exact instructions, or cycles of a hardware counter."""
        m = out.metrics
        has_counts = "invoke_instructions" in m or "setup_instructions" in m
        if emulated and count == "plugin":
            m["count_method"] = "qemu-plugin: exact instructions between the mlif markers"
        elif emulated and count == "icount" and self.board.counter == "minstret":
            m["count_method"] = "minstret under qemu -icount shift=0: exact instructions"
        elif has_counts and self.board.counter_unit == "cycles":
            # A hardware cycle counter: these are cycles, not instructions.
            for key in list(m):
                if key.endswith("_instructions") or "_instructions_" in key:
                    m[key.replace("instructions", "cycles")] = m.pop(key)
            m["count_method"] = f"{self.board.counter} cycle counter"
        elif has_counts:
            m["count_method"] = f"{self.board.counter} instruction counter"
        else:
            m["count_method"] = "none (no counter on this board)"
        m["board"] = self.board.name
        return out

    def _write_board_json(self, work_dir: Path, method: str, port: str, lock: dict | None) -> None:
        data = {
            "board": self.board.name,
            "zephyr_board": self.board.zephyr_board,
            "flash": method,
            "port": port,
            "lock": lock,
        }
        (work_dir / "board.json").write_text(json.dumps(data, indent=2) + "\n")


def _maybe_lock(key: str | None, timeout: float, setting: str) -> contextlib.AbstractContextManager:
    return board_lock(key, timeout, setting) if key else contextlib.nullcontext()


def _write_script(path: Path, commands: list[list[str]], note: str = "") -> None:
    lines = ["#!/bin/sh", "# How this run put the program on the board."]
    # One comment line, whatever the paths in it hold (a newline would start a command).
    lines += ["# " + "".join(c if c.isprintable() else "?" for c in note)] if note else []
    lines += ["set -e"]
    lines += [shlex.join(c) for c in commands]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o755)
