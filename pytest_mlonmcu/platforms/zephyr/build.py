"""The Zephyr build: a backend's artifact + the MLIF harness as a Zephyr application.

``generate_app`` writes one application per run (``compile/app``): the template
``harness/zephyr/CMakeLists.txt``, ``prj.conf`` (template + this run's Kconfig lines),
``src/`` with the harness (``main.c`` and its headers, the sample inputs ``mlif_data.c``, the
Zephyr implementation of ``mlif_target.h``), and ``mlonmcu_inputs.cmake`` listing the
backend's sources, include directories, defines, flags and libraries by absolute path.

``build`` runs ``west build`` when the Zephyr installation is a west workspace and west is
installed, else CMake + ninja with the same inputs, with Debian's cross GCC
(``ZEPHYR_TOOLCHAIN_VARIANT=cross-compile``). The commands go to ``compile_commands.sh`` (to
rebuild by hand) and the full output to ``build.log``. A program that does not fit fails
naming the memory region and the overflow in bytes.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import sys
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from ...core import proc
from ...core.cache import Cache, atomic_write_text, hash_key
from ...core.errors import CompileError, MissingToolError

if TYPE_CHECKING:
    from ...boards.boardset import Board
    from ...core.artifacts import Artifact
    from ...core.samples import SampleSet
    from ...install.zephyr import ZephyrInstall

TEMPLATE_DIR = Path(str(resources.files("pytest_mlonmcu") / "harness" / "zephyr"))
TEMPLATES = ("CMakeLists.txt", "prj.conf")
GLUE = "mlif_zephyr.c"
HARNESS_FILES = ("main.c", "mlif.h", "mlif_data.h", "mlif_target.h")
INPUTS_FILE = "mlonmcu_inputs.cmake"
COUNTER_IDS = {"none": 0, "dwt": 1, "minstret": 2, "mcycle": 3, "k_cycle": 4}
OPTIMIZATIONS = {
    "2": ["CONFIG_SPEED_OPTIMIZATIONS=y"],
    "3": ["CONFIG_SPEED_OPTIMIZATIONS=y", 'CONFIG_COMPILER_OPT="-O3"'],
    "s": ["CONFIG_SIZE_OPTIMIZATIONS=y"],
    "z": ["CONFIG_SIZE_OPTIMIZATIONS_AGGRESSIVE=y"],
    "g": ["CONFIG_DEBUG_OPTIMIZATIONS=y"],
    "0": ["CONFIG_NO_OPTIMIZATIONS=y"],
}
LIBCS = ("auto", "minimal", "newlib", "picolibc")
BUILD_TOOLS = ("auto", "west", "cmake")
# Linker messages of a program that does not fit.
_OVERFLOW = re.compile(r"region [`']([^'`]+)' overflowed by (\d+) bytes")
_NOT_FIT = re.compile(r"section [`']([^'`]+)' will not fit in region [`']([^'`]+)'")
_REGION = re.compile(r"^\s*(\S+):\s+(\d+)\s*(B|KB|MB|GB)\s+(\d+)\s*(B|KB|MB|GB)\s", re.M)
_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}
# Debian's riscv64-unknown-elf-gcc picks the 64-bit multilib (libgcc, crt) when -march names
# _zicsr/_zifencei, which Zephyr passes; linking then fails with "ELFCLASS64 incompatible".
# The wrapper strips them from -march on link (and multilib query) calls only.
RISCV_WRAPPER = r"""#!/bin/bash
# pytest-mlonmcu: Debian's riscv64-unknown-elf-gcc selects its 64-bit multilib when -march
# names _zicsr/_zifencei; strip them on calls that link or ask for library paths.
real=@REAL@
for a in "$@"; do
  case "$a" in -c|-S|-E) exec "$real" "$@" ;; esac
done
args=()
for a in "$@"; do
  case "$a" in -march=*) a="${a//_zicsr/}"; a="${a//_zifencei/}" ;; esac
  args+=("$a")
