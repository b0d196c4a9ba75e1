"""Helpers of the cgen tests: build generated code with a driver, run it, run TFLM."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from pytest_mlonmcu.backends.cgen import CgenOutput, generate

HERE = Path(__file__).parent
DRIVER = HERE / "host_driver.c"
# The MLPerf Tiny reference models are read in place (never copied into the repo).
MLPERF_DIR = Path(
    os.environ.get("PYTEST_MLONMCU_MLPERF_DIR")
    or os.environ.get("MLONMCU_MODELS_DIR")
    or HERE.parents[2] / "shared" / "models" / "mlperf_tiny"
)
HOST_CFLAGS = ["-O2", "-std=c99", "-ffp-contract=off", "-Wall", "-Wextra", "-Werror"]

Inputs = list[np.ndarray]  # one array per model input


def compile_host(cg: CgenOutput, exe: Path, extra: Sequence[str] = ()) -> Path:
    """Compile generated sources + host_driver.c with the host gcc."""
    cmd = ["gcc", *HOST_CFLAGS, *extra]
    cmd += [f"-I{d}" for d in cg.include_dirs]
    cmd += [str(s) for s in cg.sources] + [str(DRIVER), "-lm", "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise AssertionError(f"host compile failed:\n{' '.join(cmd)}\n{proc.stderr[-4000:]}")
    return exe


def build_host(model: bytes, work: Path, variant: str) -> tuple[CgenOutput, Path]:
    cg = generate(model, work / "gen", variant=variant)
    return cg, compile_host(cg, work / "app")


def write_inputs(path: Path, sets: Sequence[Inputs]) -> None:
    path.write_bytes(b"".join(np.ascontiguousarray(x).tobytes() for xs in sets for x in xs))


def split_outputs(data: bytes, templates: Sequence[np.ndarray], n_sets: int) -> list[Inputs]:
    """Cut the driver's output file into arrays shaped like the TFLM outputs."""
    out, pos = [], 0
    for _ in range(n_sets):
        arrays = []
        for t in templates:
            arrays.append(np.frombuffer(data[pos : pos + t.nbytes], t.dtype).reshape(t.shape))
            pos += t.nbytes
        out.append(arrays)
    assert pos == len(data), f"driver wrote {len(data)} bytes, expected {pos}"
    return out


