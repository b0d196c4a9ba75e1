"""Models: bad files fail their own test, name resolution, MLPerf Tiny metadata, sample inputs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from pytest_mlonmcu.core.cache import Cache
from pytest_mlonmcu.core.errors import ModelError
from pytest_mlonmcu.models.metadata import read_metadata
from pytest_mlonmcu.models.model import ModelResolver
from pytest_mlonmcu.settings import MODELS_DIR_ENV

from .conftest import BENCH_TEST, HOST, MLPERF_DIR, NO_CALLGRIND, TFLMI, USER_CACHE, mlperf_model

RUN_ARGS = (TFLMI, HOST, NO_CALLGRIND)

# -- bad model files ---------------------------------------------------------------------


def _random_bytes(_: Path) -> bytes:
    return np.random.default_rng(0).bytes(4096)


def _truncated(toycar: Path) -> bytes:
    return toycar.read_bytes()[:4096]


def _text(_: Path) -> bytes:
    return b"this is a text file, not a model\n"


def _empty(_: Path) -> bytes:
    return b""


BAD_FILES = {
    "random": ("bad.tflite", _random_bytes, "not a TFLite flatbuffer"),
    "truncated": ("truncated.tflite", _truncated, "lies outside the file (4096 bytes)"),
    "text": ("notes.tflite", _text, "not a TFLite flatbuffer"),
    "empty": ("empty.tflite", _empty, "not a TFLite flatbuffer (file identifier b'', expected"),
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_bad_model_file_fails_only_its_own_test(pytester, run_plugin, toycar_copy, kind):
    name, make, cause = BAD_FILES[kind]
    bad = pytester.path / name
    bad.write_bytes(make(toycar_copy))
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin(f"--mlonmcu-model={bad},zoo:toycar", *RUN_ARGS)
    session.result.assert_outcomes(passed=1, failed=1)
    assert session.record("zoo_toycar-tflmi-host_x86")["outcome"] == "passed"
    failed = session.record(f"{bad.stem}-tflmi-host_x86")
    assert failed["outcome"] == "failed"
    assert failed["reason"].startswith(f"pytest_mlonmcu.core.errors.ModelError: {bad}: ")
    assert cause in failed["reason"]


def test_missing_model_file_fails_naming_it(pytester, run_plugin):
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin("--mlonmcu-model=gone/missing.tflite", *RUN_ARGS)
    session.result.assert_outcomes(failed=1)
    assert "gone/missing.tflite: model file not found" in session.runs[0]["reason"]


def _models_dir(root: Path, toycar: Path, name: str = "mymodel") -> Path:
    """A models dir in the mlonmcu-models layout with one model, ``<name>/<name>.tflite``."""
    model_dir = root / "my_models" / name
    model_dir.mkdir(parents=True)
    shutil.copyfile(toycar, model_dir / f"{name}.tflite")
    return model_dir.parent


def test_unknown_model_name_fails_naming_the_known_models(pytester, run_plugin, toycar_copy):
    models_dir = _models_dir(pytester.path, toycar_copy)
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin(
        "--mlonmcu-model=nosuch,zoo:toycar", f"--mlonmcu-models-dir={models_dir}", *RUN_ARGS
    )
    session.result.assert_outcomes(passed=1, failed=1)
    reason = session.record("nosuch-tflmi-host_x86")["reason"]
    assert "unknown model 'nosuch'" in reason
    assert str(models_dir) in reason
    known = reason.split("known models: ", 1)[1].split(", ")
    assert {"mymodel", "toycar", "aww", "vww", "resnet"} <= set(known)


def test_models_dir_name_resolves_to_its_file(pytester, run_plugin, toycar_copy):
    models_dir = _models_dir(pytester.path, toycar_copy)
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin("--mlonmcu-model=mymodel", f"--mlonmcu-models-dir={models_dir}", *RUN_ARGS)
    session.result.assert_outcomes(passed=1)
    record = session.record("mymodel-tflmi-host_x86")
    copied = Path(record["artifacts"]) / "model.tflite"
    assert copied.read_bytes() == toycar_copy.read_bytes()


def test_models_dir_from_the_environment(pytester, run_plugin, toycar_copy):
    models_dir = _models_dir(pytester.path, toycar_copy)
    pytester.makepyfile(test_m=BENCH_TEST)
    dirs = f"{pytester.path / 'nowhere'}:{models_dir}"
    session = run_plugin("--mlonmcu-model=mymodel", *RUN_ARGS, env={MODELS_DIR_ENV: dirs})
    session.result.assert_outcomes(passed=1)
    artifacts = Path(session.record("mymodel-tflmi-host_x86")["artifacts"])
    assert (artifacts / "model.tflite").read_bytes() == toycar_copy.read_bytes()


def test_models_dir_wins_over_the_zoo_and_uses_its_samples(pytester, run_plugin):
    toycar = mlperf_model("toycar")
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin("--mlonmcu-model=toycar", f"--mlonmcu-models-dir={MLPERF_DIR}", *RUN_ARGS)
    session.result.assert_outcomes(passed=1)
    artifacts = Path(session.record("toycar-tflmi-host_x86")["artifacts"])
    assert (artifacts / "model.tflite").read_bytes() == toycar.read_bytes()
    with np.load(artifacts / "inputs.npz") as data:
        first = data["s0_i0"]
    x = np.frombuffer((toycar.parent / "input" / "0.bin").read_bytes(), dtype=np.float32)
    expected = np.clip(np.round(x / 0.3910152316093445) + 89, -128, 127).astype(np.int8)
    np.testing.assert_array_equal(first.reshape(-1), expected)


# -- MLPerf Tiny metadata ----------------------------------------------------------------

# MACs in millions as the MLonMCU paper prints them (two decimals: 3 significant digits,
# but only 2 for toycar's 0.26 M).
PAPER_MACS = {"aww": 2.66, "vww": 7.49, "resnet": 12.50, "toycar": 0.26}
# The rest from shared/models/mlperf_tiny/SOURCES.md ("Facts").
EXACT_MACS = {"aww": 2_656_768, "vww": 7_489_664, "resnet": 12_501_632, "toycar": 264_192}
CONSTANT_BYTES = {"aww": 24_376, "vww": 219_072, "resnet": 78_752, "toycar": 270_880}
OP_COUNTS = {
    "aww": {"CONV_2D": 5, "DEPTHWISE_CONV_2D": 4, "AVERAGE_POOL_2D": 1, "RESHAPE": 1,
            "FULLY_CONNECTED": 1, "SOFTMAX": 1},
    "vww": {"CONV_2D": 14, "DEPTHWISE_CONV_2D": 13, "AVERAGE_POOL_2D": 1, "RESHAPE": 1,
            "FULLY_CONNECTED": 1, "SOFTMAX": 1},
    "resnet": {"CONV_2D": 9, "ADD": 3, "AVERAGE_POOL_2D": 1, "RESHAPE": 1, "FULLY_CONNECTED": 1,
               "SOFTMAX": 1},
    "toycar": {"FULLY_CONNECTED": 10},
}  # fmt: skip
IO = {  # (name, shape, scale, zero point) of the input, then of the output; all int8
    "aww": (("input_1", (1, 49, 10, 1), 0.5748363733291626, 87),
            ("Identity", (1, 12), 0.00390625, -128)),
    "vww": (("input_1_int8", (1, 96, 96, 3), 0.003921568859368563, -128),
            ("Identity_int8", (1, 2), 0.00390625, -128)),
    "resnet": (("input_1_int8", (1, 32, 32, 3), 1.0, -128),
               ("Identity_int8", (1, 10), 0.00390625, -128)),
    "toycar": (("input_1", (1, 640), 0.3910152316093445, 89),
               ("Identity", (1, 640), 0.36449846625328064, 96)),
}  # fmt: skip
MLPERF = list(PAPER_MACS)


@pytest.fixture(scope="module")
def metadata():
    cache: dict = {}

    def get(name: str):
        if name not in cache:
            path = mlperf_model(name)
            cache[name] = read_metadata(path.read_bytes(), origin=str(path))
        return cache[name]

    return get


@pytest.mark.parametrize("name", MLPERF)
def test_mlperf_macs_match_the_paper(metadata, name):
    macs = metadata(name).macs
    assert f"{macs / 1e6:.2f}" == f"{PAPER_MACS[name]:.2f}"
    assert macs == EXACT_MACS[name]


@pytest.mark.parametrize("name", MLPERF)
def test_mlperf_operators(metadata, name):
    ops = metadata(name).ops
    counts = {op: ops.count(op) for op in set(ops)}
    assert counts == OP_COUNTS[name]
    assert metadata(name).custom_ops == []
    definition = yaml.safe_load((MLPERF_DIR / name / "definition.yml").read_text())
    assert metadata(name).op_set == sorted(definition["operators"]["TensorFlow Lite"])


@pytest.mark.parametrize("name", MLPERF)
def test_mlperf_param_bytes_are_the_constant_data(metadata, name):
    """SOURCES.md's "constant data in the file": weights, biases and the RESHAPE shape."""
    assert metadata(name).param_bytes == CONSTANT_BYTES[name]


