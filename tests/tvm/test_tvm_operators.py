"""The TVM integer path on the operators added for users' models (issue 17): data movement
(TRANSPOSE, SLICE, STRIDED_SLICE, SPLIT, SPLIT_V, UNPACK, GATHER, RESIZE_NEAREST_NEIGHBOR),
SUB, MAXIMUM, MINIMUM, REDUCE_MAX/MIN, MEAN, SUM, LEAKY_RELU and SQUARED_DIFFERENCE (the
integer path's rewrites), HARD_SWISH, RSQRT and PRELU (lookup tables of TFLM's results),
FULLY_CONNECTED with int16 activations (int16.py), bit-exact with the TFLM wheel on random inputs (the op models of tests/cgen), on host_x86 and
riscv_qemu."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cgen_helpers import edit_model, int32_bias, op_model_session
from op_specs import OP_SPECS
from tvm_helpers import tvm_or_skip

REPO = Path(__file__).resolve().parents[2]
EXACT_KINDS = {
    "transpose", "slice", "strided_slice", "strided_slice_steps", "strided_slice_reverse",
    "strided_slice_shrink", "split", "split_v", "resize", "resize_v1", "sub", "maximum",
    "minimum", "unpack", "gather_const", "mean", "reduce_sum", "reduce_max", "reduce_min", "leaky_relu",
    "hard_swish", "rsqrt", "prelu", "squared_difference",
}  # fmt: skip
pytestmark = pytest.mark.slow  # a TVM build per model (cached after the first session)


@pytest.mark.parametrize("target", ["host_x86", "riscv_qemu"])
def test_new_operators_are_exact(op_models, target, tmp_path):
    tvm_or_skip()
    if target == "riscv_qemu" and not (
        shutil.which("riscv64-unknown-elf-gcc") and shutil.which("qemu-system-riscv32")
    ):
        pytest.skip("the RISC-V toolchain or qemu-system-riscv32 is not installed")
    align = "resize_nearest_align_corners"
    names = [s["name"] for s in OP_SPECS if s["kind"] in EXACT_KINDS and "quant" not in s]
    # FULLY_CONNECTED with int16 activations (int16.py), also with an int32 bias
    names += [s["name"] for s in OP_SPECS if s.get("quant") == "16x8"]
    models = {**op_models, "fc_int16_int32_bias": edit_model(op_models["fc_int16"], int32_bias)}
    names.append("fc_int16_int32_bias")
    _, runs = op_model_session(tmp_path, names, models, "tvmaotplus", target)
    assert sorted(runs) == sorted(names)
    for name in names:
        run = runs[name]
        if name == align:
            continue
        assert run["outcome"] == "passed", (name, run["reason"])
        metrics = run["metrics"]
        assert (metrics["validation_mode"], metrics["validation_passed"]) == ("exact", True)
        assert metrics["validation_max_abs_diff"] == 0
    # Where TVM computes otherwise than TFLM, the build refuses, naming operator and cause.
    assert runs[align]["reason"].endswith(
        "tvmaotplus: operator RESIZE_NEAREST_NEIGHBOR (index 0) with align_corners: TVM picks "
        "other source pixels than TFLM there (not bit-exact)"
    )


def test_integer_forms_leave_no_float(op_models):
    """SQUARED_DIFFERENCE is rewritten and HARD_SWISH, RSQRT, PRELU become tables: no
    dequantize is left (exactness by construction, not by the samples' luck)."""
    tvm_or_skip()
    from pytest_mlonmcu.backends.tvm import intpath
    from pytest_mlonmcu.backends.tvm.compile import import_model

    for name in ("squared_difference_broadcast", "hard_swish", "rsqrt_wide", "prelu_channels"):
        mod, counts = intpath.to_integer(import_model(op_models[name]))
        text = mod.script()
        if name != "rsqrt_wide":  # its model squares the input first (MUL, ADD: float)
            assert "dequantize" not in text, name
        if name.startswith("squared"):
            assert counts["squared_difference"] == 1
        else:
            assert "R.take" in text, name
