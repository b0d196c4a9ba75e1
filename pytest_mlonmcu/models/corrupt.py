"""Seeded corruptions of a .tflite file, for testing that bad models fail cleanly.

``corrupt(data, seed)`` is deterministic: the same file and seed give the same bytes, so a
failure found by the benchmark (benchmarks/bench_corruption.py) is reproduced with

    python -m pytest_mlonmcu.models.corrupt MODEL.tflite SEED OUT.tflite

Most of a model's bytes are weights, where a change only alters the results. Four of the
five kinds therefore aim at the flatbuffer's structure (tables, vtables, offsets, shapes,
strings: every byte outside the constant buffers' data); the fifth cuts the file short.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

KINDS = ("bytes4", "struct_bytes4", "struct_word", "bitflip", "truncate")
# Values that break sizes and offsets in interesting ways (as int32, little endian).
_EXTREME_WORDS = (0, 1, -1, 2, 3, 0x7FFFFFFF, -0x80000000, 0x10000, 40000, 0xFFFF, 255, -2)


@dataclass(frozen=True)
class Corruption:
    seed: int
    kind: str
    description: str  # what was changed, where (enough to understand a failure)
    data: bytes


def weight_ranges(data: bytes) -> list[tuple[int, int]]:
    """[start, end) of every constant buffer's data inside the flatbuffer (none if unparsable)."""
    import tflite

    try:
        model = tflite.Model.GetRootAsModel(data, 0)
        ranges = []
        for i in range(model.BuffersLength()):
            buf = model.Buffers(i)
            field = buf._tab.Offset(4)  # Buffer.data
            if field and buf.DataLength() > 0:
                start = buf._tab.Vector(field)
                ranges.append((start, start + buf.DataLength()))
        return sorted(ranges)
    except Exception:  # noqa: BLE001 - a file that cannot be parsed has no known weights
        return []


def structure_offsets(data: bytes) -> np.ndarray:
    """Byte offsets outside the constant buffers' data (the flatbuffer's structure)."""
    mask = np.ones(len(data), dtype=bool)
    for start, end in weight_ranges(data):
        mask[start:end] = False
    offsets = np.flatnonzero(mask)
    return offsets if offsets.size else np.arange(len(data))


def corrupt(data: bytes, seed: int, kind: str | None = None) -> Corruption:
    """The corruption ``seed`` of ``data``; the kind cycles with the seed unless given."""
    if not data:
        raise ValueError("cannot corrupt an empty file")
    kind = kind or KINDS[seed % len(KINDS)]
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    buf = bytearray(data)
    if kind == "truncate":
        size = int(rng.integers(0, len(data)))
        return Corruption(
            seed, kind, f"truncated to {size} of {len(data)} bytes", bytes(buf[:size])
        )
    if kind == "bytes4":
        offset = int(rng.integers(0, max(len(data) - 4, 1)))
        new = rng.bytes(4)
        buf[offset : offset + 4] = new
        what = f"4 bytes at offset {offset} set to {new.hex()}"
    elif kind == "struct_bytes4":
        offset = int(rng.choice(structure_offsets(data)))
        new = rng.bytes(4)
        buf[offset : offset + 4] = new
        what = f"4 structure bytes at offset {offset} set to {new.hex()}"
    elif kind == "struct_word":
        offsets = structure_offsets(data)
        offset = int(rng.choice(offsets)) & ~3
        value = (
            int(rng.choice(_EXTREME_WORDS))
            if rng.random() < 0.75
            else int(rng.integers(-1 << 31, 1 << 31))
        )
        buf[offset : offset + 4] = value.to_bytes(4, "little", signed=True)
        what = f"int32 at offset {offset} set to {value}"
    elif kind == "bitflip":
        offsets = rng.choice(structure_offsets(data), size=int(rng.integers(1, 9)))
        bits = rng.integers(0, 8, size=offsets.size)
        for offset, bit in zip(offsets, bits):
            buf[int(offset)] ^= 1 << int(bit)
        what = "bits flipped at " + ", ".join(f"{o}:{b}" for o, b in zip(offsets, bits))
    else:
        raise ValueError(f"unknown corruption kind {kind!r} (known: {', '.join(KINDS)})")
    return Corruption(seed, kind, what, bytes(buf[: len(data)]))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print(
            "usage: python -m pytest_mlonmcu.models.corrupt MODEL.tflite SEED OUT.tflite",
            file=sys.stderr,
        )
        return 2
    result = corrupt(Path(args[0]).read_bytes(), int(args[1]))
    Path(args[2]).write_bytes(result.data)
    print(f"seed {result.seed} ({result.kind}): {result.description}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
