"""TensorFlow Lite Micro as a static library per target, built from the pinned source tree.

The source tree comes from ``install/tflm.py``. The library's source list is TFLM's own
(``tools/make/sources.inc``, read by ``make`` through a tiny makefile), without
``debug_log.cc``: ``DebugLog``/``DebugVsnprintf`` come with each program
(``backends/tflmi/tflm_debug_log.cc``) so the library does not depend on the harness.

A target's variant (``spec_for_target``: its ISA/ABI/FPU and optimisation flags, plus features
such as ``cmsisnn``) has a key (source identity, compiler, flags, features). Each of its
objects is one cache entry ``tflm-object/<key, file>``, so every library of the variant shares
them. A model gets a library of the interpreter, the shared kernel helpers and only the
kernels its operators register (``kernel_selection``), one entry ``tflm-lib/<key, methods>``:
a new model compiles only its new kernels. ``python -m pytest_mlonmcu install tflm`` builds
the whole library. Compiles run in parallel with machine-wide job slots (``core/slots.py``),
under the cache's locks: parallel sessions and xdist workers build each object once.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ...core import proc
from ...core.cache import Cache, hash_key
from ...core.config import ComponentConfig
from ...core.errors import CompileError, MissingToolError
from ...core.slots import cores, job_slot
from ...install.sources import Progress, source_identity
from ...install.tflm import SourceTree, TflmInstaller, TflmInstallError, source_tree
from ...platforms.mlif.riscv import PICOLIBC_INCLUDE, cxx_header_flags
from ...platforms.mlif.toolchain import compiler_identity

if TYPE_CHECKING:
    from ...platforms.mlif.target import CompiledTarget

METADATA = "mlonmcu-tflm.json"
LIBRARY_NAME = "libtflm.a"

# Flags that worked for the interpreter on every target (PLATFORM_FACTS.md, "TensorFlow Lite
# Micro"). -ffp-contract=off keeps float rounding as on the x86 wheel (no fused multiply-add).
COMMON_FLAGS = [
    "-ffp-contract=off",
    "-ffunction-sections",
    "-fdata-sections",
    "-fno-unwind-tables",
    "-fno-asynchronous-unwind-tables",
]
DEFINES = {
    "TF_LITE_STATIC_MEMORY": "",
    "TF_LITE_DISABLE_X86_NEON": "",
    "TF_LITE_MCU_DEBUG_LOG": "",
    "NDEBUG": "",
}
CXX_FLAGS = [
    "-std=c++17",
    "-fno-rtti",
    "-fno-exceptions",
    "-fno-threadsafe-statics",
    "-fno-use-cxa-atexit",
]
C_FLAGS = ["-std=gnu11"]
# CMSIS-NN as TFLM's Makefile builds it (OPTIMIZED_KERNEL_DIR=cmsis_nn, int8/int16 only).
CMSISNN_DEFINES = {"CMSIS_NN": "", "ARM_NN_ENABLE_F16": "0", "ARM_NN_ENABLE_F32": "0"}
# Bump when the build recipe changes: a new key rebuilds instead of reusing.
RECIPE_VERSION = 1

# Failed builds per cache key in this process: one failure is reported, not rebuilt per test.
_FAILED: dict[str, MissingToolError] = {}


# -- what a library variant depends on ------------------------------------------------------


@dataclass(frozen=True)
class LibrarySpec:
    """Everything a TFLM library variant depends on besides the source.

    ``arch_flags`` select ISA/ABI/FPU (the target's), ``system_flags`` the C library headers,
    ``cxx_system_flags`` the C++ headers; ``features`` switch kernel sets (``cmsisnn``).
    """

    label: str  # "riscv_qemu rv32gc": for progress lines and reports
    prefix: str  # "riscv64-unknown-elf-"
    arch_flags: tuple[str, ...]
    opt_flags: tuple[str, ...] = ("-O2",)
    system_flags: tuple[str, ...] = ()
    cxx_system_flags: tuple[str, ...] = ()
    features: tuple[str, ...] = ()

    def identity(self) -> dict:
        """The parts that make two builds differ (not the label)."""
        return {
            "prefix": self.prefix,
            "compiler": compiler_identity(self.prefix + "gcc"),
            "cxx_compiler": compiler_identity(self.prefix + "g++"),
            # The recipe's own flags, so that editing them rebuilds without a version bump.
            "common": COMMON_FLAGS,
            "c": C_FLAGS,
            "cxx": CXX_FLAGS,
            "defines": self.defines(),
            "arch": list(self.arch_flags),
            "opt": list(self.opt_flags),
            "system": list(self.system_flags),
            "cxx_system": list(self.cxx_system_flags),
            "features": sorted(self.features),
        }

    def defines(self) -> dict[str, str]:
        out = dict(DEFINES)
        if "cmsisnn" in self.features:
            out.update(CMSISNN_DEFINES)
        return out

    def cflags(self) -> list[str]:
        """Flags for every file of the library (and the program's TFLM glue)."""
        return [*self.arch_flags, *self.system_flags, *self.opt_flags, *COMMON_FLAGS]

    def cxxflags(self) -> list[str]:
        return [*CXX_FLAGS, *self.cxx_system_flags]


# Flags of a target's toolchain that change the generated code's ISA/ABI.
_ARCH_FLAG = re.compile(r"^-(march|mabi|misa-spec|mcpu|mtune|mfloat-abi|mfpu|mcmodel)=|^-mthumb$")


def arch_flags_of(cflags: Sequence[str]) -> tuple[str, ...]:
    return tuple(f for f in cflags if _ARCH_FLAG.match(f))


def opt_flags_of(cflags: Sequence[str]) -> tuple[str, ...]:
    opts = [f for f in cflags if re.match(r"^-O[0-3sgz]?$|^-Ofast$", f)]
    return tuple(opts[-1:]) or ("-O2",)


# -- the library's key ----------------------------------------------------------------------


def library_key(spec: LibrarySpec, config: ComponentConfig | None = None) -> str:
    """The cache key of ``spec``'s library (cheap: no unpacking, no compiling)."""
    source = TflmInstaller(config).plan().source
    assert source is not None
    return hash_key("tflm-lib", RECIPE_VERSION, source_identity(source), spec.identity())


# -- what the source offers -----------------------------------------------------------------

_LIST_MAKEFILE = """\
TENSORFLOW_ROOT :=
include tensorflow/lite/micro/tools/make/sources.inc
print-sources:
\t@echo $(filter-out $(MICROLITE_TEST_SRCS) $(MICROLITE_BENCHMARK_SRCS),\
$(MICROLITE_CC_BASE_SRCS)) $(MICROLITE_CC_KERNEL_SRCS)
"""
DEBUG_LOG_SOURCE = "tensorflow/lite/micro/debug_log.cc"


def library_sources(tree: SourceTree, features: Sequence[str] = ()) -> list[str]:
    """The library's files, relative to the tree: TFLM's own list (+ CMSIS-NN)."""
    if shutil.which("make") is None:
        raise TflmInstallError("reading TFLM's source list needs make (apt-get install make)")
    with tempfile.NamedTemporaryFile("w", suffix=".mk", delete=False) as mk:
        mk.write(_LIST_MAKEFILE)
    try:
        result = proc.run(
            ["make", "-s", "-f", mk.name, "print-sources"],
            timeout=proc.limit("query"),
            what="make print-sources",
            cwd=tree.root,
        )
    finally:
        os.unlink(mk.name)
    if result.returncode != 0:
        raise TflmInstallError(f"cannot read TFLM's sources.inc:\n{result.stderr.strip()[-2000:]}")
    files = [f for f in result.stdout.split() if f != DEBUG_LOG_SOURCE]
    if "cmsisnn" in features:
        # As TFLM's Makefile with OPTIMIZED_KERNEL_DIR=cmsis_nn: kernels/cmsis_nn/X.cc replaces
        # kernels/X.cc; CMSIS-NN's C sources without the float variants.
        kernels = "tensorflow/lite/micro/kernels/"
        files = [
            f"{kernels}cmsis_nn/{f[len(kernels) :]}"
            if f.startswith(kernels)
            and (tree.root / kernels / "cmsis_nn" / f[len(kernels) :]).is_file()
            else f
            for f in files
        ]
        nn = tree.third_party / "cmsis_nn" / "Source"
        for c in sorted(nn.rglob("*.c")):
            if c.name.endswith(("_f16.c", "_f32.c")) or c.name == "arm_nntables_flt.c":
                continue
            files.append(os.path.relpath(c, tree.root))
    return files


@dataclass(frozen=True)
class Operators:
    """What ``MicroMutableOpResolver`` can register: builtin name / custom code -> method."""

    builtin: dict[str, str]
    custom: dict[str, str]
    # method -> the kernel registrations it adds by default (Register_CONV_2D, ...)
    registrations: dict[str, tuple[str, ...]] = field(default_factory=dict)


_METHOD = re.compile(r"TfLiteStatus\s+(Add\w+)\s*\(")
_REGISTRATION_USE = re.compile(r"\b(Register_\w+)\s*\(")
_REGISTRATION_DEF = re.compile(r"\b(Register_\w+)\s*\(\s*\)\s*\{")
KERNELS_DIR = "tensorflow/lite/micro/kernels/"


@functools.cache
def _operators_of(header: Path, mtime: int) -> Operators:
    text = header.read_text()
    builtin: dict[str, str] = {}
    custom: dict[str, str] = {}
    registrations: dict[str, tuple[str, ...]] = {}
    starts = [(m.start(), m.group(1)) for m in _METHOD.finditer(text)]
    for (pos, name), nxt in zip(starts, [*starts[1:], (len(text), "")]):
        body = text[pos : nxt[0]]
        if name in ("AddBuiltin", "AddCustom"):
            continue
        registrations.setdefault(name, tuple(dict.fromkeys(_REGISTRATION_USE.findall(body))))
        b = re.search(r"BuiltinOperator_(\w+)", body)
        c = re.search(r'AddCustom\(\s*"([^"]+)"', body)
        if b:
            builtin.setdefault(b.group(1), name)
        elif c and "tflm_signal::" not in body:
            # Signal-library ops are not part of the library built here.
            custom.setdefault(c.group(1), name)
    return Operators(builtin, custom, registrations)


def resolver_operators(tree: SourceTree) -> Operators:
    """Parsed from the tree's ``micro_mutable_op_resolver.h`` (the resolver's known list)."""
    header = tree.root / "tensorflow" / "lite" / "micro" / "micro_mutable_op_resolver.h"
    return _operators_of(header, header.stat().st_mtime_ns)


def kernel_selection(tree: SourceTree, files: Sequence[str], methods: Sequence[str]) -> list[str]:
    """``files`` (the library's, in order) without the kernels that a model using the resolver
    ``methods`` cannot reach: a kernel file is kept when it defines no registration (the
    shared helpers: kernel_util.cc, conv_common.cc, ...) or one of the methods' registrations.
    Everything outside kernels/ (the interpreter) is kept. The linker pulls the same members
    from this archive as from the whole one: the program does not change.
    """
    ops = resolver_operators(tree)
    wanted: set[str] = set()
    for method in methods:
        if not ops.registrations.get(method):
            return list(files)  # a method without a known registration: keep every kernel
        wanted.update(ops.registrations[method])
    kept = []
    for rel in files:
        if rel.startswith(KERNELS_DIR) and rel.endswith(".cc"):
            defined = _registrations_defined(tree.root / rel)
            if defined and not wanted.intersection(defined):
                continue
        kept.append(rel)
    return kept


@functools.cache
def _registrations_defined(path: Path) -> frozenset[str]:
    return frozenset(_REGISTRATION_DEF.findall(path.read_text(errors="replace")))


# -- the library ----------------------------------------------------------------------------


@dataclass
class TflmLibrary:
    archive: Path
    include_dirs: list[Path]
    defines: dict[str, str]
    cxxflags: list[str]  # the C++ dialect flags the program's TFLM glue must use too
    key: str
    spec: LibrarySpec
    tree: SourceTree
    metadata: dict = field(default_factory=dict)
    # True when this call found the library in the cache (no compiling).
    cached: bool = True

    @property
    def build_seconds(self) -> float | None:
        return self.metadata.get("build_seconds")


def ensure_tflm_library(
    spec: LibrarySpec,
    config: ComponentConfig | None = None,
    cache: Cache | None = None,
    progress: Progress | None = None,
    methods: Sequence[str] | None = None,
) -> TflmLibrary:
    """The TFLM library for ``spec``: every kernel, or only what a model using the resolver
    ``methods`` can reach (``kernel_selection``).

    Each object is compiled once per variant into the cache (``tflm-object``), so libraries
    of different models share them and a new model compiles only its new kernels; the
    archive is one cache entry per selection. ``progress`` receives lines like
    ``tflm[riscv_qemu rv32gc]: compiling 40/95``.
    """
    cache = cache or Cache()
    say = progress or (lambda _m: None)
    key = library_key(spec, config)
    if key in _FAILED:
        raise _FAILED[key]
    tree = source_tree(config, cache, say)
    archive_key = key if methods is None else hash_key(key, "kernels for", sorted(set(methods)))
    entry = cache.lookup("tflm-lib", archive_key)
    built = False
    if entry is None:

        def produce(tmp: Path) -> None:
            nonlocal built
            built = True
            files = library_sources(tree, spec.features)
            if methods is not None:
                files = kernel_selection(tree, files, methods)
            _build(spec, key, tree, files, tmp, cache, say)

        try:
            entry = cache.get_or_create("tflm-lib", archive_key, produce)
        except MissingToolError as exc:
            _FAILED[key] = exc
            raise
    meta = json.loads((entry / METADATA).read_text())
    return TflmLibrary(
        archive=entry / LIBRARY_NAME,
        include_dirs=tree.include_dirs(spec.features),
        defines=spec.defines(),
        cxxflags=list(CXX_FLAGS),
        key=key,
        spec=spec,
        tree=tree,
        metadata=meta,
        cached=not built,
    )


def _object_name(rel: str) -> str:
    # Unique per source path (kernels/conv.cc and kernels/cmsis_nn/conv.cc both exist).
    return rel.replace("/", "__").rsplit(".", 1)[0] + ".o"


OBJECT = "object.o"


def _build(
    spec: LibrarySpec,
    key: str,
    tree: SourceTree,
    files: Sequence[str],
    out: Path,
    cache: Cache,
    say: Progress,
) -> None:
    label = f"tflm[{spec.label}]"
    for tool in ("gcc", "g++", "ar"):
        if shutil.which(spec.prefix + tool) is None:
            raise TflmInstallError(f"{label}: {spec.prefix}{tool} is not installed")
    includes = [f"-I{d}" for d in tree.include_dirs(spec.features)]
    defines = [f"-D{k}={v}" if v else f"-D{k}" for k, v in sorted(spec.defines().items())]
    commands: list[list[str]] = []
    for rel in files:
        cxx = rel.endswith((".cc", ".cpp"))
        cmd = [spec.prefix + ("g++" if cxx else "gcc"), *spec.cflags()]
        cmd += spec.cxxflags() if cxx else C_FLAGS
        # Objects relative to the entry: build_commands.sh stays valid after the rename.
        cmd += [*defines, *includes, "-c", str(tree.root / rel), "-o", f"obj/{_object_name(rel)}"]
        commands.append(cmd)
    # One cache entry per object and variant: shared by every selection of this variant.
    object_keys = [hash_key("tflm-object", key, rel) for rel in files]
    missing = sum(cache.lookup("tflm-object", k) is None for k in object_keys)
    jobs = cores()
    start = time.monotonic()
    say(
        f"{label}: {len(files)} files, compiling {missing} (the rest are cached) "
        f"from {tree.origin} with {jobs} jobs"
    )
    done = 0
    last = (0.0, -1)
    lock = threading.Lock()
    stopped: list[bool] = []

    def compile_one(cmd: list[str], object_key: str) -> Path:
        def produce(tmp: Path) -> None:
            nonlocal done, last
            if stopped:  # after a failure or Ctrl-C the queued compiles end at once
                raise TflmInstallError(f"{label}: stopped after an earlier failure")
            argv = [*cmd[:-1], str(tmp / OBJECT)]
            with job_slot(cache.root):  # never more compilers than cores, machine-wide
                result = proc.run(argv, timeout=proc.limit("compile"), what="compiling TFLM")
            if result.returncode != 0:
                raise TflmInstallError(
                    f"{label}: compiling TFLM failed:\n$ {shlex.join(argv)}\n"
                    f"{result.output.strip()[-3000:]}"
                )
            with lock:
                done += 1
                now = time.monotonic()
                # A line per ~10% or 20 s: enough to show life without flooding.
                if (
                    done == missing
                    or done - last[1] >= max(1, missing // 10)
                    or now - last[0] >= 20
                ):
                    say(f"{label}: compiling {done}/{missing}")
                    last = (now, done)

        return cache.get_or_create("tflm-object", object_key, produce) / OBJECT

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        try:
            objects = list(pool.map(compile_one, commands, object_keys))
        except BaseException:
            stopped.append(True)
            raise
    # Members named as before (ar keeps a path's last part), in TFLM's order.
    (out / "obj").mkdir()
    for cmd, obj in zip(commands, objects):
        (out / cmd[-1]).symlink_to(obj)
    ar = [spec.prefix + "ar", "rcs", LIBRARY_NAME, *(c[-1] for c in commands)]
    result = proc.run(ar, timeout=proc.limit("compile"), what=f"{spec.prefix}ar", cwd=out)
    if result.returncode != 0:
        raise TflmInstallError(f"{label}: {spec.prefix}ar failed: {result.stderr.strip()[-2000:]}")
    shutil.rmtree(out / "obj")  # links into the object cache; the archive holds copies
    script = ["#!/bin/sh", "# Rebuilds libtflm.a next to this script.", "set -e"]
    script += ['cd "$(dirname "$0")"', "mkdir -p obj"]
    script += [shlex.join(c) for c in commands] + [shlex.join(ar)]
    (out / "build_commands.sh").write_text("\n".join(script) + "\n")
    seconds = time.monotonic() - start
    meta = {
        "label": spec.label,
        "origin": tree.origin,
        "source_root": str(tree.root),
        "identity": spec.identity(),
        "cflags": spec.cflags(),
        "cxxflags": spec.cxxflags(),
        "defines": spec.defines(),
        "files": len(files),
        "kernels": sorted(f for f in files if f.startswith(KERNELS_DIR)),
        "compiled": missing,
        "jobs": jobs,
        "build_seconds": round(seconds, 1),
        "archive_bytes": (out / LIBRARY_NAME).stat().st_size,
        "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (out / METADATA).write_text(json.dumps(meta, indent=2) + "\n")
    say(
        f"{label}: built {LIBRARY_NAME} ({len(files)} files, {missing} compiled) in {seconds:.0f} s"
    )


# -- a target's library ---------------------------------------------------------------------


def spec_for_target(target: CompiledTarget, features: Sequence[str] = ()) -> LibrarySpec:
    """The library variant for ``target``: its ISA/ABI/FPU and optimisation flags.

    Only code-relevant flags come from the target (-march/-mabi/-mcpu/-mfpu...), and the system
    headers are fixed per toolchain, so targets that generate the same code (etiss and
    riscv_qemu, both rv32gc) share one library.
    """
    tc = target.toolchain()
    ident = target.identity()
    label = " ".join([target.name, *(v for k, v in ident.items() if k != "target")])
    if "cmsisnn" in features:
        label += " +cmsisnn"
    system: tuple[str, ...]
    cxx_system: tuple[str, ...]
    if tc.prefix == "riscv64-unknown-elf-":
        # No C++ library for riscv64-unknown-elf in Debian: arm-none-eabi's headers work
        # (their ARM-specific parts sit behind __ARM_EABI__).
        system = ("--specs=picolibc.specs",)
        cxx_system = (*cxx_header_flags(), "-isystem", str(PICOLIBC_INCLUDE))
    elif tc.prefix == "arm-none-eabi-":
        system, cxx_system = ("--specs=nano.specs",), ()
    else:
        system = tuple(f for f in tc.cflags if f.startswith("--specs="))
        cxx_system = tuple(tc.cxxflags)
    return LibrarySpec(
        label=label,
        prefix=tc.prefix,
        arch_flags=arch_flags_of(tc.cflags),
        opt_flags=opt_flags_of(tc.cflags),
        system_flags=system,
        cxx_system_flags=cxx_system,
        features=tuple(sorted(set(features))),
    )


def compile_with_library(
    lib: TflmLibrary,
    source: Path,
    headers: Sequence[Path],
    cache: Cache,
    include_dirs: Sequence[Path] = (),
    extra_defines: dict[str, str] | None = None,
) -> tuple[Path, list[str]]:
    """Compile a C++ file that uses TFLM's headers with the library's own flags, cached.

    ``headers`` are the file's own headers (copied next to it, part of the key); the object
    depends on nothing else but the library, so programs of every target that shares the
    library share it too. Returns the object and the command that made it.
    """
    all_defines = {**lib.defines, **(extra_defines or {})}
    key = hash_key("tflm-obj-v1", lib.key, source, *headers, [str(d) for d in include_dirs])
    if extra_defines:  # keys of the objects without them stay as they were
        key = hash_key(key, sorted(extra_defines.items()))
    spec = lib.spec
    defines = [f"-D{k}={v}" if v else f"-D{k}" for k, v in sorted(all_defines.items())]
    obj_name = source.stem + ".o"

    def command(where: Path) -> list[str]:
        cmd = [spec.prefix + "g++", *spec.cflags(), *spec.cxxflags(), *defines]
        cmd += [f"-I{where}", *[f"-I{d}" for d in [*include_dirs, *lib.include_dirs]]]
        return cmd + ["-c", str(where / source.name), "-o", str(where / obj_name)]

    def produce(tmp: Path) -> None:
        for f in (source, *headers):
            shutil.copy2(f, tmp / f.name)
        cmd = command(tmp)
        result = proc.run(cmd, timeout=proc.limit("compile"), what=f"compiling {source.name}")
        if result.returncode != 0:
            out = result.output.strip()
            raise CompileError(
                f"compiling {source.name} failed:\n$ {shlex.join(cmd)}\n{out[-4000:]}"
            )

    entry = cache.get_or_create("tflm-obj", key, produce)
    return entry / obj_name, command(entry)
