"""Simulation speed of the targets: million guest instructions per wall second.

    .venv/bin/python benchmarks/bench_simulators.py [--instructions 50e6] [--json out.json]

Workload: tests/targets/programs/known_count.c, whose invoke runs a two-instruction
loop N times (2N instructions, counted exactly by every target). Each target runs
the program twice, with a loop of the requested size and with a tiny one; the
difference of the two runs (instructions and wall seconds, best of --repeat) is the
steady-state speed without the simulator's start-up, which is reported separately.
A benchmark, not a test: the figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from pytest_mlonmcu.core.artifacts import Artifact
from pytest_mlonmcu.core.cache import Cache
from pytest_mlonmcu.core.config import RunConfig
from pytest_mlonmcu.core.samples import SampleSet
from pytest_mlonmcu.platforms.mlif.target import CompiledTarget
from pytest_mlonmcu.targets.cortexm_qemu import CortexMQemu, Stm32f4Qemu
from pytest_mlonmcu.targets.host_x86 import HostX86
from pytest_mlonmcu.targets.riscv_qemu import RiscvQemu

PROGRAM = Path(__file__).resolve().parents[1] / "tests" / "targets" / "programs" / "known_count.c"
SMALL_N = 1000

# label -> (class, settings)
VARIANTS: dict[str, tuple[type[CompiledTarget], dict[str, str]]] = {
    "riscv_qemu rv32gc (-icount shift=0)": (RiscvQemu, {"arch": "rv32gc"}),
    "riscv_qemu rv32imc (-icount shift=0)": (RiscvQemu, {"arch": "rv32imc"}),
    "cortexm_qemu cortex-m3 (plugin)": (CortexMQemu, {"cpu": "cortex-m3"}),
    "cortexm_qemu cortex-m4 (plugin)": (CortexMQemu, {"cpu": "cortex-m4"}),
    "cortexm_qemu cortex-m7 (plugin)": (CortexMQemu, {"cpu": "cortex-m7"}),
    "cortexm_qemu cortex-m33 (plugin)": (CortexMQemu, {"cpu": "cortex-m33"}),
    "cortexm_qemu cortex-m4 (no plugin)": (CortexMQemu, {"cpu": "cortex-m4", "count": "false"}),
    "stm32f4_qemu (plugin)": (Stm32f4Qemu, {}),
    "host_x86 (callgrind)": (HostX86, {}),
}


def timed(cmd: list[str], cwd: Path, repeat: int) -> float:
    """Best wall seconds of ``cmd`` (measured here: no polling granularity)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(
            cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
        )
        best = min(best, time.perf_counter() - start)
    return best


def run_size(target: CompiledTarget, n: int, work: Path, repeat: int) -> tuple[float, int | None]:
    """(best wall seconds of a whole simulator run, invoke instructions) for loop size n."""
    samples = SampleSet([[np.array([n], dtype=np.uint32)]])
    program = target.compile(Artifact("bench", PROGRAM.parent, sources=[PROGRAM]), samples, work)
    # One run through the target checks the program and gives the exact count.
    count = target.run(program, work).metrics.get("invoke_instructions")
    return timed(target.run_command(program, work), work, repeat), count


def measure(target: CompiledTarget, n: int, root: Path, repeat: int) -> dict:
    small_s, small_i = run_size(target, SMALL_N, root / f"{target.name}-small", repeat)
    big_s, big_i = run_size(target, n, root / f"{target.name}-big", repeat)
    # Without counts (plugin off) the loop's 2 instructions per iteration are known anyway.
    delta_i = (big_i - small_i) if big_i is not None and small_i is not None else 2 * (n - SMALL_N)
    delta_s = max(big_s - small_s, 1e-9)
    return {
        "instructions": delta_i,
        "seconds": round(delta_s, 4),
        "mips": round(delta_i / delta_s / 1e6, 1),
        "startup_seconds": round(small_s, 4),
        "run_seconds": round(big_s, 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instructions", type=float, default=50e6, help="loop size (instructions)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best is kept)")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--only", default="", help="run only labels containing this text")
    args = parser.parse_args(argv)
    n = int(args.instructions) // 2

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-sim-") as tmp:
        root = Path(tmp)
        cache = Cache(root / "cache")
        for label, (cls, settings) in VARIANTS.items():
            if args.only not in label:
                continue
            config = RunConfig({f"{cls.name}.{k}": v for k, v in settings.items()})
            target = cls(config.scoped(cls.name), cache)
            reason = target.unavailable_reason()
            if reason:
                results[label] = {"skipped": reason}
                print(f"{label:40s} skipped: {reason}", file=sys.stderr)
                continue
            results[label] = measure(target, n, root, args.repeat)
            r = results[label]
            print(
                f"{label:40s} {r['mips']:8.1f} MIPS  ({r['instructions']} instructions in "
                f"{r['seconds']:.3f} s; start-up {r['startup_seconds']:.3f} s)"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
