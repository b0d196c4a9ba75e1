"""Operators TFLM cannot run fail the build stage, naming the operator (never on the target)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tflm_helpers import MLPERF_DIR

from pytest_mlonmcu.backends.tflmi import library
from pytest_mlonmcu.install import tflm


def patched_toycar(tmp_path: Path, name: str, builtin: int, custom: str | None = None) -> Path:
    """toycar with its last operator switched to another operator code."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(
        (MLPERF_DIR / "toycar" / "toycar.tflite").read_bytes(), 0
    )
    code = schema.OperatorCodeT()
    code.builtinCode = builtin
    code.deprecatedBuiltinCode = min(builtin, 127)
    code.version = 1
    if custom is not None:
        code.customCode = custom.encode()
    model.operatorCodes.append(code)
    model.subgraphs[0].operators[-1].opcodeIndex = len(model.operatorCodes) - 1
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(bytes(builder.Output()))
    return path


def unregistered_builtin() -> tuple[str, int]:
    """A builtin operator that TFLM's resolver has no Add method for."""
    import tflite

    known = library.resolver_operators(tflm.source_tree()).builtin
    for name in ("LOCAL_RESPONSE_NORMALIZATION", "LSH_PROJECTION", "SKIP_GRAM"):
        if name not in known:
            return name, getattr(tflite.BuiltinOperator, name)
    pytest.skip("every candidate operator is registered by this TFLM")


def assert_failed_at_build(session, run_id: str, words: list[str]) -> None:
    rec = session.run(run_id)
    assert rec["outcome"] == "failed", rec
    assert "build" in rec["stages"] and "compile" not in rec["stages"], rec["stages"]
    for word in words:
        assert word in rec["reason"], rec["reason"]


def test_custom_operator_fails_the_build(plugin, tmp_path):
    model = patched_toycar(tmp_path, "toycar_custom", 32, custom="MyCustomOp")
    session = plugin(
        "--mlonmcu-backend=tflmi", "--mlonmcu-target=riscv_qemu", f"--mlonmcu-model={model}"
    )
    assert_failed_at_build(
        session,
        "toycar_custom-tflmi-riscv_qemu",
        ["custom operator MyCustomOp (index 9, int8 -> int8): a custom operator that TFLM's"],
    )


def test_unregistered_builtin_fails_the_build(plugin, tmp_path):
    name, code = unregistered_builtin()
    model = patched_toycar(tmp_path, "toycar_unsupported", code)
    session = plugin(
        "--mlonmcu-backend=tflmi", "--mlonmcu-target=etiss", f"--mlonmcu-model={model}"
    )
    assert_failed_at_build(
        session, "toycar_unsupported-tflmi-etiss", [name, "MicroMutableOpResolver"]
    )
