"""Edits of a .tflite flatbuffer for the bad-model tests: a shape, a name, an operator code.

Each edit writes the bytes of one field in place (or appends a string at the end of the
file and points the field at it), so everything else in the model stays where it was.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import tflite

REPO = Path(__file__).resolve().parents[2]
MLPERF_DIR = Path(
    os.environ.get("MLONMCU_MODELS_DIR") or REPO.parent / "shared" / "models" / "mlperf_tiny"
)

_TENSOR_SHAPE_SLOT = 4  # vtable slots (4 + 2 * field index) of the schema's fields
_TENSOR_NAME_SLOT = 10
_CODE_DEPRECATED_BUILTIN_SLOT = 4
_CODE_BUILTIN_SLOT = 10


def mlperf_bytes(name: str) -> bytes:
    import pytest

    path = MLPERF_DIR / name / f"{name}.tflite"
    if not path.is_file():
        pytest.skip(f"MLPerf Tiny model {name} not found in {MLPERF_DIR}")
    return path.read_bytes()


def _subgraph(buf: bytearray):
    return tflite.Model.GetRootAsModel(buf, 0).Subgraphs(0)


def input_tensor(data: bytes) -> int:
    return int(_subgraph(bytearray(data)).Inputs(0))


def set_shape(data: bytes, tensor: int, shape: tuple[int, ...]) -> bytes:
    """The tensor's shape vector rewritten (same rank as before)."""
    buf = bytearray(data)
    tab = _subgraph(buf).Tensors(tensor)._tab
    start = tab.Vector(tab.Offset(_TENSOR_SHAPE_SLOT))
    (rank,) = struct.unpack_from("<I", buf, start - 4)
    if rank != len(shape):
        raise ValueError(f"tensor {tensor} has rank {rank}, not {len(shape)}")
    struct.pack_into(f"<{rank}i", buf, start, *shape)
    return bytes(buf)


def rename_tensor(data: bytes, tensor: int, name: str) -> bytes:
    """The tensor's name set to ``name``: a new string appended to the file."""
    buf = bytearray(data)
    tab = _subgraph(buf).Tensors(tensor)._tab
    field = tab.Pos + tab.Offset(_TENSOR_NAME_SLOT)
    buf += b"\0" * (-len(buf) % 4)
    encoded = name.encode()
    string_at = len(buf)
    buf += struct.pack("<I", len(encoded)) + encoded + b"\0"
    buf += b"\0" * (-len(buf) % 4)
    struct.pack_into("<I", buf, field, string_at - field)  # uoffset: relative to the field
    return bytes(buf)


def set_builtin_code(data: bytes, code_index: int, builtin: int) -> bytes:
    """Operator code ``code_index`` made the builtin operator ``builtin`` (below 127)."""
    buf = bytearray(data)
    tab = tflite.Model.GetRootAsModel(buf, 0).OperatorCodes(code_index)._tab
    for slot, fmt in ((_CODE_DEPRECATED_BUILTIN_SLOT, "<b"), (_CODE_BUILTIN_SLOT, "<i")):
        offset = tab.Offset(slot)
        if offset:
            struct.pack_into(fmt, buf, tab.Pos + offset, builtin)
    return bytes(buf)