done
exec "$real" "${args[@]}"
"""


@dataclass(frozen=True)
class ZephyrOptions:
    """Per-run settings of a Zephyr build (from ``<target>.<key>``)."""

    optimize: str = "2"
    stack_size: int = 8192
    libc: str = "auto"
    build_tool: str = "auto"
    counter: str = "none"
    kconfig: tuple[str, ...] = ()
    jobs: int = 0


@dataclass
class ZephyrBuild:
    app_dir: Path
    build_dir: Path
    elf: Path
    tool: str  # "west" or "cmake"
    libc: str
    commands: list[str] = field(default_factory=list)  # shell lines (compile_commands.sh)
    seconds: float = 0.0
    regions: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (used, size)


def cmake_quote(value: str) -> str:
    """A CMake quoted argument (``"..."``) for ``value``."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return '"' + escaped.replace(";", "\\;") + '"'


def _cmake_list(name: str, values: list[str]) -> str:
    if not values:
        return f"set({name})"
    body = "\n".join(f"  {cmake_quote(v)}" for v in values)
    return f"set({name}\n{body}\n)"


def parse_memory_regions(output: str) -> dict[str, tuple[int, int]]:
    """The linker's ``--print-memory-usage`` table: region -> (used bytes, size bytes)."""
    regions = {}
    for m in _REGION.finditer(output):
        name = m.group(1)
        regions[name] = (int(m.group(2)) * _UNITS[m.group(3)], int(m.group(4)) * _UNITS[m.group(5)])
    return regions


_MEMORY_ENTRY = re.compile(r"(\w+)\s*\(\s*[!rwxail ]+\)\s*:\s*ORIGIN\s*=\s*[^,]+,\s*LENGTH\s*=\s*")


def linker_regions(script: Path) -> dict[str, int]:
    """Region -> length from a linker script's MEMORY block (Zephyr's linker_zephyr_pre0.cmd)."""
    try:
        text = script.read_text(errors="replace")
    except OSError:
        return {}
    out: dict[str, int] = {}
    for m in _MEMORY_ENTRY.finditer(text):
        rest = text[m.end() :]
        expr = ""
        if rest.startswith("("):  # a parenthesised expression: up to its matching ')'
            depth = 0
            for i, ch in enumerate(rest):
                depth += {"(": 1, ")": -1}.get(ch, 0)
                if depth == 0:
                    expr = rest[: i + 1]
                    break
        else:
            word = re.match(r"\w+", rest)
            expr = word.group(0) if word else ""
        value = _eval_size(expr)
        if value is not None:
            out[m.group(1)] = value
    return out


def _eval_size(expr: str) -> int | None:
    # Linker-script sizes: numbers (hex too), K/M suffixes, + - * and parentheses only.
    expr = re.sub(r"\b(\d+)\s*K\b", r"(\1*1024)", expr)
    expr = re.sub(r"\b(\d+)\s*M\b", r"(\1*1048576)", expr)
    expr = re.sub(r"\bK\b", "1024", expr)
    if not expr.strip() or not re.fullmatch(r"[0-9a-fA-Fx()+\-* ]*", expr):
        return None
    try:
        return int(eval(expr, {"__builtins__": {}}, {}))  # characters checked above
    except Exception:
        return None


def overflow_message(output: str, regions: dict[str, int] | None = None) -> str | None:
    """``region `FLASH' overflowed by 1234 bytes`` -> a sentence naming region and bytes."""
    sizes = regions or {}
    over = _OVERFLOW.findall(output)
    if over:
        parts = [
            f"region {region} overflowed by {int(n):,} bytes"
            + (f" (region size {sizes[region]:,} bytes)" if region in sizes else "")
            for region, n in over
        ]
        return "the program does not fit: " + "; ".join(dict.fromkeys(parts))
    nofit = _NOT_FIT.findall(output)
    if nofit:
        section, region = nofit[0]
        return f"the program does not fit: section {section} does not fit in region {region}"
    return None


