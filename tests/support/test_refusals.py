"""Each backend refuses at the build stage what it cannot build, in one line naming every
unsupported item (operator, index, tensor types, cause), before building anything."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cgen_helpers import edit_model
from reliability.model_edits import MLPERF_DIR

from .refusal_models import EDITS

REPO = Path(__file__).resolve().parents[2]
TVM_MISSING = importlib.util.find_spec("tvm") is None
pytestmark = pytest.mark.skipif(
    not (MLPERF_DIR / "toycar" / "toycar.tflite").is_file(), reason=f"no toycar in {MLPERF_DIR}"
)


NOT_SUPPORTED = "cannot build this model (the model uses what {0} does not support): "
# (model, backend, target) -> the refusal after "<path>: <backend> cannot build ...: "
REFUSALS = {
    ("custom", "cgen", "riscv_qemu"): (
        "custom operator MlonmcuCustom (index 3, int8 -> int8): cgen runs no custom operators"
    ),
    ("custom", "tvmaotplus", "riscv_qemu"): (
        "custom operator MlonmcuCustom (index 3, int8 -> int8): TVM's TFLite importer converts "
        "no custom operators"
    ),
    ("custom", "tflmi", "riscv_qemu"): (
        "custom operator MlonmcuCustom (index 3, int8 -> int8): a custom operator that TFLM's "
        "MicroMutableOpResolver does not provide"
    ),
    ("lsh", "cgen", "riscv_qemu"): (
        "operator LSH_PROJECTION (index 3, int8 -> int8): cgen has no kernel for it"
    ),
    ("lsh", "tvmaotplus", "riscv_qemu"): (
        "operator LSH_PROJECTION (index 3, int8 -> int8): TVM's TFLite importer does not convert it"
    ),
    ("lsh", "tflmi", "riscv_qemu"): (
        "operator LSH_PROJECTION (index 3, int8 -> int8): not in TFLM's MicroMutableOpResolver "
        "(no Add method registers it)"
    ),
    ("second", "cgen", "riscv_qemu"): ("2 subgraphs: cgen lowers one subgraph (no control flow)"),
    ("uint8", "cgen", "riscv_qemu"): (
        "operator FULLY_CONNECTED (indices 0-9, uint8 -> uint8): cgen's FULLY_CONNECTED takes "
        "float32, int16 and int8 tensors, not uint8"
    ),
    ("uint8", "tflmi", "host_x86"): (
        "operator FULLY_CONNECTED (indices 0-9, uint8 -> uint8): TFLM takes uint8 only in "
        "QUANTIZE, DEQUANTIZE, RESHAPE, SQUEEZE, REVERSE_V2"
    ),
}
# Runs that pass every backend's check but fail inside TFLM (the reference of tvmaotplus):
# TFLM's lines, then which operator that is and whose limit.
TFLM_FAILURES = [("uint8", "tvmaotplus", "host_x86")]
TVM = pytest.mark.skipif(TVM_MISSING, reason="no apache-tvm")


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> dict[str, dict]:
    """One session over every (model, backend, target) of REFUSALS: their records by id."""
    if not (shutil.which("riscv64-unknown-elf-gcc") and shutil.which("qemu-system-riscv32")):
        pytest.skip("the RISC-V toolchain or qemu-system-riscv32 is not installed")
    tmp = tmp_path_factory.mktemp("refusals")
    toycar = (MLPERF_DIR / "toycar" / "toycar.tflite").read_bytes()
    for name, edit in EDITS.items():
        (tmp / f"{name}.tflite").write_bytes(edit_model(toycar, edit))
    found: dict[str, dict] = {}
    for model, backend, target in [*REFUSALS, *TFLM_FAILURES]:
        if backend.startswith("tvm") and TVM_MISSING:
            continue
        out = tmp / f"{model}-{backend}-{target}"
        cmd = [
            sys.executable, "-m", "pytest", str(REPO / "benchmarks"), "-q", "-p", "no:cacheprovider",
            f"--rootdir={tmp}", f"--mlonmcu-model={tmp / model}.tflite",
            f"--mlonmcu-backend={backend}", f"--mlonmcu-target={target}",
            f"--mlonmcu-json={out}.json", f"--mlonmcu-out={out}", "--mlonmcu-history=off",
        ]  # fmt: skip
        subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=600)
        for record in json.loads(out.with_suffix(".json").read_text())["runs"]:
            found[record["id"]] = {**record, "path": str(tmp / f"{model}.tflite")}
    return found


@pytest.mark.parametrize(
    "model, backend, target",
    [pytest.param(*key, marks=TVM if key[1].startswith("tvm") else ()) for key in REFUSALS],
)
def test_refused_at_the_build_stage_naming_every_item(records, model, backend, target):
    record = records[f"{model}-{backend}-{target}"]
    assert record["outcome"] == "failed"
    assert list(record["stages"]) == ["load", "tune", "build"]  # nothing after the check
    expected = (
        f"pytest_mlonmcu.core.errors.UnsupportedModelError: {record['path']}: {backend} "
        + NOT_SUPPORTED.format(backend)
        + REFUSALS[(model, backend, target)]
    )
    assert record["reason"] == expected
    assert "\n" not in record["reason"]


@TVM
def test_a_failure_inside_tflm_names_the_operator_and_whose_limit(records):
    reason = records["uint8-tvmaotplus-host_x86"]["reason"]
    assert "reference: the TFLM interpreter failed on" in reason
    assert "Node FULLY_CONNECTED (number 0) failed to invoke" in reason  # TFLM's own line
    assert reason.endswith(
        "cause: operator FULLY_CONNECTED (index 0, uint8 -> uint8) failed in TFLM's invoke: "
        "TFLM's kernel does not accept how the model uses it (a limit of TFLM or a fault of "
        "the model, not of this tool; TFLM's lines above)"
    )
