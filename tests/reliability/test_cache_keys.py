"""Cache keys change with every input that changes the output (here: the compiler)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_mlonmcu.backends.tflmi import library
from pytest_mlonmcu.core.cache import Cache
from pytest_mlonmcu.platforms.mlif import objects
from pytest_mlonmcu.platforms.mlif.objects import Unit, compile_units
from pytest_mlonmcu.platforms.mlif.target import harness_digest
from pytest_mlonmcu.platforms.mlif.toolchain import CommandLog, Toolchain, compiler_identity
from pytest_mlonmcu.targets.host_x86 import HostX86

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs the host gcc")


def _fake_gcc(bin_dir: Path, version: str) -> str:
    """A gcc that reports ``version`` and compiles with the real one: an 'upgraded' compiler."""
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "gcc"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = --version ]; then echo "gcc (fake) {version}"; exit 0; fi\n'
        f'exec {shutil.which("gcc")} "$@"\n'
    )
    script.chmod(0o755)
    compiler_identity.cache_clear()  # a new process would ask again
    return f"{bin_dir}/"


def _object_entry(cache: Cache, prefix: str, src: Path) -> Path:
    """The object cache's entry of ``src`` compiled by ``prefix``gcc (made if missing)."""
    tc, unit = Toolchain(prefix=prefix), Unit(src, "h.o", [src.parent])
    compile_units(cache, tc, [unit], src.parent.parent / "obj", CommandLog())
    return cache.path(objects.KIND, objects.object_key(tc, unit))


def test_objects_are_rebuilt_for_another_compiler_version(tmp_path):
    src = tmp_path / "src" / "h.c"
    src.parent.mkdir()
    src.write_text("int harness(void) { return 1; }\n")
    cache = Cache(tmp_path / "cache")
    try:
        prefix = _fake_gcc(tmp_path / "bin", "12.2.0")
        first = _object_entry(cache, prefix, src)
        assert _object_entry(cache, prefix, src) == first  # same compiler: reused

        _fake_gcc(tmp_path / "bin", "13.1.0")  # same path, another version
        upgraded = _object_entry(cache, prefix, src)
    finally:
        compiler_identity.cache_clear()
    assert upgraded != first
    assert (upgraded / objects.OBJECT).is_file() and (first / objects.OBJECT).is_file()
    assert sum(p.is_dir() for p in (cache.root / objects.KIND).iterdir()) == 2


def test_compiler_identity_names_resolved_path_and_version(tmp_path):
    try:
        prefix = _fake_gcc(tmp_path / "bin", "9.9.9")
        assert compiler_identity(prefix + "gcc") == f"{tmp_path}/bin/gcc: gcc (fake) 9.9.9"
        assert compiler_identity(str(tmp_path / "bin" / "no-such-gcc")) == ""
    finally:
        compiler_identity.cache_clear()


def test_tflm_library_key_follows_the_compiler(tmp_path):
    try:
        prefix = _fake_gcc(tmp_path / "bin", "12.2.0")
        spec = library.LibrarySpec(label="t", prefix=prefix, arch_flags=())
        before = spec.identity()
        _fake_gcc(tmp_path / "bin", "13.1.0")
        after = spec.identity()
    finally:
        compiler_identity.cache_clear()
    assert before != after
    assert before["compiler"].endswith("12.2.0") and after["compiler"].endswith("13.1.0")
    assert before["defines"] == spec.defines() and before["cxx"] == library.CXX_FLAGS


def test_build_identity_holds_toolchain_and_harness(tmp_path):
    from pytest_mlonmcu.core.config import RunConfig

    target = HostX86(RunConfig().scoped("host_x86"), Cache(tmp_path))
    ident = target.build_identity()
    assert ident["target"] == "host_x86" and ident["harness"] == harness_digest()
    assert compiler_identity("gcc") in ident["toolchain"]


def test_an_object_is_compiled_once_per_content_and_rebuilt_when_a_header_changes(tmp_path):
    inc = tmp_path / "inc"
    inc.mkdir()
    (inc / "k.h").write_text("#define K 1\n")
    cache, tc = Cache(tmp_path / "cache"), Toolchain(prefix="")

    def build(run: str) -> tuple[Path, CommandLog]:
        # Each run has its own copy of the generated source, as each run folder has.
        src = tmp_path / run / "gen.c"
        src.parent.mkdir(exist_ok=True)
        src.write_text('#include "k.h"\nint k(void) { return K; }\n')
        log = CommandLog()
        (obj,) = compile_units(cache, tc, [Unit(src, "gen.o", [inc])], tmp_path / run / "obj", log)
        return obj, log

    def entries() -> int:
        return sum(p.is_dir() for p in (cache.root / objects.KIND).iterdir())

    first, log = build("run1")
    second, _ = build("run2")  # the same bytes elsewhere: no second compile
    assert entries() == 1 and first.read_bytes() == second.read_bytes()
    # The program's own copy; the recorded command writes there, not into the cache.
    assert first == tmp_path / "run1" / "obj" / "gen.o" and not first.is_symlink()
    assert log.commands[0][-2:] == ["-o", str(first)]
    (inc / "k.h").write_text("#define K 2\n")
    build("run3")
    assert entries() == 2
