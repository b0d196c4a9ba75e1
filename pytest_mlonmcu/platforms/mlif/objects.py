"""The object cache: every C/C++ file a program is built from, compiled once per content.

The harness, the sample data, cgen's kernels and model, TVM's generated C and tflmi's model
file all go through it. An object's key is what decides its machine code: the toolchain's
identity (flags, compilers and their versions), the file's defines and extra flags, the
source's bytes and the headers it can reach (every header of its own directory and of each
include directory, recursively; a header is a file with a suffix in ``HEADER_SUFFIXES``, so a
source that includes a ``.c`` file is not tracked by it). So another model, target variant or
compiler never reuses an object it should not, and a second run (or another run with the
same generated file) compiles nothing.

Objects are copied into the program's ``obj/`` directory, so ``compile_commands.sh`` rebuilds
the program by hand without touching the cache. Misses compile in parallel, each compiler
holding one of the machine-wide job slots (never more compilers than cores).
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ...core.cache import Cache, hash_key, is_complete
from ...core.errors import CompileError
from ...core.slots import cores, job_slot
from .toolchain import CommandLog, Toolchain, object_command

KIND = "object"
OBJECT = "object.o"
# Bumped when the key's recipe changes.
RECIPE = "object-v1"
HEADER_SUFFIXES = frozenset({".h", ".hh", ".hpp", ".hxx", ".inc", ".def", ".ipp", ".tcc"})


@dataclass(frozen=True)
class Unit:
    """One source file of a program and how it is compiled."""

    source: Path
    obj_name: str  # the object's name in the program's obj/ directory
    include_dirs: Sequence[Path] = ()
    defines: Mapping[str, str] = field(default_factory=dict)
    extra: Sequence[str] = ()


# (directory, stat signature of its files) -> digest: directories that did not change since
# the last look (the harness, TVM's headers) are read once per process.
_TREE_DIGESTS: dict[tuple[str, tuple], str] = {}


def tree_digest(directory: Path, cache: Cache | None = None) -> str:
    """Digest of a directory's headers (names and contents, recursively); '' if absent.

    A directory inside a completed entry of ``cache`` (TFLM's unpacked sources) never changes:
    its path, which names the entry's key, stands for its contents.
    """
    if not directory.is_dir():
        return ""
    if cache is not None:
        inside = _completed_entry_path(directory, cache)
        if inside is not None:
            return f"cache:{inside}"
    files = sorted(p for p in directory.rglob("*") if p.suffix in HEADER_SUFFIXES and p.is_file())
    signature = []
    for f in files:
        st = f.stat()
        signature.append((str(f.relative_to(directory)), st.st_size, st.st_mtime_ns))
    memo_key = (str(directory.resolve()), tuple(signature))
    found = _TREE_DIGESTS.get(memo_key)
    if found is None:
        h = hashlib.sha256()
        for f, (rel, _, _) in zip(files, signature):
            h.update(rel.encode() + b"\0")
            h.update(f.read_bytes())
        found = _TREE_DIGESTS[memo_key] = h.hexdigest()
    return found


def _completed_entry_path(directory: Path, cache: Cache) -> str | None:
    try:
        rel = directory.resolve().relative_to(cache.root.resolve())
    except ValueError:
        return None
    if len(rel.parts) < 2 or not is_complete(cache.root / rel.parts[0] / rel.parts[1]):
        return None
    return rel.as_posix()


def object_key(tc: Toolchain, unit: Unit, dir_digest: Callable[[Path], str] = tree_digest) -> str:
    # The source's own directory first: `#include "x.h"` looks there before the -I list.
    dirs = [unit.source.parent, *unit.include_dirs]
    return hash_key(
        RECIPE,
        tc.identity(),
        unit.source.suffix,
        sorted(unit.defines.items()),
        list(unit.extra),
        unit.source,  # by content
        [dir_digest(d) for d in dirs],
    )


def compile_units(
    cache: Cache, tc: Toolchain, units: Sequence[Unit], obj_dir: Path, log: CommandLog
) -> list[Path]:
    """The objects of ``units`` in ``obj_dir`` (in order), each from the object cache.

    Every command is recorded in ``log`` as writing into ``obj_dir``, cache hit or not.
    """
    obj_dir.mkdir(parents=True, exist_ok=True)
    dir_digest = functools.cache(lambda d: tree_digest(d, cache))  # each directory once
    # Recorded first: a failing compile still leaves the whole recipe in compile_commands.sh.
    for unit in units:
        log.commands.append(command(tc, unit, obj_dir / unit.obj_name))

    def one(unit: Unit) -> Path:
        target = obj_dir / unit.obj_name

        def produce(tmp: Path) -> None:
            with job_slot(cache.root):
                try:
                    CommandLog().run(
                        command(tc, unit, tmp / OBJECT), what=f"compiling {unit.source.name}"
                    )
                except CompileError as exc:  # name the program's object, not the cache's
                    raise CompileError(str(exc).replace(str(tmp / OBJECT), str(target))) from None

        entry = cache.get_or_create(KIND, object_key(tc, unit, dir_digest), produce)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        shutil.copyfile(entry / OBJECT, tmp)
        os.replace(tmp, target)
        return target

    jobs = max(1, min(cores(), len(units)))
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(one, units))


def command(tc: Toolchain, unit: Unit, obj: Path) -> list[str]:
    return object_command(
        tc, unit.source, obj, list(unit.include_dirs), dict(unit.defines), list(unit.extra)
    )
