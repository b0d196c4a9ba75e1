"""TensorFlow Lite Micro as a static library per target, built from pinned source.

Where the TFLM source comes from, first match wins:

1. config ``tflm.source`` or ``$MLONMCU_TFLM_SOURCE`` (a directory or a tarball; ``URL@COMMIT``
   works too);
2. the vendored snapshot ``$MLONMCU_VENDOR_DIR/tflm-90b983c2-src.tar.xz`` (TFLM plus the
   third-party code its download scripts fetch, see its ``tflm/VENDORED.md``);
3. upstream github.com/tensorflow/tflite-micro at the pinned commit, with the third-party
   versions its download scripts pin (cloned into TFLM's own ``tools/make/downloads`` layout).

A tarball or clone is unpacked once into the cache (``tflm-src/<key>/src``); a directory is used
in place. The source list is TFLM's own (``tools/make/sources.inc``, read by ``make`` through a
tiny makefile), without ``debug_log.cc``: ``DebugLog``/``DebugVsnprintf`` come with each program
(``backends/tflmi/tflm_debug_log.cc``) so the library does not depend on the harness.

Each library variant is one cache entry ``tflm-lib/<key>`` (key = source identity, compiler,
flags, features), built under the cache's lock with ``-j <cpus>`` parallel compiles and renamed
into place when complete: parallel sessions and xdist workers build it once, everyone else
waits and then reuses it.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..core import proc
from ..core.cache import Cache, hash_key
from ..core.config import ComponentConfig, RunConfig
from ..core.errors import MissingToolError
from ..platforms.mlif.toolchain import compiler_identity
from .sources import Progress, Source, SourceError, local_source, materialize, source_identity

if TYPE_CHECKING:
    from ..platforms.mlif.target import CompiledTarget

UPSTREAM_URL = "https://github.com/tensorflow/tflite-micro"
# 2026-08-20. Only this abbreviated commit is recorded (the vendored snapshot's name and its
# VENDORED.md; the snapshot has no .git); the snapshot itself is pinned by digest.
PINNED_COMMIT = "90b983c2"
VENDOR_TARBALL = f"tflm-{PINNED_COMMIT}-src.tar.xz"
VENDOR_SHA256 = "bad5db974994d6e2bcf1a63976cbde2b081f31768098fe7b5976a4be7552b1e3"
ENV_SOURCE = "MLONMCU_TFLM_SOURCE"
ENV_VENDOR_DIR = "MLONMCU_VENDOR_DIR"
METADATA = "mlonmcu-tflm.json"
LIBRARY_NAME = "libtflm.a"

# TFLM's Makefile layout for downloaded third-party code (used for upstream clones).
DOWNLOADS_DIR = "tensorflow/lite/micro/tools/make/downloads"
FLATBUFFERS_PATCH = "tensorflow/lite/micro/tools/make/flatbuffers.patch"


@dataclass(frozen=True)
class ThirdParty:
    name: str  # folder under the downloads dir
    url: str
    revision: str  # the full commit TFLM's download scripts pin (by tag or commit)


# The versions TFLM 90b983c2's download scripts pin (see tflm/VENDORED.md of the snapshot).
THIRD_PARTY = [
    ThirdParty(  # tag v25.9.23
        "flatbuffers",
        "https://github.com/google/flatbuffers",
        "187240970746d00bbd26b0f5873ed54d2477f9f3",
    ),
    ThirdParty(
        "gemmlowp",
        "https://github.com/google/gemmlowp",
        "719139ce755a0f31cbf1c37f7f98adcc7fc9f425",
    ),
    ThirdParty("ruy", "https://github.com/google/ruy", "d37128311b445e758136b8602d1bbd2a755e115d"),
    ThirdParty(
        "cmsis_nn",
        "https://github.com/ARM-software/CMSIS-NN",
        "4ab83cc3cc98fb85ed6dafb55e8ca02f1628dcae",
    ),
    ThirdParty(
        "cmsis",
        "https://github.com/ARM-software/CMSIS_6",
        "5782d6f8057906d360f4b95ec08a2354afe5c9b9",
    ),
]

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

_FAILED: dict[str, MissingToolError] = {}


class TflmInstallError(MissingToolError):
    """The TFLM source could not be found, fetched or built."""


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


# -- where the source comes from ------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    source: Source
    origin: str  # for messages: "$MLONMCU_VENDOR_DIR/tflm-...", "tflm.source=..."


def _config(config: ComponentConfig | None) -> ComponentConfig:
    return config if config is not None else RunConfig().scoped("tflm")


def _plan(config: ComponentConfig) -> _Plan:
    try:
        source, origin = local_source(config, ENV_SOURCE, VENDOR_TARBALL, VENDOR_SHA256)
    except SourceError as exc:
        text, origin = config.setting("source", ENV_SOURCE)
        raise TflmInstallError(f"{origin}: {exc}" if text else f"TFLM source: {exc}") from exc
    if source is None:
        return _Plan(Source("git", UPSTREAM_URL, PINNED_COMMIT), "upstream")
    return _Plan(source, origin)


def _source_key(plan: _Plan) -> str:
    return hash_key("tflm-src", source_identity(plan.source), [t.__dict__ for t in THIRD_PARTY])


def library_key(spec: LibrarySpec, config: ComponentConfig | None = None) -> str:
    """The cache key of ``spec``'s library (cheap: no unpacking, no compiling)."""
    plan = _plan(_config(config))
    return hash_key("tflm-lib", RECIPE_VERSION, source_identity(plan.source), spec.identity())


