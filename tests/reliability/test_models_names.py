"""Names from a model (tensor names, file names) in generated C: neutralized, and the C
compiles. A tensor name ``*/ int injected = 1; /*`` used to end the comment it was pasted
into in TVM's executor, and TVM's C codegen pasted it as a parameter name into kernels.c."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pytest_mlonmcu.backends.cgen.backend import CgenBackend
from pytest_mlonmcu.backends.tflmi.backend import (
    MODEL_DATA,
    MODEL_HEADER,
    OPS_HEADER,
    TEMPLATE_DIR,
    model_header,
    ops_header,
    write_model_data,
)
from pytest_mlonmcu.core.cache import Cache
from pytest_mlonmcu.core.config import RunConfig
from pytest_mlonmcu.core.ctext import c_comment_text, c_identifier_bytes
from pytest_mlonmcu.models.model import Model
from pytest_mlonmcu.platforms.mlif.target import COMMON_DIR

from .model_edits import input_tensor, mlperf_bytes, rename_tensor

EVIL = '*/ int injected = 1; /*\n"quoted\\" */ ??/'
NASTY = [EVIL, "/*/", "*//*", "a\rb\0c", "ünïcödé */", "x" * 500, "", "\\\n"]


def _gcc() -> str:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed")
    return gcc


def _compiles(source: Path, *includes: Path, lang: str = "c", strict: bool = True) -> None:
    """gcc compiles ``source`` (trigraphs on: ``??/`` would be a backslash)."""
    cmd = [_gcc(), "-x", lang, "-std=c99" if lang == "c" else "-std=c++17", "-trigraphs"]
    cmd += ["-Wall", "-Werror"] if strict else []
    cmd += ["-c", "-o", "/dev/null", str(source)]
    cmd += [f"-I{d}" for d in includes]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.parametrize("text", NASTY)
def test_comment_text_stays_inside_its_comment(tmp_path, text):
    safe = c_comment_text(text)
    assert "*/" not in safe and "/*" not in safe
    assert all(" " <= ch <= "~" and ch != "\\" for ch in safe) and len(safe) <= 120
    source = tmp_path / "c.c"
    source.write_text(f"/* {safe} */\nint mlif_ok;\n")
    _compiles(source)


@pytest.mark.parametrize("text", NASTY)
def test_identifier_bytes_keep_the_length(text):
    raw = text.encode()
    name = c_identifier_bytes(raw)
    assert len(name) == len(raw)
    assert re.fullmatch(rb"([A-Za-z_][A-Za-z0-9_]*)?", name)


def test_tflmi_headers_compile_for_any_model_file_name(tmp_path):
    directory = tmp_path / 'we*ird "name'
    directory.mkdir()
    path = directory / 'm*\n"x".tflite'
    path.write_bytes(mlperf_bytes("toycar"))
    model = Model(path.stem, path, "file")
    (tmp_path / OPS_HEADER).write_text(ops_header(model, ["AddFullyConnected"]))
    (tmp_path / MODEL_HEADER).write_text(model_header(model, 4096))
    write_model_data(model, tmp_path / MODEL_DATA)
    main = tmp_path / "main.cc"
    main.write_text(
        f'#include "{OPS_HEADER}"\n#include "{MODEL_HEADER}"\n#include "{MODEL_DATA}"\n'
        "int mlif_ok = MLIF_TFLM_OP_COUNT + MLIF_TFLM_ARENA_SIZE;\n"
    )
    _compiles(main, tmp_path, TEMPLATE_DIR, lang="c++")


def _evil_toycar(tmp_path: Path) -> Model:
    toycar = mlperf_bytes("toycar")
    path = tmp_path / "evil.tflite"
    path.write_bytes(rename_tensor(toycar, input_tensor(toycar), EVIL))
    model = Model("evil", path, "file")
    assert model.metadata.inputs[0].name == EVIL
    return model


def test_cgen_c_compiles_with_a_crafted_tensor_name(tmp_path):
    model = _evil_toycar(tmp_path)
    backend = CgenBackend(RunConfig().scoped("cgen"), Cache(tmp_path / "cache"))
    artifact = backend.build(model, None, tmp_path / "build")
    for source in artifact.sources:
        assert "injected" not in source.read_text()
        _compiles(source, *artifact.include_dirs)


def test_tvm_c_compiles_with_a_crafted_tensor_name(tmp_path):
    from pytest_mlonmcu.backends.tvm import tvm_unavailable_reason
    from pytest_mlonmcu.backends.tvm.aot import TvmAotBackend

    reason = tvm_unavailable_reason()
    if reason:
        pytest.skip(reason)
    model = _evil_toycar(tmp_path)
    backend = TvmAotBackend(RunConfig().scoped("tvmaot"), Cache(tmp_path / "cache"))
    artifact = backend.build(model, None, tmp_path / "build")
    executor = (tmp_path / "build" / "executor.c").read_text()
    kernels = (tmp_path / "build" / "kernels.c").read_text()
    assert "int injected" not in executor + kernels
    safe = c_identifier_bytes(EVIL.encode()).decode()  # ___int_injected___1___...
    assert f"/* {safe} input */" in executor
    assert f"int8_t* {safe}," in kernels
    for name in ("executor.c", "kernels.c"):  # TVM's kernels are not -Wall clean
        _compiles(tmp_path / "build" / name, *artifact.include_dirs, COMMON_DIR, strict=False)
