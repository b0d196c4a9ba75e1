"""cgen's reader and lowering on corrupted and malformed models: only errors that name the
model file and the cause (before: raw struct.error, ValueError, IndexError...)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
import tflite

from pytest_mlonmcu.backends.cgen.backend import CgenBackend
from pytest_mlonmcu.core.cache import Cache
from pytest_mlonmcu.core.config import RunConfig
from pytest_mlonmcu.core.errors import BuildError, MlonmcuError
from pytest_mlonmcu.models.corrupt import KINDS, corrupt
from pytest_mlonmcu.models.model import Model

from .model_edits import mlperf_bytes

SEEDS = range(60)


def _build(tmp_path: Path, data: bytes, name: str) -> None:
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(data)
    backend = CgenBackend(RunConfig().scoped("cgen"), Cache(tmp_path / "cache"))
    backend.build(Model(name, path, "file"), None, tmp_path / name)  # cgen ignores the target


@pytest.mark.parametrize("model", ["toycar", "aww"])
def test_corrupted_models_build_or_fail_naming_the_file(tmp_path, model):
    """60 seeded corruptions (toycar's seeds 11, 23 and 38 broke the reader with a raw
    struct.error or ValueError)."""
    original = mlperf_bytes(model)
    outcomes: dict[str, int] = {}
    for seed in SEEDS:
        name = f"{model}_s{seed}"
        try:
            _build(tmp_path, corrupt(original, seed).data, name)
            outcome = "ok"
        except MlonmcuError as exc:
            assert str(exc).startswith(f"{tmp_path / name}.tflite: "), str(exc)
            outcome = type(exc).__name__
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert outcomes.get("ModelError", 0) > 10  # the corruptions do break models
    assert set(outcomes) <= {"ok", "ModelError", "BuildError", "UnsupportedOperatorError"}


def test_the_corruptions_are_deterministic_and_of_every_kind():
    toycar = mlperf_bytes("toycar")
    runs = [corrupt(toycar, seed) for seed in range(10)]
    assert [c.data for c in runs] == [corrupt(toycar, seed).data for seed in range(10)]
    assert {c.kind for c in runs} == set(KINDS)
    assert all(c.data != toycar for c in runs)


def test_an_operator_without_its_weights_is_a_build_error(tmp_path):
    toycar = bytearray(mlperf_bytes("toycar"))
    tab = tflite.Model.GetRootAsModel(toycar, 0).Subgraphs(0).Operators(4)._tab
    inputs = tab.Vector(tab.Offset(6))  # Operator.inputs: [x, weights, bias]
    struct.pack_into("<i", toycar, inputs + 4, -1)  # -1: an omitted (optional) input
    with pytest.raises(BuildError) as err:
        _build(tmp_path, bytes(toycar), "noweights")
    assert str(err.value).startswith(f"{tmp_path / 'noweights.tflite'}: cgen: FULLY_CONNECTED ")
    assert "(operator index 4) needs 2 input(s), it has [" in str(err.value)
