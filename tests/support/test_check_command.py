"""``python -m pytest_mlonmcu check MODEL``: the operator x backend table, nothing built."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest
from cgen_helpers import edit_model
from reliability.model_edits import MLPERF_DIR

from .refusal_models import EDITS, with_operator

TOYCAR = MLPERF_DIR / "toycar" / "toycar.tflite"
pytestmark = [
    pytest.mark.skipif(not TOYCAR.is_file(), reason=f"no toycar in {MLPERF_DIR}"),
    pytest.mark.skipif(importlib.util.find_spec("tvm") is None, reason="no apache-tvm"),
]


def check(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pytest_mlonmcu", "check", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def test_a_model_no_backend_builds_lists_the_operator_for_each(tmp_path):
    model = tmp_path / "lsh.tflite"
    model.write_bytes(edit_model(TOYCAR.read_bytes(), EDITS["lsh"]))
    result = check(str(model))
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{model}: 10 operators, 1 subgraph(s), on target riscv_qemu"
    table = [line.split() for line in lines[2:6]]
    assert table[0] == [
        "operator",
        "tensor",
        "types",
        "count",
        *"cgen tflmi tvmaot tvmaotplus".split(),
    ]
    assert table[2] == ["FULLY_CONNECTED", "int8", "->", "int8", "9", "yes", "yes", "yes", "yes"]
    assert table[3] == ["LSH_PROJECTION", "int8", "->", "int8", "1", "no", "no", "no", "no"]
    assert (
        "cgen: refuses: operator LSH_PROJECTION (index 3, int8 -> int8): cgen has no kernel for it"
    ) in lines
    assert "not for target riscv_qemu: tvmrt" in lines
    assert lines[-1] == "can build it: none of the backends"


def test_a_supported_model_names_every_backend(tmp_path):
    result = check(str(TOYCAR), "--target=host_x86")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "can build it: cgen, tflmi, tvmaot, tvmaotplus, tvmrt"


def test_a_file_that_is_no_model_is_an_error_naming_it(tmp_path):
    bad = tmp_path / "notes.tflite"
    bad.write_text("not a model")
    result = check(str(bad))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: {bad}: not a TFLite flatbuffer (file identifier")


def test_int16_activations_in_fully_connected_only(op_models, tmp_path):
    """A 16x8 model (int16 activations): cgen and TVM have TFLM's 16x8 FULLY_CONNECTED; an
    other operator on int16 (the same model's operator turned into ADD) both refuse."""
    model = tmp_path / "fc_int16.tflite"
    model.write_bytes(op_models["fc_int16"])
    result = check(str(model), "--backend=cgen,tvmaotplus")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[4].split() == ["FULLY_CONNECTED", "int16", "->", "int16", "1", "yes", "yes"]
    assert lines[-1] == "can build it: cgen, tvmaotplus"

    def as_add(fb, m):
        with_operator(fb, m, 0, fb.BuiltinOperator.ADD)

    model.write_bytes(edit_model(op_models["fc_int16"], as_add))
    result = check(str(model), "--backend=cgen,tvmaotplus")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert (
        "tvmaotplus: refuses: operator ADD (index 0, int16 -> int16): the TVM backends take "
        "int16 activations in FULLY_CONNECTED only"
    ) in lines
    assert (
        "cgen: refuses: operator ADD (index 0, int16 -> int16): cgen's ADD takes float32 and "
        "int8 tensors, not int16"
    ) in lines
