"""Runs a model in the TFLM interpreter of the tflite-micro wheel, in its own process.

    python -m pytest_mlonmcu.backends.tflmi_runner arena MODEL
        print the smallest arena (bytes) with which AllocateTensors succeeds
    python -m pytest_mlonmcu.backends.tflmi_runner setup MODEL ARENA
        create the interpreter only (callgrind counts AllocateTensors)
    python -m pytest_mlonmcu.backends.tflmi_runner run MODEL ARENA INPUTS.npz WORKDIR
        run every sample and print the harness protocol (protocol.py)

A separate process keeps the C++ library's stderr and memory out of pytest's, and
lets callgrind count exactly the interpreter's AllocateTensors and Invoke.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import numpy as np

ALLOCATE_FUNCTION = "tflite::micro::MicroInterpreter::AllocateTensors()"
INVOKE_FUNCTION = "tflite::micro::MicroInterpreter::Invoke()"
ARENA_ALIGN = 16


@contextlib.contextmanager
def _quiet_stderr():
    """The library reports allocation failures on fd 2; keep the search quiet."""
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _interpreter(data: bytes, arena: int | None):
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_bytes(data, arena_size=arena)


def interpreter_with_inputs(runner: dict, inputs: list[np.ndarray]):
    """An interpreter in this process with one sample set (for wall-time measurement)."""
    interp = _interpreter(Path(runner["model"]).read_bytes(), int(runner["arena"]))
    for i, arr in enumerate(inputs):
        interp.set_input(arr, i)
    return interp


def _works(data: bytes, arena: int) -> bool:
    try:
        with _quiet_stderr():
            _interpreter(data, arena)
        return True
    except RuntimeError:
        return False


def smallest_arena(data: bytes) -> int:
    """Binary search: the allocator's own total is a lower bound, but not always enough."""
    lo = 16
    hi = 4096
    while not _works(data, hi):
        lo = hi
        hi *= 2
        if hi > 1 << 28:
            raise RuntimeError("AllocateTensors fails even with a 256 MiB arena")
    lo //= ARENA_ALIGN
    hi //= ARENA_ALIGN
    while hi - lo > 1:  # invariant: lo*16 fails (or is the start), hi*16 works
        mid = (lo + hi) // 2
        if _works(data, mid * ARENA_ALIGN):
            hi = mid
        else:
            lo = mid
    return hi * ARENA_ALIGN


def _load_inputs(path: Path) -> list[list[np.ndarray]]:
    from pytest_mlonmcu.samples import SampleSet

    return SampleSet.load(path)


def run(data: bytes, arena: int, inputs_path: Path, invoke_runs: int = 1) -> None:
    interp = _interpreter(data, arena)
    out = sys.stdout
    out.write("MLIF setup 0 -\n")
    out.write(f"MLIF metric arena_bytes {arena}\n")
    for s, sample in enumerate(_load_inputs(inputs_path)):
        for i, arr in enumerate(sample):
            interp.set_input(arr, i)
        for r in range(invoke_runs):
            interp.invoke()
            out.write(f"MLIF invoke {s} {r} 0 -\n")
        k = 0
        while True:
            try:
                result = interp.get_output(k)
            except (IndexError, RuntimeError, ValueError):
                break
            out.write(f"MLIF output {s} {k} {np.ascontiguousarray(result).tobytes().hex()}\n")
            k += 1
    out.write("MLIF done 0\n")
    out.flush()


def main(argv: list[str]) -> int:
    mode, model = argv[0], Path(argv[1])
    data = model.read_bytes()
    if mode == "arena":
        print(smallest_arena(data))
    elif mode == "setup":
        _interpreter(data, int(argv[2]))
    elif mode == "run":
        runs = int(argv[4]) if len(argv) > 4 else 1
        run(data, int(argv[2]), Path(argv[3]), runs)
    else:
        print(f"unknown mode {mode!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