_SOURCE_HINT = (
    f"set {ENV_VENDOR_DIR} to a directory holding {VENDOR_TARBALL}, or {ENV_SOURCE} "
    "(or tflm.source) to a TFLM tarball or checkout with its third-party downloads"
)


# -- the source tree -------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceTree:
    """A TFLM source tree and where its third-party code sits in it."""

    root: Path
    third_party: Path  # holds flatbuffers/, gemmlowp/, ruy/, cmsis_nn/, cmsis/
    origin: str

    def include_dirs(self, features: Sequence[str] = ()) -> list[Path]:
        tp = self.third_party
        dirs = [self.root, tp / "gemmlowp", tp / "flatbuffers" / "include", tp / "ruy"]
        if "cmsisnn" in features:
            # As TFLM's cmsis_nn.inc: CMSIS-NN's own includes and the CMSIS Core headers.
            dirs += [
                tp / "cmsis",
                tp / "cmsis_nn",
                tp / "cmsis" / "CMSIS" / "Core" / "Include",
                tp / "cmsis_nn" / "Include",
            ]
        return dirs


def _third_party_dir(root: Path) -> Path | None:
    # The vendored snapshot keeps them in third_party/; TFLM's Makefile downloads them into
    # tools/make/downloads/ (a user's checkout after `make third_party_downloads`).
    for base in (root / "third_party", root / DOWNLOADS_DIR):
        if (base / "flatbuffers" / "include" / "flatbuffers" / "flatbuffers.h").is_file():
            return base
    return None


def source_tree(
    config: ComponentConfig | None = None,
    cache: Cache | None = None,
    progress: Progress | None = None,
) -> SourceTree:
    """The TFLM source tree, unpacked or cloned into the cache on first use."""
    cache = cache or Cache()
    say = progress or (lambda _m: None)
    plan = _plan(_config(config))
    if plan.source.kind == "directory":
        root = Path(plan.source.location)
    else:
        key = _source_key(plan)
        if key in _FAILED:
            raise _FAILED[key]
        try:
            entry = cache.get_or_create("tflm-src", key, lambda tmp: _fetch(plan, tmp, say))
        except MissingToolError as exc:
            _FAILED[key] = exc
            raise
        root = entry / "src"
    if not (root / "tensorflow" / "lite" / "micro" / "micro_interpreter.h").is_file():
        raise TflmInstallError(f"{plan.origin}: {root} is not a TensorFlow Lite Micro source tree")
    third_party = _third_party_dir(root)
    if third_party is None:
        raise TflmInstallError(
            f"{plan.origin}: {root} lacks the third-party code (flatbuffers, gemmlowp, ruy, "
            f"CMSIS-NN, CMSIS) in third_party/ or {DOWNLOADS_DIR}/",
            hint="run `make -f tensorflow/lite/micro/tools/make/Makefile third_party_downloads` "
            f"in the checkout, or {_SOURCE_HINT}",
        )
    return SourceTree(root, third_party, plan.origin)