@pytest.mark.parametrize("name", MLPERF)
def test_mlperf_inputs_and_outputs(metadata, name):
    meta = metadata(name)
    assert len(meta.inputs) == 1 and len(meta.outputs) == 1
    for info, (tname, shape, scale, zero) in zip((meta.inputs[0], meta.outputs[0]), IO[name]):
        assert (info.name, info.shape, info.dtype, info.zero_point) == (tname, shape, "int8", zero)
        assert info.scale == pytest.approx(scale, rel=1e-7)
        assert info.nbytes == int(np.prod(shape))


def test_metadata_error_names_the_origin():
    with pytest.raises(ModelError, match=r"^somewhere/x\.tflite: not a TFLite flatbuffer"):
        read_metadata(b"\x00" * 32, origin="somewhere/x.tflite")


# -- sample inputs -----------------------------------------------------------------------


def _resolve(name: str):
    mlperf_model(name)
    return ModelResolver([MLPERF_DIR], Cache(USER_CACHE)).resolve(name)


def _floats(name: str, index: int) -> np.ndarray:
    return np.frombuffer((MLPERF_DIR / name / "input" / f"{index}.bin").read_bytes(), np.float32)


def test_resnet_samples_are_pixels_minus_128():
    model = _resolve("resnet")
    samples = model.sample_inputs(3, seed=0)
    for index, (arr,) in enumerate(samples):
        pixels = np.frombuffer(
            (MLPERF_DIR / "resnet" / "input" / f"{index}.bin").read_bytes(), np.uint8
        )
        assert arr.dtype == np.int8 and arr.shape == (1, 32, 32, 3)
        np.testing.assert_array_equal(arr.reshape(-1), pixels.astype(np.int16) - 128)