def run_host(exe: Path, sets: Sequence[Inputs], templates: Sequence[np.ndarray]) -> list[Inputs]:
    work = exe.parent
    write_inputs(work / "inputs.bin", sets)
    proc = subprocess.run(
        [str(exe), str(work / "inputs.bin"), str(work / "outputs.bin")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"driver failed ({proc.returncode}): {proc.stderr}"
    return split_outputs((work / "outputs.bin").read_bytes(), templates, len(sets))


def tflm_interpreter(model: bytes):
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_bytes(model)


def tflm_run(model: bytes, sets: Sequence[Inputs]) -> list[Inputs]:
    """Reference outputs from the TFLite Micro interpreter (the oracle)."""
    interp = tflm_interpreter(model)
    n_out = _count(interp.get_output_details)
    results = []
    for xs in sets:
        for i, x in enumerate(xs):
            interp.set_input(x, i)
        interp.invoke()
        results.append([np.array(interp.get_output(j)) for j in range(n_out)])
    return results


def _count(details: Callable[[int], dict]) -> int:
    n = 0
    while True:
        try:
            details(n)
        except Exception:
            return n
        n += 1


def random_inputs(model: bytes, n_sets: int, seed: int) -> list[Inputs]:
    """Seeded inputs over the full int8/int16 range (float inputs: normal, sd 2)."""
    interp = tflm_interpreter(model)
    rng = np.random.default_rng(seed)
    details = [interp.get_input_details(i) for i in range(_count(interp.get_input_details))]
    sets = []
    for _ in range(n_sets):
        xs = []
        for d in details:
            shape = tuple(int(s) for s in d["shape"])
            if d["dtype"] in (np.int8, np.int16):
                info = np.iinfo(d["dtype"])
                xs.append(rng.integers(info.min, info.max + 1, size=shape, dtype=d["dtype"]))
            else:
                xs.append((rng.normal(size=shape) * 2).astype(d["dtype"]))
        sets.append(xs)
    return sets


def assert_bit_exact(got: Sequence[Inputs], want: Sequence[Inputs]) -> None:
    for k, (g_set, w_set) in enumerate(zip(got, want, strict=True)):
        for j, (g, w) in enumerate(zip(g_set, w_set, strict=True)):
            if not np.array_equal(g, w):
                diff = np.abs(g.astype(np.float64) - w.astype(np.float64))
                raise AssertionError(
                    f"input set {k}, output {j}: {int((diff > 0).sum())} of {w.size} values "
                    f"differ from TFLM (max |diff| {diff.max():g})"
                )


def have_host_gcc() -> bool:
    return shutil.which("gcc") is not None


def schema_module():
    """TFLite's flatbuffer object API (schema_py_generated), loaded without importing TF."""
    spec = importlib.util.find_spec("tensorflow")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "lite" / "python" / "schema_py_generated.py"
    if not path.exists():
        return None
    mod_spec = importlib.util.spec_from_file_location("cgen_tflite_schema", path)
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    return module


def edit_model(model: bytes, edit: Callable[[object, object], None]) -> bytes:
    """Unpack a .tflite with the object API, let edit(schema, model_t) change it, repack."""
    import flatbuffers

    schema = schema_module()
    if schema is None:
        raise RuntimeError("tensorflow's schema_py_generated is not available")
    model_t = schema.ModelT.InitFromObj(schema.Model.GetRootAs(model, 0))
    edit(schema, model_t)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model_t.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def int32_bias(schema, model) -> None:
    """edit_model: the int64 bias of a 16x8 FULLY_CONNECTED (operator 0) made int32, TFLM's
    other 16x8 path (int32 accumulation)."""
    g = model.subgraphs[0]
    bias = g.tensors[g.operators[0].inputs[2]]
    assert bias.type == schema.TensorType.INT64
    values = np.frombuffer(bytes(model.buffers[bias.buffer].data), np.int64)
    model.buffers[bias.buffer].data = values.astype(np.int32).tobytes()
    bias.type = schema.TensorType.INT32


def mlperf_model_path(name: str) -> Path:
    return MLPERF_DIR / name / f"{name}.tflite"


def count_macs(model: bytes) -> int:
    """Multiply-accumulates of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED (full windows)."""
    from pytest_mlonmcu.backends.cgen.model import read_model

    g = read_model(model)
    macs = 0
    for op in g.operators:
        out = g.tensors[op.outputs[0]]
        if op.name == "CONV_2D":
            w = g.tensors[op.inputs[1]].shape
            macs += out.size * w[1] * w[2] * w[3]
        elif op.name == "DEPTHWISE_CONV_2D":
            w = g.tensors[op.inputs[1]].shape
            macs += out.size * w[1] * w[2]
        elif op.name == "FULLY_CONNECTED":
            macs += out.size * g.tensors[op.inputs[1]].shape[-1]
    return macs


def sample_inputs(name: str, model: bytes) -> list[list[np.ndarray]]:
    """The model folder's input/N.bin turned into int8 model inputs."""
    detail = tflm_interpreter(model).get_input_details(0)
    shape = tuple(int(s) for s in detail["shape"])
    scale = float(detail["quantization_parameters"]["scales"][0])
    zero_point = int(detail["quantization_parameters"]["zero_points"][0])
    sets = []
    for path in sorted((mlperf_model_path(name).parent / "input").glob("*.bin")):
        raw = path.read_bytes()
        if name == "resnet":  # uint8 pixels, model input = pixel - 128
            x = np.frombuffer(raw, np.uint8).astype(np.int16) - 128
        else:
            x = np.round(np.frombuffer(raw, np.float32) / scale + zero_point)
        sets.append([np.clip(x, -128, 127).astype(np.int8).reshape(shape)])
    return sets


def op_model_session(
    tmp_path: Path, names: Sequence[str], op_models: dict[str, bytes], backend: str, target: str
) -> tuple[subprocess.CompletedProcess, dict[str, dict]]:
    """One plugin session over the named op models: its process and the runs by model name."""
    for name in names:
        (tmp_path / f"{name}.tflite").write_bytes(op_models[name])
    models = ",".join(str(tmp_path / f"{n}.tflite") for n in names)
    repo = Path(__file__).resolve().parents[2]
    cmd = [
        sys.executable, "-m", "pytest", str(repo / "benchmarks"), "-q", "-p", "no:cacheprovider",
        f"--rootdir={tmp_path}", f"--mlonmcu-model={models}", f"--mlonmcu-backend={backend}",
        f"--mlonmcu-target={target}", f"--mlonmcu-json={tmp_path / 'r.json'}",
        f"--mlonmcu-out={tmp_path / 'out'}", "--mlonmcu-history=off",
    ]  # fmt: skip
    result = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=3000)
    runs = json.loads((tmp_path / "r.json").read_text())["runs"]
    return result, {Path(r["model"]).stem: r for r in runs}