def _fetch(plan: _Plan, dest: Path, say: Progress) -> None:
    """Unpack or clone ``plan.source`` (+ third-party code for clones) into ``dest/src``."""
    try:
        root = materialize(
            plan.source, dest / "unpack", submodules=[], progress=lambda m: say(f"tflm: {m}")
        )
        if plan.source.kind == "git":
            _fetch_third_party(root, say)
    except SourceError as exc:
        raise TflmInstallError(
            f"cannot get the TFLM source ({plan.origin}): {exc}", hint=_SOURCE_HINT
        ) from exc
    os.replace(root, dest / "src")
    shutil.rmtree(dest / "unpack", ignore_errors=True)


def _fetch_third_party(root: Path, say: Progress) -> None:
    from .sources import _git

    downloads = root / DOWNLOADS_DIR
    downloads.mkdir(parents=True, exist_ok=True)
    for dep in THIRD_PARTY:
        dest = downloads / dep.name
        if dest.exists():
            continue
        say(f"tflm: cloning {dep.url} at {dep.revision}")
        try:
            _git(["clone", "--quiet", "--no-checkout", dep.url, str(dest)], None)
            _git(["checkout", "--quiet", "--detach", dep.revision], dest)
        except subprocess.CalledProcessError as exc:
            text = (exc.stderr or "").strip().splitlines()
            raise SourceError(
                f"cannot clone {dep.url} at {dep.revision}: {text[-1] if text else exc}"
            ) from exc
    try:  # TFLM's flatbuffers_download.sh applies this patch
        _git(
            [
                "apply",
                "--ignore-space-change",
                "--ignore-whitespace",
                str(root / FLATBUFFERS_PATCH),
            ],
            downloads / "flatbuffers",
        )
    except subprocess.CalledProcessError as exc:
        raise SourceError(f"cannot apply {FLATBUFFERS_PATCH} to flatbuffers: {exc.stderr}") from exc


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


_METHOD = re.compile(r"TfLiteStatus\s+(Add\w+)\s*\(")


@functools.cache
def _operators_of(header: Path, mtime: int) -> Operators:
    text = header.read_text()
    builtin: dict[str, str] = {}
    custom: dict[str, str] = {}
    starts = [(m.start(), m.group(1)) for m in _METHOD.finditer(text)]
    for (pos, name), nxt in zip(starts, [*starts[1:], (len(text), "")]):
        body = text[pos : nxt[0]]
        if name in ("AddBuiltin", "AddCustom"):
            continue
        b = re.search(r"BuiltinOperator_(\w+)", body)
        c = re.search(r'AddCustom\(\s*"([^"]+)"', body)
        if b:
            builtin.setdefault(b.group(1), name)
        elif c and "tflm_signal::" not in body:
            # Signal-library ops are not part of the library built here.
            custom.setdefault(c.group(1), name)
    return Operators(builtin, custom)


def resolver_operators(tree: SourceTree) -> Operators:
    """Parsed from the tree's ``micro_mutable_op_resolver.h`` (the resolver's known list)."""
    header = tree.root / "tensorflow" / "lite" / "micro" / "micro_mutable_op_resolver.h"
    return _operators_of(header, header.stat().st_mtime_ns)


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
) -> TflmLibrary:
    """The TFLM library for ``spec``, compiled into the cache on first use.

    ``progress`` receives lines like ``tflm[riscv_qemu rv32gc]: compiling 40/161``.
    """
    cache = cache or Cache()
    say = progress or (lambda _m: None)
    config = _config(config)
    key = library_key(spec, config)
    if key in _FAILED:
        raise _FAILED[key]
    tree = source_tree(config, cache, say)
    entry = cache.lookup("tflm-lib", key)
    built = False
    if entry is None:

        def produce(tmp: Path) -> None:
            nonlocal built
            built = True
            _build(spec, tree, tmp, say)

        try:
            entry = cache.get_or_create("tflm-lib", key, produce)
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


def _jobs() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _object_name(rel: str) -> str:
    # Unique per source path (kernels/conv.cc and kernels/cmsis_nn/conv.cc both exist).
    return rel.replace("/", "__").rsplit(".", 1)[0] + ".o"