@pytest.mark.parametrize(
    ("name", "scale", "zero"),
    [
        ("aww", 0.5748363733291626, 87),
        ("vww", 0.0039215688593685627, -128),
        ("toycar", 0.3910152316093445, 89),
    ],
)
def test_float_samples_are_quantized_per_definition(name, scale, zero):
    model = _resolve(name)
    samples = model.sample_inputs(2, seed=0)
    for index, (arr,) in enumerate(samples):
        expected = np.clip(np.round(_floats(name, index) / scale) + zero, -128, 127)
        assert arr.dtype == np.int8 and arr.shape == model.metadata.inputs[0].shape
        np.testing.assert_array_equal(arr.reshape(-1), expected.astype(np.int8))


def test_samples_beyond_the_dataset_are_seeded_random():
    model = _resolve("aww")
    a = model.sample_inputs(7, seed=1)
    b = model.sample_inputs(7, seed=1)
    c = model.sample_inputs(7, seed=2)
    assert len(a) == 7
    for s in range(5):  # the five files, whatever the seed
        np.testing.assert_array_equal(a[s][0], c[s][0])
    for s in (5, 6):
        np.testing.assert_array_equal(a[s][0], b[s][0])
        assert not np.array_equal(a[s][0], c[s][0])
        assert a[s][0].dtype == np.int8 and a[s][0].shape == (1, 49, 10, 1)
