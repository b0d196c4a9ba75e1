"""The TVM compilation (a subprocess) and its artifact: unpacked kernels, a static executor,
a clean -Wall build, condensed errors, the build cache, the missing-TVM skip."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from tvm_helpers import MLPERF_DIR, mlperf_or_skip, tvm_or_skip

from pytest_mlonmcu.backends import tvm as tvm_pkg
from pytest_mlonmcu.backends.tvm.aot import TvmAotBackend
from pytest_mlonmcu.backends.tvm.aotplus import TvmAotPlusBackend
from pytest_mlonmcu.backends.tvm.backend import run_compile
from pytest_mlonmcu.backends.tvm.options import TvmOptions
from pytest_mlonmcu.core.cache import Cache
from pytest_mlonmcu.core.config import RunConfig
from pytest_mlonmcu.core.errors import BuildError
from pytest_mlonmcu.models.model import Model

HARNESS_COMMON = Path(tvm_pkg.__file__).resolve().parents[2] / "harness" / "common"


@pytest.fixture(scope="module")
def toycar_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    tvm_or_skip()
    mlperf_or_skip("toycar")
    out = tmp_path_factory.mktemp("toycar") / "out"
    manifest = run_compile(
        "tvmaotplus", MLPERF_DIR / "toycar/toycar.tflite", TvmOptions(arena=True), out
    )
    return out, manifest


def test_kernels_are_plain_c_functions(toycar_build: tuple[Path, dict]) -> None:
    out, manifest = toycar_build
    kernels = (out / "kernels.c").read_text()
    # Unpacked: no tvm-ffi packed entry points, no DLTensor argument checks.
    assert "int32_t __tvm_ffi_" not in kernels
    assert "TVMFFIAny" not in kernels
    assert "TVMBackendAllocWorkspace" not in kernels  # the schedule removed every workspace
    executor = (out / "executor.c").read_text()
    assert "int mlif_model_invoke(void)" in executor
    assert "malloc" not in executor + kernels
    m = manifest["metrics"]
    assert m["arena_bytes"] == m["arena_lower_bound_bytes"]
    assert m["workspace_bytes"] == 0
    assert manifest["info"]["integer_ops"]["fully_connected"] == 10


def test_generated_c_is_clean_under_wall(toycar_build: tuple[Path, dict]) -> None:
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    out, _ = toycar_build
    includes = [tvm_pkg.RUNTIME_DIR, *tvm_pkg.tvm_include_dirs(), HARNESS_COMMON]
    for src in (out / "kernels.c", out / "executor.c", tvm_pkg.RUNTIME_DIR / "tvmaot_shim.c"):
        cmd = ["gcc", "-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror", "-c", str(src)]
        cmd += [f"-I{d}" for d in includes] + ["-o", str(out / (src.stem + ".o"))]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


def _patch_first_opcode(src: Path, dst: Path, builtin: int) -> None:
    """Copy a .tflite, changing its first operator code (an op TVM cannot import)."""
    import tflite

    data = bytearray(src.read_bytes())
    code = tflite.Model.GetRootAsModel(bytes(data), 0).OperatorCodes(0)
    tab = code._tab
    for field, width in ((4, 1), (10, 4)):  # deprecated_builtin_code (int8), builtin_code (int32)
        offset = tab.Offset(field)
        if offset:
            pos = tab.Pos + offset
            data[pos : pos + width] = builtin.to_bytes(width, "little", signed=True)
    dst.write_bytes(bytes(data))


def test_unsupported_operator_fails_the_build_with_its_name(tmp_path: Path) -> None:
    tvm_or_skip()
    mlperf_or_skip("toycar")
    model = tmp_path / "bad.tflite"
    _patch_first_opcode(MLPERF_DIR / "toycar/toycar.tflite", model, 83)  # PACK
    with pytest.raises(BuildError, match=r"tvmaot: operator PACK is not supported"):
        run_compile("tvmaot", model, TvmOptions(), tmp_path / "out")


def test_repeated_builds_hit_the_cache(tmp_path: Path) -> None:
    tvm_or_skip()
    mlperf_or_skip("toycar")
    cache = Cache(tmp_path / "cache")
    model = Model("toycar", MLPERF_DIR / "toycar/toycar.tflite", "models_dir")
    backend = TvmAotBackend(RunConfig().scoped("tvmaot"), cache)
    start = time.perf_counter()
    first = backend.build(model, None, tmp_path / "b1")  # type: ignore[arg-type]
    cold = time.perf_counter() - start
    start = time.perf_counter()
    second = backend.build(model, None, tmp_path / "b2")  # type: ignore[arg-type]
    warm = time.perf_counter() - start
    assert len(list((tmp_path / "cache" / "tvm-build").iterdir())) == 2  # entry + its lock
    assert (tmp_path / "b2/kernels.c").read_text() == (tmp_path / "b1/kernels.c").read_text()
    assert first.metrics == second.metrics
    assert warm < cold


def test_config_selects_the_validation_mode() -> None:
    cache = Cache(Path("/nonexistent"))
    exact = TvmAotPlusBackend(RunConfig().scoped("tvmaotplus"), cache)
    floating = TvmAotPlusBackend(
        RunConfig({"tvmaotplus.int8": "false"}).scoped("tvmaotplus"), cache
    )
    assert exact.validation == "exact"
    assert floating.validation == "topk=1"
    assert exact.options().arena and not floating.options().int8


def test_missing_tvm_is_a_skip_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    real = tvm_pkg.importlib.util.find_spec
    monkeypatch.setattr(
        tvm_pkg.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "tvm" else real(name, *a),
    )
    backend = TvmAotBackend(RunConfig().scoped("tvmaot"), Cache(Path("/nonexistent")))
    assert backend.unavailable_reason() == (
        "backend tvmaot: apache-tvm is not installed (pip install 'pytest-mlonmcu[tvm]')"
    )
