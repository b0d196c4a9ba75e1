"""The real TFLM runner with one output value moved: a backend with a known, small error.

    python -m perturb_runner run MODEL ARENA INPUTS.npz RUNS

Element ELEMENT of output OUTPUT of sample SAMPLE is moved by STEP quantization steps
(down instead of up where that would leave the int8 range); every other byte is the
interpreter's. Other modes (arena, setup) are the unchanged runner.
"""

from __future__ import annotations

import contextlib
import io
import sys

from pytest_mlonmcu.backends.tflmi import runner as tflmi_runner

SAMPLE, OUTPUT, ELEMENT, STEP = 1, 0, 5, 3


def perturb(line: str) -> str:
    parts = line.split()
    if parts[:2] != ["MLIF", "output"] or (int(parts[2]), int(parts[3])) != (SAMPLE, OUTPUT):
        return line
    data = bytearray.fromhex(parts[4])
    value = int.from_bytes(data[ELEMENT : ELEMENT + 1], "little", signed=True)
    moved = value + STEP if value + STEP <= 127 else value - STEP
    data[ELEMENT] = moved & 0xFF
    return " ".join([*parts[:4], data.hex()])


def main(argv: list[str]) -> int:
    if argv[0] != "run":
        return tflmi_runner.main(argv)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        rc = tflmi_runner.main(argv)
    for line in buffer.getvalue().splitlines():
        print(perturb(line))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
