"""The zoo's models of other public TinyML kinds (mbv2, lstm, textcls) pass validation on
riscv_qemu with tflmi, cgen and tvmaotplus: the acceptance of users' own models (issue 17)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pytest_mlonmcu.models.support import LIBM_FLOAT_VALIDATION

REPO = Path(__file__).resolve().parents[1]
MODELS = ("mbv2", "lstm", "textcls")
BACKENDS = ("tflmi", "cgen", "tvmaotplus")

pytestmark = [
    pytest.mark.slow,  # three zoo builds with TensorFlow, TFLM kernels for rv32, TVM builds
    pytest.mark.skipif(
        not (shutil.which("riscv64-unknown-elf-gcc") and shutil.which("qemu-system-riscv32")),
        reason="the RISC-V toolchain or qemu-system-riscv32 is not installed",
    ),
    pytest.mark.skipif(importlib.util.find_spec("tvm") is None, reason="no apache-tvm"),
]


def _session(tmp_path: Path, models: tuple[str, ...]) -> dict[str, dict]:
    """One benchmark session over the zoo ``models`` x BACKENDS on riscv_qemu: its runs."""
    names = ",".join(f"zoo:{m}" for m in models)
    cmd = [
        sys.executable, "-m", "pytest", str(REPO / "benchmarks"), "-q", "-p", "no:cacheprovider",
        f"--rootdir={tmp_path}", f"--mlonmcu-model={names}",
        f"--mlonmcu-backend={','.join(BACKENDS)}", "--mlonmcu-target=riscv_qemu",
        f"--mlonmcu-json={tmp_path / 'r.json'}", f"--mlonmcu-out={tmp_path / 'out'}",
        "--mlonmcu-history=off",
    ]  # fmt: skip
    result = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=5400)
    assert result.returncode == 0, result.stdout[-4000:]
    return {r["id"]: r for r in json.loads((tmp_path / "r.json").read_text())["runs"]}


def test_each_new_zoo_model_passes_validation_with_every_backend(tmp_path):
    runs = _session(tmp_path, MODELS)
    assert len(runs) == len(MODELS) * len(BACKENDS)
    for model in MODELS:
        for backend in BACKENDS:
            metrics = runs[f"zoo_{model}-{backend}-riscv_qemu"]["metrics"]
            assert (metrics["validation_mode"], metrics["validation_passed"]) == ("exact", True)
            assert metrics["validation_max_abs_diff"] == 0
            assert metrics["invoke_instructions"] > 0
    # textcls looks up its embedding with run-time indices: its samples are token sequences
    # (input/N.bin of the zoo build), not random int32 values that would fail the lookup.
    record = runs["zoo_textcls-cgen-riscv_qemu"]
    with np.load(Path(record["artifacts"]) / "inputs.npz") as inputs:
        tokens = np.concatenate([inputs[k].reshape(-1) for k in inputs.files])
    assert tokens.dtype == np.int32 and tokens.size >= 2 * 32
    assert tokens.min() >= 0 and tokens.max() < 1000 and len(set(tokens.tolist())) > 32


FLOAT_MODELS = ("toycar_f32", "mbv2_f32", "lstm_f32", "textcls_f32")


def _outputs(record: dict) -> list[str]:
    """The program's output lines (hex bytes of every output of every sample)."""
    log = Path(record["artifacts"]) / "run" / "run.log"
    return [line for line in log.read_text().splitlines() if line.startswith("MLIF output")]


def test_float_zoo_models_match_tflm_on_the_target(tmp_path):
    """The zoo's float32 models: each backend passes validation against the host's wheel
    (exact, or the stated places where expf/tanhf is the C library's), and cgen's outputs
    equal those of TFLM compiled for the same target bit for bit."""
    runs = _session(tmp_path, FLOAT_MODELS)
    for model in FLOAT_MODELS:
        mode = "exact" if model == "toycar_f32" else LIBM_FLOAT_VALIDATION  # toycar: FCs only
        for backend in BACKENDS:
            metrics = runs[f"zoo_{model}-{backend}-riscv_qemu"]["metrics"]
            assert (metrics["validation_mode"], metrics["validation_passed"]) == (mode, True)
        cgen, tflm = (runs[f"zoo_{model}-{b}-riscv_qemu"] for b in ("cgen", "tflmi"))
        assert _outputs(cgen) == _outputs(tflm) and _outputs(cgen), model