_MATH_INCLUDE = re.compile(rb"#\s*include\s*<(math\.h|cmath|tgmath\.h)>")


def uses_libm(sources: list[Path]) -> bool:
    """Whether a source (or a header next to it) includes the C math library."""
    seen: set[Path] = set()
    for src in sources:
        for path in [src, *src.parent.glob("*.h")]:
            if path in seen or not path.is_file():
                continue
            seen.add(path)
            if _MATH_INCLUDE.search(path.read_bytes()):
                return True
    return False


class ZephyrBuilder:
    """Writes and builds the Zephyr application of a run with one Zephyr installation."""

    def __init__(self, install: ZephyrInstall, cache: Cache) -> None:
        self.install = install
        self.cache = cache

    # -- choices ---------------------------------------------------------------------------
    def libc_for(self, artifact: Artifact, board: Board, options: ZephyrOptions) -> str:
        if options.libc != "auto":
            return options.libc
        if artifact.needs_cxx or artifact.libraries or uses_libm(artifact.sources):
            # Prebuilt C++ (TFLM) is compiled against the toolchain's C/C++ library headers;
            # Zephyr's minimal libc has no math library (expf, nearbyintf of TVM's kernels).
            return "newlib" if board.family == "arm" else "picolibc"
        return "minimal"

    def use_west(self, options: ZephyrOptions) -> bool:
        if options.build_tool == "cmake":
            return False
        has_west = self.install.is_west_workspace and self._west_available()
        if options.build_tool == "west" and not has_west:
            raise MissingToolError(
                "zephyr: build=west needs west (pip install west) and a west workspace "
                f"(none at {self.install.base.parent})"
            )
        return has_west

    @staticmethod
    def _west_available() -> bool:
        return importlib.util.find_spec("west") is not None

    # -- the application -----------------------------------------------------------------------
    def generate_app(
        self,
        artifact: Artifact,
        samples: SampleSet,
        board: Board,
        options: ZephyrOptions,
        app_dir: Path,
        harness_dir: Path,
    ) -> str:
        """Write the application into ``app_dir``; returns the libc it is configured for."""
        if app_dir.exists():
            shutil.rmtree(app_dir)
        src = app_dir / "src"
        src.mkdir(parents=True)
        for name in TEMPLATES:
            shutil.copy2(TEMPLATE_DIR / name, app_dir / name)
        shutil.copy2(TEMPLATE_DIR / GLUE, src / GLUE)
        for name in HARNESS_FILES:
            shutil.copy2(harness_dir / name, src / name)
        samples.write_c(src / "mlif_data.c")
        libc = self.libc_for(artifact, board, options)
        with (app_dir / "prj.conf").open("a") as conf:
            conf.write("\n# --- this run (pytest-mlonmcu) ---\n")
            conf.write("\n".join(self.kconfig_lines(artifact, board, options, libc)) + "\n")
        defines = {**artifact.defines, "MLIF_ZEPHYR_COUNTER": str(COUNTER_IDS[options.counter])}
        inputs = [
            "# Generated by pytest-mlonmcu: the backend's part of this application.",
            _cmake_list(
                "MLONMCU_HARNESS_SOURCES",
                [f"src/{n}" for n in ("main.c", "mlif_data.c", GLUE)],
            ),
            _cmake_list("MLONMCU_BACKEND_SOURCES", [str(s) for s in artifact.sources]),
            _cmake_list("MLONMCU_INCLUDE_DIRS", [str(d) for d in artifact.include_dirs]),
            _cmake_list(
                "MLONMCU_DEFINES",
                [f"{k}={v}" if v != "" else k for k, v in sorted(defines.items())],
            ),
            _cmake_list("MLONMCU_BACKEND_OPTIONS", list(artifact.extra_cflags)),
            _cmake_list("MLONMCU_LIBRARIES", [str(lib) for lib in artifact.libraries]),
            _cmake_list("MLONMCU_ZEPHYR_DEFINES", self.zephyr_defines(libc)),
        ]
        atomic_write_text(app_dir / INPUTS_FILE, "\n\n".join(inputs) + "\n")
        return libc

    def zephyr_defines(self, libc: str) -> list[str]:
        """Definitions for all of Zephyr's sources in this build."""
        if libc == "newlib":
            # Debian's newlib is built without retargetable locking, which Zephyr's newlib
            # hooks insist on; with the header-level switch they compile, provide locks that
            # this newlib never calls, and a single-threaded program does not need them.
            return ["_RETARGETABLE_LOCKING"]
        return []

    def kconfig_lines(
        self, artifact: Artifact, board: Board, options: ZephyrOptions, libc: str
    ) -> list[str]:
        lines = [f"CONFIG_MAIN_STACK_SIZE={options.stack_size}"]
        lines += OPTIMIZATIONS[options.optimize]
        if libc == "newlib":
            lines += ["CONFIG_NEWLIB_LIBC=y", "CONFIG_NEWLIB_LIBC_NANO=y"]
        elif libc == "picolibc":
            lines += ["CONFIG_PICOLIBC=y", "CONFIG_PICOLIBC_USE_TOOLCHAIN=y"]
        elif libc == "minimal":
            lines += ["CONFIG_MINIMAL_LIBC=y"]
        if artifact.needs_cxx:
            lines += ["CONFIG_CPP=y", "CONFIG_STD_CPP17=y"]
            if libc in ("newlib", "picolibc"):
                lines += ["CONFIG_REQUIRES_FULL_LIBCPP=y", "CONFIG_GLIBCXX_LIBCPP=y"]
        lines += list(board.kconfig)
        lines += list(options.kconfig)
        return lines

    # -- toolchain -------------------------------------------------------------------------------
    def cross_compile(self, board: Board) -> str:
        """CROSS_COMPILE for ``board``: Debian's cross GCC (riscv: through the -march wrapper)."""
        prefix = board.toolchain_prefix
        gcc = shutil.which(prefix + "gcc")
        if gcc is None:
            pkg = "gcc-arm-none-eabi" if board.family == "arm" else "gcc-riscv64-unknown-elf"
            raise MissingToolError(f"{prefix}gcc not found", hint=f"apt-get install {pkg}")
        real_prefix = str(Path(gcc).parent / prefix)
        if board.family != "riscv":
            return real_prefix
        return str(self._riscv_wrapper(real_prefix) / prefix)

    def _riscv_wrapper(self, real_prefix: str) -> Path:
        key = hash_key("zephyr-riscv-wrapper-v1", RISCV_WRAPPER, real_prefix)

        def produce(tmp: Path) -> None:
            folder = Path(real_prefix).parent
            name = Path(real_prefix).name
            for tool in folder.glob(name + "*"):
                (tmp / tool.name).symlink_to(tool)
            for driver in ("gcc", "g++"):
                path = tmp / (name + driver)
                if path.is_symlink():
                    path.unlink()
                path.write_text(RISCV_WRAPPER.replace("@REAL@", shlex.quote(real_prefix + driver)))
                path.chmod(0o755)

        return self.cache.get_or_create("zephyr-riscv-wrapper", key, produce)

    def environment(self, board: Board) -> dict[str, str]:
        return {
            "ZEPHYR_BASE": str(self.install.base),
            "ZEPHYR_TOOLCHAIN_VARIANT": "cross-compile",
            "CROSS_COMPILE": self.cross_compile(board),
        }

    # -- build -------------------------------------------------------------------------------------
    def cmake_args(self, board: Board, libc: str) -> list[str]:
        modules = self.install.module_paths(list(board.modules))
        args = [f"-DZEPHYR_MODULES={';'.join(str(m) for m in modules)}"]
        if libc == "newlib":
            args.append("-DTOOLCHAIN_HAS_NEWLIB=ON")
        if libc == "picolibc":
            args.append("-DTOOLCHAIN_HAS_PICOLIBC=ON")
        return args

    def build(
        self, app_dir: Path, build_dir: Path, board: Board, options: ZephyrOptions, libc: str
    ) -> ZephyrBuild:
        """Configure and build ``app_dir`` into ``build_dir``; the ELF is build/zephyr/zephyr.elf."""
        env_vars = self.environment(board)
        env = {**os.environ, **env_vars}
        jobs = options.jobs or len(os.sched_getaffinity(0))
        extra = self.cmake_args(board, libc)
        if build_dir.exists():
            shutil.rmtree(build_dir)
        west = self.use_west(options)
        if west:
            assert self.install.topdir is not None
            cwd: Path | None = self.install.topdir  # west finds its workspace from the cwd
            steps = [
                [sys.executable, "-m", "west", "build", "--pristine=always",
                 "-b", board.zephyr_board, "-d", str(build_dir), str(app_dir),
                 f"-o=-j{jobs}", "--", *extra],
            ]  # fmt: skip
        else:
            cwd = None
            steps = [
                ["cmake", "-GNinja", "-S", str(app_dir), "-B", str(build_dir),
                 f"-DBOARD={board.zephyr_board}", f"-DPython3_EXECUTABLE={sys.executable}",
                 *extra],
                ["cmake", "--build", str(build_dir), "-j", str(jobs)],
            ]  # fmt: skip
        lines = ["#!/bin/sh", "# Rebuild this Zephyr application by hand.", "set -e"]
        lines += [f"export {k}={shlex.quote(v)}" for k, v in env_vars.items()]
        if cwd is not None:
            lines.append(f"cd {shlex.quote(str(cwd))}")
        lines += [shlex.join(s) for s in steps]
        script = app_dir.parent / "compile_commands.sh"
        atomic_write_text(script, "\n".join(lines) + "\n")
        script.chmod(0o755)
        log_path = app_dir.parent / "build.log"
        start = time.monotonic()
        output = ""
        with log_path.open("w") as log:
            for cmd in steps:
                log.write(f"$ {shlex.join(cmd)}\n")
                log.flush()
                try:
                    result = proc.run(
                        cmd, timeout=proc.limit("build"), what=f"zephyr: building for {board.name}",
                        cwd=cwd, env=env, merge_output=True,
                    )  # fmt: skip
                except proc.ChildTimeout as exc:
                    log.write(exc.output)
                    raise CompileError(f"{exc}\n(build log: {log_path})") from None
                log.write(result.stdout)
                output += result.stdout
                if result.returncode != 0:
                    raise CompileError(
                        self._failure(
                            board, cmd, result.returncode, result.stdout, log_path, build_dir
                        )
                    )
        elf = build_dir / "zephyr" / "zephyr.elf"
        if not elf.is_file():
            raise CompileError(f"zephyr: the build made no {elf} (log: {log_path})")
        return ZephyrBuild(
            app_dir=app_dir,
            build_dir=build_dir,
            elf=elf,
            tool="west" if west else "cmake",
            libc=libc,
            commands=lines[3:],
            seconds=time.monotonic() - start,
            regions=parse_memory_regions(output),
        )

    def _failure(
        self, board: Board, cmd: list[str], rc: int, output: str, log: Path, build_dir: Path
    ) -> str:
        regions = linker_regions(build_dir / "zephyr" / "linker_zephyr_pre0.cmd")
        over = overflow_message(output, regions)
        if over:
            return f"{board.name} ({board.zephyr_board}): {over} (build log: {log})"
        tail = "\n".join(output.strip().splitlines()[-60:])
        return (
            f"zephyr build for {board.zephyr_board} failed (exit {rc}):\n$ {shlex.join(cmd)}\n"
            f"{tail[-6000:]}\n(full log: {log})"
        )