def _build(spec: LibrarySpec, tree: SourceTree, out: Path, say: Progress) -> None:
    label = f"tflm[{spec.label}]"
    for tool in ("gcc", "g++", "ar"):
        if shutil.which(spec.prefix + tool) is None:
            raise TflmInstallError(f"{label}: {spec.prefix}{tool} is not installed")
    files = library_sources(tree, spec.features)
    includes = [f"-I{d}" for d in tree.include_dirs(spec.features)]
    defines = [f"-D{k}={v}" if v else f"-D{k}" for k, v in sorted(spec.defines().items())]
    jobs = _jobs()
    start = time.monotonic()
    say(f"{label}: compiling {len(files)} files from {tree.origin} with {jobs} jobs")
    commands: list[list[str]] = []
    for rel in files:
        cxx = rel.endswith((".cc", ".cpp"))
        cmd = [spec.prefix + ("g++" if cxx else "gcc"), *spec.cflags()]
        cmd += spec.cxxflags() if cxx else C_FLAGS
        # Objects relative to the entry: build_commands.sh stays valid after the rename.
        cmd += [*defines, *includes, "-c", str(tree.root / rel), "-o", f"obj/{_object_name(rel)}"]
        commands.append(cmd)
    (out / "obj").mkdir()
    done = 0
    last = (0.0, -1)
    lock = threading.Lock()
    failures: list[str] = []

    def compile_one(cmd: list[str]) -> None:
        nonlocal done, last
        if failures:
            return
        try:
            result = proc.run(cmd, timeout=proc.limit("compile"), what="compiling TFLM", cwd=out)
        except proc.ChildTimeout as exc:
            failures.append(str(exc))
            return
        with lock:
            if result.returncode != 0:
                failures.append(f"$ {shlex.join(cmd)}\n{result.output.strip()[-3000:]}")
                return
            done += 1
            now = time.monotonic()
            # A line per ~10% or 20 s: enough to show life without flooding.
            if (
                done == len(commands)
                or done - last[1] >= max(1, len(commands) // 10)
                or now - last[0] >= 20
            ):
                say(f"{label}: compiling {done}/{len(commands)}")
                last = (now, done)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        try:
            list(pool.map(compile_one, commands))
        except BaseException:  # Ctrl-C: the queued compiles return at once
            failures.append("interrupted")
            raise
    if failures:
        raise TflmInstallError(f"{label}: compiling TFLM failed:\n{failures[0]}")
    objects = [c[-1] for c in commands]
    ar = [spec.prefix + "ar", "rcs", LIBRARY_NAME, *objects]
    result = proc.run(ar, timeout=proc.limit("compile"), what=f"{spec.prefix}ar", cwd=out)
    if result.returncode != 0:
        raise TflmInstallError(f"{label}: {spec.prefix}ar failed: {result.stderr.strip()[-2000:]}")
    shutil.rmtree(out / "obj")  # the archive holds them; keeps the cache small
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
        "jobs": jobs,
        "build_seconds": round(seconds, 1),
        "archive_bytes": (out / LIBRARY_NAME).stat().st_size,
        "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (out / METADATA).write_text(json.dumps(meta, indent=2) + "\n")
    say(f"{label}: built {LIBRARY_NAME} ({len(files)} files) in {seconds:.0f} s")


# -- a target's library ---------------------------------------------------------------------


def spec_for_target(target: CompiledTarget, features: Sequence[str] = ()) -> LibrarySpec:
    """The library variant for ``target``: its ISA/ABI/FPU and optimisation flags.

    Only code-relevant flags come from the target (-march/-mabi/-mcpu/-mfpu...), and the system
    headers are fixed per toolchain, so targets that generate the same code (etiss and
    riscv_qemu, both rv32gc) share one library.
    """
    from ..targets.riscv import PICOLIBC_INCLUDE, cxx_header_flags

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
) -> tuple[Path, list[str]]:
    """Compile a C++ file that uses TFLM's headers with the library's own flags, cached.

    ``headers`` are the file's own headers (copied next to it, part of the key); the object
    depends on nothing else but the library, so programs of every target that shares the
    library share it too. Returns the object and the command that made it.
    """
    key = hash_key("tflm-obj-v1", lib.key, source, *headers, [str(d) for d in include_dirs])
    spec = lib.spec
    defines = [f"-D{k}={v}" if v else f"-D{k}" for k, v in sorted(lib.defines.items())]
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
            from ..core.errors import CompileError

            out = result.output.strip()
            raise CompileError(
                f"compiling {source.name} failed:\n$ {shlex.join(cmd)}\n{out[-4000:]}"
            )

    entry = cache.get_or_create("tflm-obj", key, produce)
    return entry / obj_name, command(entry)
