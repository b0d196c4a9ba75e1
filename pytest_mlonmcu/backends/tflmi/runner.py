"""Runs a model in the TFLM interpreter of the tflite-micro wheel, in its own process.

    python -m pytest_mlonmcu.backends.tflmi arena MODEL
        print the smallest arena (bytes) with which AllocateTensors succeeds (or exit 3 with
        TFLM's messages as JSON when it fails for another reason, e.g. a missing operator)
    python -m pytest_mlonmcu.backends.tflmi setup MODEL ARENA
        create the interpreter only (callgrind counts AllocateTensors); prints MLIF setup/done
    python -m pytest_mlonmcu.backends.tflmi run MODEL ARENA INPUTS.npz WORKDIR
        run every sample and print the harness protocol (protocol.py)

A separate process keeps the C++ library's stderr and memory out of pytest's, and
lets callgrind count exactly the interpreter's AllocateTensors and Invoke.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from pytest_mlonmcu.core.samples import SampleSet
from pytest_mlonmcu.models.metadata import read_metadata

ALLOCATE_FUNCTION = "tflite::micro::MicroInterpreter::AllocateTensors()"
INVOKE_FUNCTION = "tflite::micro::MicroInterpreter::Invoke()"
ARENA_ALIGN = 16
MAX_ARENA = 1 << 28
# Exit status of ``arena`` when AllocateTensors fails for another reason than the arena size;
# stdout then holds {"error", "op", "index"} as JSON.
EXIT_ALLOCATION_ERROR = 3


@contextlib.contextmanager
def _captured_stderr() -> Iterator[list[str]]:
    """The library reports errors on fd 2: capture them (the list gets the text on exit)."""
    text: list[str] = []
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        sys.stderr.flush()
        os.dup2(capture.fileno(), 2)
        try:
            yield text
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text.append(capture.read().decode(errors="replace"))


def _interpreter(data: bytes, arena: int | None):
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_bytes(data, arena_size=arena)


def interpreter_with_inputs(runner: dict, inputs: list[np.ndarray]):
    """An interpreter in this process with one sample set (for wall-time measurement)."""
    interp = _interpreter(Path(runner["model"]).read_bytes(), int(runner["arena"]))
    for i, arr in enumerate(inputs):
        interp.set_input(arr, i)
    return interp


class AllocationError(Exception):
    """AllocateTensors failed for another reason than the arena's size; carries TFLM's
    messages and, if that is the reason, the operator the library lacks."""

    def __init__(self, message: str, op: str = "", index: int = -1) -> None:
        super().__init__(message)
        self.op, self.index = op, index

    def as_json(self) -> str:
        return json.dumps({"error": str(self), "op": self.op, "index": self.index})


# TFLM's messages when the arena is too small (the search then tries a larger one). "Too many
# buffers": the greedy memory planner's scratch space comes out of the arena, and its
# buffer count with it (a model with many tensors hits that before anything else).
_ARENA_SHORT = re.compile(
    r"Failed to allocate|Failed to resize buffer|Unable to allocate|too small|Too many buffers"
)
# MicroInterpreter's message for an operator its resolver lacks.
_MISSING_OP = re.compile(r"Didn't find op for (builtin|custom) opcode '([^']*)'")
# The wheel's message for a custom operator its resolver lacks (without the name).
_NO_CUSTOM_REGISTRATION = "Failed to get registration from op code CUSTOM"
# What ``python -m`` runs: this module's main() through the package's __main__.py.
PROGRAM = __name__.rpartition(".")[0]


def _try_interpreter(data: bytes, arena: int):
    """(interpreter, "") if AllocateTensors succeeds with ``arena`` bytes, else (None, TFLM's
    messages)."""
    with _captured_stderr() as captured:
        try:
            return _interpreter(data, arena), ""
        except RuntimeError as exc:
            failure = str(exc)
    return None, "\n".join(line for line in [failure, *captured[0].splitlines()] if line.strip())


def _attempt(data: bytes, arena: int) -> str | None:
    """None if AllocateTensors succeeds with ``arena`` bytes, else TFLM's messages.

    Each try runs in a forked child: the wheel's AllocateTensors can crash instead of failing
    when the arena is far too small (zoo aww: SIGSEGV at 4096 bytes), and a crash of the
    search must not end it. A crash counts as a too small arena, saying so.
    """
    if not hasattr(os, "fork"):
        interp, messages = _try_interpreter(data, arena)
        return None if interp is not None else messages
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: one try, its messages through the pipe, no cleanup
        os.close(read_end)
        try:
            interp, messages = _try_interpreter(data, arena)
            os.write(write_end, b"ok" if interp is not None else b"no" + messages.encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        reply = pipe.read()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status) or not reply:
        how = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else "no reply"
        return f"Failed to allocate: the interpreter crashed ({how}) with an arena of {arena} bytes"
    return None if reply == b"ok" else reply[2:].decode(errors="replace")


def allocate(data: bytes, arena: int):
    """The interpreter with ``arena`` bytes; AllocationError with TFLM's messages if not."""
    interp, messages = _try_interpreter(data, arena)
    if interp is not None:
        return interp
    if _ARENA_SHORT.search(messages):
        raise AllocationError(f"an arena of {arena} bytes is too small:\n{messages}")
    raise _not_an_arena_shortage(data, messages)


