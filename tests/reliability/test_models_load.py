"""Bad models fail at load: a ModelError naming the file, what is wrong and the limit, before
anything is allocated for them; sample files and random samples stay within bounds."""

from __future__ import annotations

import json
import shutil
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import tflite

from pytest_mlonmcu.core.cache import DEFAULT_ROOT_ENV, Cache, default_cache_root
from pytest_mlonmcu.core.errors import ModelError
from pytest_mlonmcu.models.metadata import MAX_INPUT_BYTES, MAX_TENSOR_ELEMENTS, read_metadata
from pytest_mlonmcu.models.model import Model, ModelResolver, random_array
from pytest_mlonmcu.settings import MODELS_DIR_ENV

from .model_edits import MLPERF_DIR, input_tensor, mlperf_bytes, set_shape

USER_CACHE = default_cache_root()


def _model(tmp_path: Path, data: bytes, name: str = "bad") -> Model:
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(data)
    return Model(name, path, "file")


def _aww_with_input_shape(shape: tuple[int, ...]) -> bytes:
    aww = mlperf_bytes("aww")  # input (1, 49, 10, 1) int8
    return set_shape(aww, input_tensor(aww), shape)


@pytest.mark.parametrize(
    ("shape", "cause"),
    [
        ((1, -49, 10, 1), "('input_1') has a negative dimension: shape (1, -49, 10, 1)"),
        ((1, 0, 10, 1), "('input_1') has a zero dimension: shape (1, 0, 10, 1)"),
        (
            (1, 40000, 40000, 4),
            f"('input_1') of shape (1, 40000, 40000, 4) has 6400000000 elements, more than "
            f"the limit {MAX_TENSOR_ELEMENTS}",
        ),
        (
            (1, 16384, 16384, 2),
            f"the inputs ('input_1' (1, 16384, 16384, 2)) take 536870912 bytes per sample, "
            f"more than the limit {MAX_INPUT_BYTES}",
        ),
    ],
)
def test_bad_input_shape_fails_at_load_without_allocating(tmp_path, shape, cause):
    model = _model(tmp_path, _aww_with_input_shape(shape))
    tracemalloc.start()
    try:
        with pytest.raises(ModelError) as err:
            model.sample_inputs(2, seed=0)  # reads the metadata first
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(err.value).startswith(f"{model.path}: ")
    assert cause in str(err.value)
    assert peak < 16 << 20  # the flatbuffer is read; no sample is allocated


def test_a_vector_outside_the_file_names_the_tensor_and_the_offset(tmp_path):
    toycar = bytearray(mlperf_bytes("toycar"))
    tab = tflite.Model.GetRootAsModel(toycar, 0).Subgraphs(0).Tensors(3)._tab
    field = tab.Pos + tab.Offset(4)  # Tensor.shape: a uoffset to the vector
    struct.pack_into("<I", toycar, field, 0x40000000)
    with pytest.raises(ModelError) as err:
        read_metadata(bytes(toycar), origin="toy.tflite")
    assert str(err.value) == (
        f"toy.tflite: cannot read subgraph 0, tensor 3: offset {field + 0x40000000} lies "
        f"outside the file ({len(toycar)} bytes)"
    )


def test_an_operator_index_out_of_range_fails_at_load(tmp_path):
    toycar = bytearray(mlperf_bytes("toycar"))
    op = tflite.Model.GetRootAsModel(toycar, 0).Subgraphs(0).Operators(2)
    tab = op._tab
    inputs = tab.Vector(tab.Offset(6))  # Operator.inputs
    struct.pack_into("<i", toycar, inputs, 1000)
    with pytest.raises(ModelError, match=r"^toy: subgraph 0, operator 2 \(FULLY_CONNECTED\): "):
        read_metadata(bytes(toycar), origin="toy")


def test_an_operator_reading_a_later_result_fails_at_load():
    """The wheel's TFLM crashed (SIGSEGV) on aww's corruption 72, whose last operator lost
    its inputs and outputs; such a graph is now rejected at load."""
    toycar = bytearray(mlperf_bytes("toycar"))
    sg = tflite.Model.GetRootAsModel(toycar, 0).Subgraphs(0)
    later = int(sg.Operators(5).Outputs(0))
    tab = sg.Operators(0)._tab
    struct.pack_into("<i", toycar, tab.Vector(tab.Offset(6)), later)  # op 0 reads op 5's result
    with pytest.raises(ModelError) as err:
        read_metadata(bytes(toycar), origin="toy")
    assert str(err.value).startswith(
        f"toy: subgraph 0, operator 0 (FULLY_CONNECTED) reads tensor {later} ("
    )
    assert str(err.value).endswith("which is no input, constant or output of an earlier operator")


