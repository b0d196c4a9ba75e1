"""The built-in model zoo: deterministic builds, runnable in TFLM, truthful definition.yml.
(textcls also writes its sample token sequences: tests/test_zoo_models.py runs them.)"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml

from pytest_mlonmcu.models.zoo import ZOO_MODELS, build_zoo_model

REPO = Path(__file__).resolve().parents[1]

# MACs of the MLPerf Tiny reference models (paper, arXiv 2106.07597, table 1).
PAPER_MACS = {"aww": 2.66e6, "vww": 7.49e6, "resnet": 12.50e6, "toycar": 0.26e6}
PAPER_OPS = {
    "aww": {"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "FULLY_CONNECTED", "SOFTMAX"},
    "vww": {"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "FULLY_CONNECTED", "SOFTMAX"},
    "resnet": {"CONV_2D", "ADD", "AVERAGE_POOL_2D", "FULLY_CONNECTED", "SOFTMAX"},
    "toycar": {"FULLY_CONNECTED"},
}
# The zoo's other models: the operators their architectures must convert to.
OTHER_OPS = {
    "mbv2": {
        "CONV_2D",
        "DEPTHWISE_CONV_2D",
        "ADD",
        "AVERAGE_POOL_2D",
        "FULLY_CONNECTED",
        "SOFTMAX",
    },
    "lstm": {
        *("FULLY_CONNECTED", "ADD", "MUL", "LOGISTIC", "TANH", "UNPACK", "CONCATENATION"),
        "SOFTMAX",
    },
    "textcls": {"GATHER", "MEAN", "FULLY_CONNECTED", "SOFTMAX"},
}
TOKENS = {"textcls": 1000}  # token-id inputs (int32) and their vocabulary

# toycar builds in ~4 s and keeps determinism in the fast suite; the others are slow.
MODELS = [
    name if name == "toycar" else pytest.param(name, marks=pytest.mark.slow) for name in ZOO_MODELS
]


def _build_in_subprocess(name: str, out_dir: Path) -> Path:
    """Build as the plugin does: ``python -m pytest_mlonmcu.models.zoo`` in a fresh process."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_mlonmcu.models.zoo", name, str(out_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    path = Path(proc.stdout.strip().splitlines()[-1])
    assert path == out_dir / f"{name}.tflite"
    return path


@pytest.fixture(scope="module")
def zoo_build(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """One build per model and module, shared by the tests below."""
    built: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in built:
            built[name] = _build_in_subprocess(name, tmp_path_factory.mktemp(f"zoo-{name}"))
        return built[name]

    return get


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", MODELS)
def test_build_is_deterministic_across_processes(
    name: str, zoo_build: Callable[[str], Path], tmp_path: Path
) -> None:
    first = zoo_build(name)
    second = _build_in_subprocess(name, tmp_path / name)
    assert _sha256(first) == _sha256(second)
    assert _sha256(first.parent / "definition.yml") == _sha256(second.parent / "definition.yml")


@pytest.mark.parametrize("name", MODELS)
def test_model_runs_in_tflite_micro(name: str, zoo_build: Callable[[str], Path]) -> None:
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(zoo_build(name).read_bytes())
    details = interpreter.get_input_details(0)
    shape = tuple(int(d) for d in details["shape"])
    rng = np.random.default_rng(0)
    if name in TOKENS:
        assert np.dtype(details["dtype"]) == np.int32
        inputs = [np.zeros(shape, np.int32), np.full(shape, TOKENS[name] - 1, np.int32)]
        inputs += [rng.integers(0, TOKENS[name], size=shape, dtype=np.int32) for _ in range(4)]
    else:
        assert np.dtype(details["dtype"]) == np.int8
        inputs = [np.full(shape, -128, np.int8), np.full(shape, 127, np.int8)]
        inputs += [
            rng.integers(-128, 127, size=shape, endpoint=True, dtype=np.int8) for _ in range(4)
        ]
    outputs = []
    for x in inputs:
        interpreter.set_input(x, 0)
        interpreter.invoke()
        out = np.array(interpreter.get_output(0))
        assert out.dtype == np.int8
        outputs.append(out.copy())
    # Untrained but not degenerate: every input gives its own output, and not a constant one.
    assert len({o.tobytes() for o in outputs}) == len(outputs)
    assert all(o.max() > o.min() for o in outputs)


def _tflite_tensors(data: bytes) -> tuple[list[str], list[str], set[str]]:
    """Input names, output names and operator names, read with the `tflite` package."""
    import tflite

    op_names = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
    model = tflite.Model.GetRootAsModel(data, 0)
    sg = model.Subgraphs(0)
    inputs = [sg.Tensors(i).Name().decode() for i in sg.InputsAsNumpy()]
    outputs = [sg.Tensors(i).Name().decode() for i in sg.OutputsAsNumpy()]
    ops = set()
    for k in range(sg.OperatorsLength()):
        code = model.OperatorCodes(sg.Operators(k).OpcodeIndex())
        ops.add(op_names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())])
    return inputs, outputs, ops


