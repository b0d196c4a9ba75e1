"""Cache keys change with every input that changes the output (here: the compiler)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_mlonmcu.backends.tflmi import library
from pytest_mlonmcu.core.cache import Cache
from pytest_mlonmcu.platforms.mlif.target import harness_digest
from pytest_mlonmcu.platforms.mlif.toolchain import (
    CommandLog,
    Toolchain,
    cached_objects,
    compiler_identity,
)
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


def _harness_objects(cache: Cache, prefix: str, src: Path) -> Path:
    objs = cached_objects(cache, Toolchain(prefix=prefix), [src], [src.parent], {}, CommandLog())
    return objs[0].parent


def test_harness_objects_are_rebuilt_for_another_compiler_version(tmp_path):
    src = tmp_path / "src" / "h.c"
    src.parent.mkdir()
    src.write_text("int harness(void) { return 1; }\n")
    cache = Cache(tmp_path / "cache")
    try:
        prefix = _fake_gcc(tmp_path / "bin", "12.2.0")
        first = _harness_objects(cache, prefix, src)
        assert _harness_objects(cache, prefix, src) == first  # same compiler: reused

        _fake_gcc(tmp_path / "bin", "13.1.0")  # same path, another version
        upgraded = _harness_objects(cache, prefix, src)
    finally:
        compiler_identity.cache_clear()
    assert upgraded != first
    assert (upgraded / "h.o").is_file() and (first / "h.o").is_file()


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
