"""TVM backends on Apache TVM 0.27 (Relax): tvmaot, tvmaotplus (static C executors), tvmrt.

Modules that import TVM (compile.py, intpath.py, lowering.py, schedules.py, executor.py,
tuning.py, rt_runner.py) run only in a subprocess; the rest of the package (options.py,
backend.py, planner.py, quant.py) is importable without TVM.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import re
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
RUNTIME_DIR = PACKAGE_DIR / "runtime"
UNAVAILABLE = "apache-tvm is not installed (pip install 'pytest-mlonmcu[tvm]')"


def tvm_unavailable_reason() -> str | None:
    if importlib.util.find_spec("tvm") is None or importlib.util.find_spec("tflite") is None:
        return UNAVAILABLE
    return None


# Data movement on quantized tensors: TVM's converters apply the Relax op to the stored int8
# values, which is what TFLM does (no rescaling); TVM 0.27 refuses them only because they are
# not in its list of quantized operators (compile.py adds them there).
QUANTIZED_MOVES = frozenset(
    {
        *("TRANSPOSE", "SLICE", "STRIDED_SLICE", "SPLIT", "SPLIT_V", "UNPACK", "GATHER"),
        "RESIZE_NEAREST_NEIGHBOR",
    }
)

# int8 elementwise operators the import converts to a lookup table of TFLM's 256 results
# (lut.py) instead of TVM's float arithmetic between dequantize and quantize.
LOOKUP_TABLE_OPS = frozenset({"HARD_SWISH", "RSQRT", "PRELU"})


def _string_keys(text: str, opening: str, closing: str) -> frozenset[str]:
    start = text.index(opening)
    block = text[start : text.index(closing, start)]
    return frozenset(re.findall(r'^\s*"([A-Z][A-Z0-9_]*)"', block, re.MULTILINE))


@functools.cache
def importer_operators() -> tuple[frozenset[str], frozenset[str]] | None:
    """The TFLite operators TVM's importer converts (its ``convert_map``) and those it
    converts on quantized tensors (``_SUPPORTED_QUANTIZED_OPS``, QUANTIZED_MOVES and
    LOOKUP_TABLE_OPS), read
    from the installed frontend's source: importing TVM takes seconds. None: no TVM here."""
    spec = importlib.util.find_spec("tvm")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(list(spec.submodule_search_locations)[0])
    source = root / "relax" / "frontend" / "tflite" / "tflite_frontend.py"
    try:
        text = source.read_text()
        converted = _string_keys(text, "convert_map = {", "\n        }")
        quantized = _string_keys(text, "_SUPPORTED_QUANTIZED_OPS = frozenset(", ")")
    except (OSError, ValueError):
        return None  # another TVM layout: the importer itself names what it cannot convert
    return converted, quantized | QUANTIZED_MOVES | LOOKUP_TABLE_OPS


def tvm_version() -> str:
    try:
        return importlib.metadata.version("apache-tvm")
    except importlib.metadata.PackageNotFoundError:
        return "none"


def _package_include(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "include"
    return path if path.is_dir() else None


def tvm_include_dirs() -> list[Path]:
    """The wheels' headers that TVM's C kernels include (tvm/runtime/*, tvm/ffi/*, dlpack)."""
    return [p for p in (_package_include("tvm"), _package_include("tvm_ffi")) if p is not None]


def rt_runner_info() -> dict[str, str]:
    """The host-runner description of tvmrt (see rt_runner.py; no TVM import here)."""
    return {
        "module": f"{__name__}.rt_runner",
        "setup_function": "mlif_tvmrt_setup",
        "invoke_function": "mlif_tvmrt_invoke",
    }


def source_digest() -> str:
    """Digest of this package's sources and of cgen's quant.py (the TFLM arithmetic its lookup
    tables and int16 layers replay): editing either invalidates cached builds."""
    h = hashlib.sha256()
    shared = PACKAGE_DIR.parent / "cgen" / "quant.py"
    for path in [*sorted([*PACKAGE_DIR.glob("*.py"), *RUNTIME_DIR.glob("*")]), shared]:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]
