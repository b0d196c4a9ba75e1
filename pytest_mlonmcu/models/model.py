"""Resolve model names to files and read them: models dirs, the built-in zoo, paths."""

from __future__ import annotations

import hashlib
import importlib.metadata
import math
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..core import proc
from ..core.cache import Cache, hash_key
from ..core.errors import ModelError
from . import zoo
from .metadata import ModelMetadata, read_metadata
from .zoo import ZOO_NAMES, ZOO_VERSION

ZOO_PREFIX = "zoo:"


@dataclass
class Model:
    """A model ready for the pipeline: its .tflite, metadata and sample data."""

    name: str
    path: Path
    origin: str  # "models_dir", "zoo" or "file"
    definition: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def data(self) -> bytes:
        try:
            return self.path.read_bytes()
        except OSError as exc:
            raise ModelError(f"{self.path}: cannot read the model file ({exc.strerror})") from exc

    @cached_property
    def metadata(self) -> ModelMetadata:
        return read_metadata(self.data, origin=str(self.path))

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def directory(self) -> Path:
        return self.path.parent

    def sample_inputs(self, count: int, seed: int) -> list[list[np.ndarray]]:
        """``count`` samples, each a list of arrays (one per model input, model dtype).

        The model directory's ``input/N.bin`` files come first (quantized as its
        definition.yml says), then seeded random values fill up to ``count``.
        """
        samples = self._dataset_samples(count)
        rng = np.random.default_rng(seed)
        while len(samples) < count:
            samples.append(
                [random_array(rng, info.shape, info.dtype) for info in self.metadata.inputs]
            )
        return samples

    def _dataset_samples(self, count: int) -> list[list[np.ndarray]]:
        nodes = (self.definition.get("network_parameters") or {}).get("input_nodes") or []
        infos = self.metadata.inputs
        if len(infos) != 1 or not nodes:
            return []  # multi-input sample files have no agreed layout: use random data
        input_dir = self.directory / "input"
        files = sorted(input_dir.glob("*.bin"), key=lambda p: (len(p.stem), p.stem))
        info, node = infos[0], nodes[0]
        samples = []
        for f in files[:count]:
            try:
                raw = f.read_bytes()
            except OSError as exc:
                raise ModelError(f"{f}: cannot read the sample file ({exc.strerror})") from exc
            item = len(raw) // info.size if len(raw) % info.size == 0 else 0
            if item not in SAMPLE_FILE_DTYPES:
                raise ModelError(
                    f"{f}: {len(raw)} bytes do not hold the {info.size} elements of input "
                    f"{info.name} {info.shape} as float32, uint8 or int16 values"
                )
            values = np.frombuffer(raw, dtype=SAMPLE_FILE_DTYPES[item])
            samples.append([quantize_input(values, node.get("quantize"), info).reshape(info.shape)])
        return samples


# Sample files (input/N.bin) hold float32, uint8 or int16 values: told apart by their size.
SAMPLE_FILE_DTYPES = {4: np.float32, 1: np.uint8, 2: np.int16}
# Random values are drawn in chunks: memory stays bounded whatever the input's size.
_CHUNK = 1 << 20


def random_array(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """Seeded random values of ``dtype``: integers over the type's whole range, otherwise
    standard normal values. Drawn chunk by chunk into the result, so only the result is
    allocated at full size (the values equal one draw of the whole shape as int64 or
    float64, which is how earlier versions drew them)."""
    dt = np.dtype(dtype)
    out = np.empty(math.prod(shape), dtype=dt)
    for start in range(0, out.size, _CHUNK):
        n = min(_CHUNK, out.size - start)
        if dt.kind in "iu":
            lim = np.iinfo(dt)
            draw_type = np.uint64 if dt == np.uint64 else np.int64
            out[start : start + n] = rng.integers(lim.min, lim.max, n, draw_type, endpoint=True)
        else:
            out[start : start + n] = rng.standard_normal(n).astype(dt)
    return out.reshape(shape)


def quantize_input(values: np.ndarray, quant: dict | None, info) -> np.ndarray:
    """Map a dataset sample to the model's input dtype as definition.yml describes."""
    dt = np.dtype(info.dtype)
    if dt.kind == "f":
        return values.astype(dt)
    if quant:
        scale = float(quant.get("scale", 1.0))
        zero = int(quant.get("zero_shift", 0))
    elif info.scale:
        scale, zero = info.scale, info.zero_point or 0
    else:
        scale, zero = 1.0, 0
    lim = np.iinfo(dt)
    q = np.round(values.astype(np.float64) / scale) + zero
    return np.clip(q, lim.min, lim.max).astype(dt)


class ModelResolver:
    """Turns the names users write (``aww``, ``zoo:aww``, ``path/to/x.tflite``) into Models."""

    def __init__(self, models_dirs: list[Path], cache: Cache) -> None:
        self.models_dirs = [Path(d) for d in models_dirs]
        self.cache = cache

    def known_names(self) -> list[str]:
        names = set(ZOO_NAMES)
        for d in self.models_dirs:
            if d.is_dir():
                names.update(p.name for p in d.iterdir() if (p / f"{p.name}.tflite").is_file())
        return sorted(names)

    def resolve(self, name: str) -> Model:
        if name.endswith(".tflite") or "/" in name and not name.startswith(ZOO_PREFIX):
            path = Path(name).expanduser()
            if not path.is_file():
                raise ModelError(f"{path}: model file not found")
            return Model(path.stem, path.resolve(), "file", _read_definition(path.parent, path))
        if name.startswith(ZOO_PREFIX):
            return self._zoo(name[len(ZOO_PREFIX) :])
        for d in self.models_dirs:
            path = d / name / f"{name}.tflite"
            if path.is_file():
                return Model(
                    name, path.resolve(), "models_dir", _read_definition(path.parent, path)
                )
        if name in ZOO_NAMES:
            return self._zoo(name)
        raise ModelError(
            f"unknown model {name!r}: not in the models dirs "
            f"({', '.join(map(str, self.models_dirs)) or 'none configured'}) nor in the built-in zoo; "
            f"known models: {', '.join(self.known_names())}"
        )

    def _zoo(self, name: str) -> Model:
        if name not in ZOO_NAMES:
            raise ModelError(f"unknown zoo model {name!r}; the zoo has {', '.join(ZOO_NAMES)}")
        # The generator's code is an input: editing it rebuilds without a ZOO_VERSION bump.
        key = hash_key("zoo", ZOO_VERSION, name, _tf_version(), Path(zoo.__file__))

        def produce(tmp: Path) -> None:
            # A subprocess keeps TensorFlow's import time and memory out of the test process.
            result = proc.run(
                [sys.executable, "-m", "pytest_mlonmcu.models.zoo", name, str(tmp / name)],
                timeout=proc.limit("build"),
                what=f"building zoo model {name}",
            )
            if result.returncode != 0:
                raise ModelError(f"zoo model {name}: building it failed:\n{result.stderr[-3000:]}")

        entry = self.cache.get_or_create("zoo", key, produce)
        path = entry / name / f"{name}.tflite"
        return Model(name, path, "zoo", _read_definition(path.parent, path))


def _tf_version() -> str:
    for dist in ("tensorflow-cpu", "tensorflow"):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "none"


def _read_definition(directory: Path, model_path: Path) -> dict[str, Any]:
    """definition.yml of the mlonmcu-models layout: it belongs to ``<name>/<name>.tflite``."""
    path = directory / "definition.yml"
    if not path.is_file() or directory.name != model_path.stem:
        return {}
    try:
        return yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ModelError(f"{path}: invalid YAML ({exc})") from exc