def _not_an_arena_shortage(data: bytes, messages: str) -> AllocationError:
    missing = _MISSING_OP.search(messages)
    ops = read_metadata(data).ops
    custom = [op for op in ops if op.startswith("CUSTOM:")]
    if missing is None and len(custom) == 1 and _NO_CUSTOM_REGISTRATION in messages:
        # TFLM names no custom operator here: with one in the model, it is the cause.
        op = custom[0]
        return AllocationError(
            f"operator {op} (operator index {ops.index(op)}) is not in the interpreter's op "
            f"resolver (a custom operator):\n{messages}",
            op,
            ops.index(op),
        )
    if missing is None:
        return AllocationError(f"AllocateTensors failed:\n{messages}")
    kind, name = missing.groups()
    op = name if kind == "builtin" else f"CUSTOM:{name}"
    index = ops.index(op) if op in ops else -1
    return AllocationError(
        f"operator {op} (operator index {index}) is not in the interpreter's op resolver:\n"
        f"{messages}",
        op,
        index,
    )


def smallest_arena(data: bytes) -> int:
    """Binary search: the allocator's own total is a lower bound, but not always enough.

    A failure that TFLM does not report as an arena shortage (an operator missing from the
    resolver, a malformed model) ends the search with its messages (AllocationError)."""
    lo = 16
    hi = 4096
    while (failure := _attempt(data, hi)) is not None:
        if not _ARENA_SHORT.search(failure):
            raise _not_an_arena_shortage(data, failure)
        lo = hi
        hi *= 2
        if hi > MAX_ARENA:
            raise AllocationError(
                f"AllocateTensors fails even with a {MAX_ARENA >> 20} MiB arena:\n{failure}"
            )
    lo //= ARENA_ALIGN
    hi //= ARENA_ALIGN
    while hi - lo > 1:  # invariant: lo*16 fails (or is the start), hi*16 works
        mid = (lo + hi) // 2
        if _attempt(data, mid * ARENA_ALIGN) is None:
            hi = mid
        else:
            lo = mid
    return hi * ARENA_ALIGN


def setup_failure(exc: BaseException) -> str:
    """The protocol lines (protocol.py) of a failed setup: its messages, status 1."""
    return f"MLIF error {' | '.join(str(exc).splitlines())}\nMLIF setup 1 -\nMLIF done 1\n"


def _load_inputs(path: Path) -> list[list[np.ndarray]]:
    return SampleSet.load(path)


def run(data: bytes, arena: int, inputs_path: Path, invoke_runs: int = 1) -> int:
    """The harness protocol for every sample; 0, or 1 when an Invoke failed (the exit status,
    as a compiled harness returns mlif_model_invoke's)."""
    out = sys.stdout
    try:
        interp = allocate(data, arena)
    except AllocationError as exc:
        out.write(setup_failure(exc))
        return
    out.write("MLIF setup 0 -\n")
    out.write(f"MLIF metric arena_bytes {arena}\n")
    for s, sample in enumerate(_load_inputs(inputs_path)):
        for r in range(invoke_runs):
            # Before every invoke, as the harness does: TFLM may reuse the inputs' memory.
            for i, arr in enumerate(sample):
                interp.set_input(arr, i)
            try:
                interp.invoke()
            except RuntimeError as exc:  # TFLM printed its reason (the operator) before
                out.write(f"MLIF invoke {s} {r} 1 -\nMLIF error TFLM's Invoke failed: {exc}\n")
                out.write("MLIF done 1\n")
                out.flush()
                return 1
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
    return 0


def main(argv: list[str]) -> int:
    mode, model = argv[0], Path(argv[1])
    data = model.read_bytes()
    if mode == "arena":
        try:
            print(smallest_arena(data))
        except AllocationError as exc:
            print(exc.as_json())
            return EXIT_ALLOCATION_ERROR
    elif mode == "setup":
        try:
            allocate(data, int(argv[2]))
        except AllocationError as exc:
            sys.stdout.write(setup_failure(exc))
            return 1
        print("MLIF setup 0 -\nMLIF done 0")
    elif mode == "run":
        runs = int(argv[4]) if len(argv) > 4 else 1
        return run(data, int(argv[2]), Path(argv[3]), runs)
    else:
        print(f"unknown mode {mode!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # python -m pytest_mlonmcu.backends.tflmi is the usual way
    sys.exit(main(sys.argv[1:]))
