"""The insn_count QEMU TCG plugin: find QEMU's plugin header, build, run, read.

Debian's QEMU packages ship neither ``qemu-plugin.h`` nor ready plugins, so the
plugin (``harness/qemu_plugin/insn_count.c``) is compiled with the host gcc the
first time a target needs it, into the per-user cache (keyed by the contents of
the source and of the header, built once under the cache's lock).

Where the header is looked for, first hit wins: the target's ``plugin_include``
config key, ``$MLONMCU_QEMU_PLUGIN_INCLUDE``, ``$MLONMCU_VENDOR_DIR/qemu-7.2`` (beside the
vendored snapshots), ``../shared/vendor/qemu-7.2`` next to the repository, ``/usr/include/qemu``, ``/usr/local/include/qemu``, ``/usr/include``.
"""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

from ...core import proc
from ...core.cache import Cache, hash_key
from ...core.errors import MissingToolError
from ...install.sources import VENDOR_DIR_ENV
from .target import HARNESS_DIR
from .toolchain import CommandLog, compiler_identity

PLUGIN_SOURCE = HARNESS_DIR / "qemu_plugin" / "insn_count.c"
HEADER_NAME = "qemu-plugin.h"
INCLUDE_ENV = "MLONMCU_QEMU_PLUGIN_INCLUDE"
REPO_ROOT = HARNESS_DIR.parent.parent  # the checkout holding pytest_mlonmcu/

HEADER_HINT = (
    f"The Cortex-M targets count instructions with a QEMU TCG plugin, which needs {HEADER_NAME} "
    "(QEMU's plugin API; Debian's qemu packages do not install it). Get it from the source "
    "package of the installed QEMU: add a `deb-src` entry, run `apt-get source qemu` and take "
    "include/qemu/qemu-plugin.h; then set MLONMCU_QEMU_PLUGIN_INCLUDE=<its directory> "
    "(or the config key <target>.plugin_include)."
)


def header_candidates(configured: Path | None = None) -> list[Path]:
    dirs: list[Path] = []
    if configured is not None:
        dirs.append(configured)
    env = os.environ.get(INCLUDE_ENV)
    if env:
        dirs.append(Path(env).expanduser())
    vendor = os.environ.get(VENDOR_DIR_ENV)
    if vendor:  # beside the vendored ETISS, TFLM and Zephyr snapshots
        dirs.append(Path(vendor).expanduser() / "qemu-7.2")
    dirs += [
        REPO_ROOT.parent / "shared" / "vendor" / "qemu-7.2",
        Path("/usr/include/qemu"),
        Path("/usr/local/include/qemu"),
        Path("/usr/include"),
    ]
    return dirs


def find_plugin_header(configured: Path | None = None) -> Path | None:
    """The directory holding qemu-plugin.h (a path to the file itself is accepted too)."""
    for d in header_candidates(configured):
        if d.is_file() and d.name == HEADER_NAME:
            return d.parent
        if (d / HEADER_NAME).is_file():
            return d
    return None


def plugin_unavailable_reason(configured: Path | None = None) -> str | None:
    if shutil.which("gcc") is None:
        return "the host gcc is missing (it builds the QEMU plugin): apt-get install gcc"
    if find_plugin_header(configured) is None:
        looked = ", ".join(str(d) for d in header_candidates(configured))
        return f"{HEADER_NAME} not found (looked in: {looked}). {HEADER_HINT}"
    return None


@functools.cache
def _glib_flags() -> list[str]:
    # The plugin does not use glib itself; QEMU's own plugins are built with it, so
    # pass its flags when present (the header does not include glib.h either).
    if shutil.which("pkg-config") is None:
        return []
    result = proc.run(
        ["pkg-config", "--cflags", "--libs", "glib-2.0"],
        timeout=proc.limit("query"), what="pkg-config",
    )  # fmt: skip
    return result.stdout.split() if result.returncode == 0 else []


def build_insn_count_plugin(cache: Cache, configured: Path | None = None) -> Path:
    """Path of the built insn_count.so (compiled once per source/header content)."""
    include = find_plugin_header(configured)
    if include is None:
        raise MissingToolError(f"{HEADER_NAME} not found", hint=HEADER_HINT)
    glib = _glib_flags()
    key = hash_key(
        "insn_count-v1", PLUGIN_SOURCE, include / HEADER_NAME, compiler_identity("gcc"), glib
    )

    def produce(tmp: Path) -> None:
        cmd = ["gcc", "-shared", "-fPIC", "-O2", "-Wall", f"-I{include}"]
        cmd += [str(PLUGIN_SOURCE), "-o", str(tmp / "insn_count.so"), *glib]
        CommandLog().run(cmd, what="building the QEMU insn_count plugin")

    return cache.get_or_create("qemu-plugin", key, produce) / "insn_count.so"


def _escape(value: str) -> str:
    # QEMU's option parser splits at commas; a literal comma is written twice.
    return value.replace(",", ",,")


def plugin_args(
    plugin: Path, begin: int, end: int, out: Path, point: int | None = None
) -> list[str]:
    """QEMU arguments loading the plugin to count from ``begin`` to ``end`` (and, for feature
    profile, to report each execution of ``point``)."""
    spec = f"{_escape(str(plugin))},begin={begin:#x},end={end:#x}"
    if point is not None:
        spec += f",point={point:#x}"
    return ["-plugin", spec + f",out={_escape(str(out))}"]


def read_plugin_counts(out: Path) -> tuple[list[int], int | None]:
    """(instructions per begin/end region in execution order, total or None)."""
    regions, total, _ = read_plugin_output(out)
    return regions, total


def read_plugin_output(out: Path) -> tuple[list[int], int | None, list[int]]:
    """Regions, total and the points (instructions executed before each point, in order)."""
    regions: list[int] = []
    points: list[int] = []
    total = None
    if not out.exists():
        return regions, total, points
    for line in out.read_text().splitlines():
        kind, _, value = line.partition(" ")
        if kind == "region":
            regions.append(int(value))
        elif kind == "point":
            points.append(int(value))
        elif kind == "total":
            total = int(value)
    return regions, total, points
