"""Compiling and linking C/C++ with a GCC toolchain; every command is recorded.

The recorded commands are written to the run's ``compile_commands.sh`` so that a
user can rebuild the program by hand. Objects are cached by content in objects.py.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ...core import proc
from ...core.errors import CompileError


@dataclass
class Toolchain:
    prefix: str  # "riscv64-unknown-elf-", "arm-none-eabi-", "" for the host
    cflags: list[str] = field(default_factory=list)  # common C and C++ flags (arch, -O2, ...)
    cstd: list[str] = field(default_factory=lambda: ["-std=gnu11"])
    cxxflags: list[str] = field(default_factory=list)  # C++ only
    ldflags: list[str] = field(default_factory=list)
    libs: list[str] = field(default_factory=list)
    cxx_driver: str = "g++"  # riscv links C++ with gcc (no libstdc++ there)

    @property
    def cc(self) -> str:
        return f"{self.prefix}gcc"

    @property
    def cxx(self) -> str:
        return f"{self.prefix}g++"

    def identity(self) -> list:
        """Everything that changes what this toolchain produces, compilers' versions included."""
        flags = [self.prefix, self.cflags, self.cstd, self.cxxflags, self.ldflags, self.libs]
        return [*flags, compiler_identity(self.cc), compiler_identity(self.cxx)]


@functools.cache
def compiler_identity(compiler: str) -> str:
    """``<resolved path>: <first line of --version>`` ('' when not installed), once per process.

    Part of every cache key of compiled code: another compiler (an upgrade, another install
    first in PATH) must not reuse objects built by this one.
    """
    found = shutil.which(compiler)
    if found is None:
        return ""
    resolved = os.path.realpath(found)
    try:
        result = proc.run([found, "--version"], timeout=proc.limit("query"), what=compiler)
    except (OSError, proc.ChildTimeout) as exc:
        return f"{resolved}: --version failed: {exc}"
    lines = result.stdout.splitlines() if result.returncode == 0 else []
    return f"{resolved}: {lines[0].strip() if lines else f'--version exit {result.returncode}'}"


class CommandLog:
    """Runs toolchain commands, keeps them for compile_commands.sh."""

    def __init__(self) -> None:
        self.commands: list[list[str]] = []

    def run(self, cmd: list[str], cwd: Path | None = None, what: str = "") -> str:
        self.commands.append(cmd)
        try:
            result = proc.run(cmd, timeout=proc.limit("compile"), what=what or cmd[0], cwd=cwd)
        except proc.ChildTimeout as exc:
            raise CompileError(str(exc)) from None
        if result.returncode != 0:
            out = result.output.strip()
            raise CompileError(
                f"{what or cmd[0]} failed (exit {result.returncode}):\n"
                f"$ {shlex.join(cmd)}\n{out[-4000:]}"
            )
        return result.stdout

    def write_script(self, path: Path) -> None:
        lines = [
            "#!/bin/sh",
            "# Commands that built this program (rerun to rebuild by hand).",
            "set -e",
        ]
        lines += [shlex.join(c) for c in self.commands]
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o755)


def object_command(
    tc: Toolchain,
    source: Path,
    obj: Path,
    include_dirs: list[Path],
    defines: dict[str, str],
    extra: list[str],
) -> list[str]:
    is_cxx = source.suffix in (".cc", ".cpp", ".cxx")
    cmd = [tc.cxx if is_cxx else tc.cc, *tc.cflags]
    cmd += tc.cxxflags if is_cxx else tc.cstd
    cmd += extra
    cmd += [f"-D{k}={v}" if v != "" else f"-D{k}" for k, v in sorted(defines.items())]
    cmd += [f"-I{d}" for d in include_dirs]
    return cmd + ["-c", str(source), "-o", str(obj)]