@pytest.mark.parametrize("name", MODELS)
def test_definition_matches_the_tflite(name: str, zoo_build: Callable[[str], Path]) -> None:
    from tflite_micro.python.tflite_micro import runtime

    path = zoo_build(name)
    data = path.read_bytes()
    definition = yaml.safe_load((path.parent / "definition.yml").read_text())
    assert definition["network"]["filename"] == path.name
    assert definition["network"]["file_size_bytes"] == len(data)
    assert definition["network"]["hash"]["value"] == hashlib.sha256(data).hexdigest()

    interpreter = runtime.Interpreter.from_bytes(data)
    in_names, out_names, ops = _tflite_tensors(data)
    params = definition["network_parameters"]
    for nodes, names, details, key in (
        (params["input_nodes"], in_names, interpreter.get_input_details, "quantize"),
        (params["output_nodes"], out_names, interpreter.get_output_details, "dequantize"),
    ):
        assert [n["name"] for n in nodes] == names
        for index, node in enumerate(nodes):
            d = details(index)
            assert node["shape"] == [int(s) for s in d["shape"]]
            if key == "quantize" and name in TOKENS:  # token ids, taken as they are
                assert node["dtype"] == np.dtype(d["dtype"]).name == "int32"
                assert node["range"] == [0, TOKENS[name] - 1]
                assert (node[key]["scale"], node[key]["zero_shift"]) == (1.0, 0)
                continue
            assert node["dtype"] == np.dtype(d["dtype"]).name == "int8"
            q = d["quantization_parameters"]
            assert node[key]["scale"] == pytest.approx(float(q["scales"][0]), rel=1e-7)
            assert node[key]["zero_shift"] == int(q["zero_points"][0])

    assert set(definition["operators"]["TensorFlow Lite"]) == ops
    if name in OTHER_OPS:
        assert ops == OTHER_OPS[name]
        return
    # Same operator set as the reference models, except the RESHAPE before FULLY_CONNECTED
    # that today's converter folds into it.
    assert ops == PAPER_OPS[name]
    assert definition["zoo"]["macs"] == pytest.approx(PAPER_MACS[name], rel=0.02)


def test_unknown_name_raises_naming_the_known_models(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="nope") as info:
        build_zoo_model("nope", tmp_path)
    for name in ZOO_MODELS:
        assert name in str(info.value)
    assert not any(tmp_path.iterdir())


def test_import_and_cli_error_need_no_tensorflow() -> None:
    code = (
        "import sys\n"
        "from pytest_mlonmcu.models import zoo\n"
        "assert 'tensorflow' not in sys.modules\n"
        "rc = zoo.main(['nope', '/nonexistent'])\n"
        "assert 'tensorflow' not in sys.modules\n"
        "sys.exit(rc)\n"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 2, proc.stderr
    assert "known zoo models: aww, vww, resnet, toycar, mbv2, lstm, textcls" in proc.stderr


def test_float_variant_is_the_same_network_unquantized(
    zoo_build: Callable[[str], Path], tmp_path: Path
) -> None:
    """toycar_f32: toycar's network and weights as float32 (its int8 FULLY_CONNECTED weights
    are the float ones quantized), deterministic, with calibration-like sample inputs."""
    from pytest_mlonmcu.models.metadata import read_metadata

    float_path = zoo_build("toycar_f32")
    assert _sha256(float_path) == _sha256(_build_in_subprocess("toycar_f32", tmp_path / "f"))
    int8_meta = read_metadata(zoo_build("toycar").read_bytes())
    meta = read_metadata(float_path.read_bytes())
    assert set(meta.ops) == set(int8_meta.ops) - {"QUANTIZE", "DEQUANTIZE"}
    assert {t for types in meta.op_types for t in types.all} == {"float32"}
    assert meta.macs == int8_meta.macs
    definition = yaml.safe_load((float_path.parent / "definition.yml").read_text())
    node = definition["network_parameters"]["input_nodes"][0]
    assert node["dtype"] == "float32" and "quantize" not in node
    samples = sorted((float_path.parent / "input").glob("*.bin"))
    assert len(samples) == 8 and {p.stat().st_size for p in samples} == {640 * 4}
    values = np.frombuffer(samples[0].read_bytes(), np.float32)
    assert -84.8 <= values.min() < values.max() <= 14.92  # toycar's input range