def test_a_constant_smaller_than_its_shape_fails_at_load():
    toycar = mlperf_bytes("toycar")
    sg = tflite.Model.GetRootAsModel(toycar, 0).Subgraphs(0)
    weights = int(sg.Operators(0).Inputs(1))
    shape = tuple(int(d) for d in sg.Tensors(weights).ShapeAsNumpy())  # (128, 640)
    bigger = set_shape(toycar, weights, (shape[0] + 1, shape[1]))
    with pytest.raises(ModelError) as err:
        read_metadata(bigger, origin="m")
    assert f"of shape {(shape[0] + 1, shape[1])} (int8) needs {(shape[0] + 1) * shape[1]} " in str(
        err.value
    )
    assert f"holds {shape[0] * shape[1]}" in str(err.value)


def _models_dir_with_sample(root: Path, sample: bytes) -> Path:
    """toycar in the models-dir layout, with one sample file of the given bytes."""
    directory = root / "mymodel"
    (directory / "input").mkdir(parents=True)
    shutil.copyfile(MLPERF_DIR / "toycar" / "toycar.tflite", directory / "mymodel.tflite")
    shutil.copyfile(MLPERF_DIR / "toycar" / "definition.yml", directory / "definition.yml")
    (directory / "input" / "0.bin").write_bytes(sample)
    return directory / "input" / "0.bin"


@pytest.mark.parametrize("size", [3 * 640, 0, 641])
def test_a_sample_file_of_odd_size_names_the_file(tmp_path, size):
    mlperf_bytes("toycar")
    sample = _models_dir_with_sample(tmp_path, bytes(size))
    model = ModelResolver([tmp_path], Cache(tmp_path / "cache")).resolve("mymodel")
    with pytest.raises(ModelError) as err:
        model.sample_inputs(1, seed=0)
    assert str(err.value) == (
        f"{sample}: {size} bytes do not hold the 640 elements of input input_1 (1, 640) as "
        "float32, uint8 or int16 values"
    )


def test_random_samples_are_drawn_in_chunks_into_the_input_dtype():
    rng = np.random.default_rng(7)
    tracemalloc.start()
    try:
        big = random_array(rng, (1, 4096, 4096, 2), "int8")  # 32 MiB; int64 would be 256
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert big.dtype == np.int8 and big.shape == (1, 4096, 4096, 2)
    assert peak < big.nbytes + (12 << 20)  # the result and one chunk
    assert big.min() == -128 and big.max() == 127


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "int32", "float32", "bool"])
def test_random_samples_keep_the_values_of_one_int64_or_float64_draw(dtype):
    shape = (3, 700_001)  # more than one chunk
    expected_rng = np.random.default_rng(3)
    dt = np.dtype(dtype)
    if dt.kind in "iu":
        lim = np.iinfo(dt)
        expected = expected_rng.integers(lim.min, lim.max, size=shape, endpoint=True).astype(dt)
    else:
        expected = expected_rng.standard_normal(size=shape).astype(dt)
    np.testing.assert_array_equal(random_array(np.random.default_rng(3), shape, dtype), expected)


def test_uint64_inputs_get_random_samples():
    values = random_array(np.random.default_rng(0), (1000,), "uint64")
    assert values.dtype == np.uint64 and values.max() > np.iinfo(np.int64).max


BENCH_TEST = """
def test_bench(mlonmcu_run):
    mlonmcu_run.process()
"""


def test_a_huge_input_fails_its_own_test_at_load(pytester, monkeypatch):
    """(1, 40000, 40000, 4) int8: 6.4 GB of samples if drawn. It fails at load, in its own
    test; the other model of the session passes."""
    huge = pytester.path / "huge.tflite"
    huge.write_bytes(_aww_with_input_shape((1, 40000, 40000, 4)))
    pytester.makepyfile(test_m=BENCH_TEST)
    monkeypatch.setenv(DEFAULT_ROOT_ENV, str(USER_CACHE))
    monkeypatch.delenv(MODELS_DIR_ENV, raising=False)
    report = pytester.path / "r.json"
    result = pytester.runpytest_subprocess(
        f"--mlonmcu-json={report}",
        "-p",
        "no:cacheprovider",
        f"--mlonmcu-model={huge},zoo:toycar",
        "--mlonmcu-backend=tflmi",
        "--mlonmcu-target=host_x86",
        "--mlonmcu-config=host_x86.callgrind=false",
        timeout=300,
    )
    result.assert_outcomes(passed=1, failed=1)
    runs = {r["id"]: r for r in json.loads(report.read_text())["runs"]}
    failed = runs["huge-tflmi-host_x86"]
    assert failed["reason"].startswith(f"pytest_mlonmcu.core.errors.ModelError: {huge}: ")
    assert "has 6400000000 elements, more than the limit" in failed["reason"]
    assert runs["zoo_toycar-tflmi-host_x86"]["outcome"] == "passed"
