"""ETISS: build time and simulation speed (million guest instructions per wall second).

    .venv/bin/python benchmarks/bench_etiss.py [--instructions 50e6] [--rebuild] [--json out.json]

Workload: tests/etiss/programs/count_loop.c, whose invoke runs a two-instruction loop
(`addi; bnez`) N times, counted exactly by the program (instret). The program runs with a
loop of the requested size and with a tiny one; the difference of the two runs (instructions
and wall seconds, best of --repeat) is the steady-state speed without ETISS's start-up, which
is reported separately. Build time: the one recorded when the cached ETISS was built, or a
fresh build into a temporary cache with --rebuild (~2 minutes on 2 cores).
A benchmark, not a test: the figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
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
from pytest_mlonmcu.install.etiss import METADATA, ensure_etiss
from pytest_mlonmcu.targets.etiss import Etiss

REPO = Path(__file__).resolve().parents[1]
PROGRAM = REPO / "tests" / "etiss" / "programs" / "count_loop.c"
SMALL_N = 1000


def run_size(target: Etiss, n: int, work: Path, repeat: int) -> tuple[float, int]:
    """(best wall seconds of a whole ETISS run, invoke instructions) for loop size n."""
    artifact = Artifact("bench", PROGRAM.parent, sources=[PROGRAM], defines={"COUNT_N": str(n)})
    program = target.compile(artifact, SampleSet([[np.zeros(4, np.uint8)]]), work)
    count = target.run(program, work).metrics["invoke_instructions"]  # checks the run, too
    cmd = target.run_command(program, work)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(
            cmd, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
        )
        best = min(best, time.perf_counter() - start)
    return best, count


def build_time(rebuild: bool) -> dict:
    if not rebuild:
        install = ensure_etiss(progress=lambda line: print(line, file=sys.stderr))
        meta = json.loads((install.prefix / METADATA).read_text())
        return {"build_seconds": meta["build_seconds"], "jobs": meta["jobs"], "fresh": False}
    with tempfile.TemporaryDirectory(prefix="bench-etiss-build-") as tmp:
        start = time.perf_counter()
        ensure_etiss(cache=Cache(Path(tmp)), progress=lambda line: print(line, file=sys.stderr))
        seconds = time.perf_counter() - start
    return {"build_seconds": round(seconds, 1), "jobs": len(os.sched_getaffinity(0)), "fresh": True}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instructions", type=float, default=50e6, help="loop size (instructions)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best is kept)")
    parser.add_argument("--rebuild", action="store_true", help="time a fresh build of ETISS")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args(argv)
    vendor = REPO.parent / "shared" / "vendor"
    if vendor.is_dir():
        os.environ.setdefault("MLONMCU_VENDOR_DIR", str(vendor))

    results: dict = {"build": build_time(args.rebuild)}
    n = int(args.instructions) // 2
    with tempfile.TemporaryDirectory(prefix="bench-etiss-") as tmp:
        root = Path(tmp)
        target = Etiss(RunConfig().scoped("etiss"), Cache(root / "cache"))
        reason = target.unavailable_reason()
        if reason:
            print(f"etiss unavailable: {reason}", file=sys.stderr)
            return 1
        small_s, small_i = run_size(target, SMALL_N, root / "small", args.repeat)
        big_s, big_i = run_size(target, n, root / "big", args.repeat)
    delta_i, delta_s = big_i - small_i, max(big_s - small_s, 1e-9)
    results["speed"] = {
        "instructions": delta_i,
        "seconds": round(delta_s, 4),
        "mips": round(delta_i / delta_s / 1e6, 1),
        "startup_seconds": round(small_s, 4),
        "run_seconds": round(big_s, 4),
        "invoke_instructions": big_i,
    }
    b, s = results["build"], results["speed"]
    print(f"ETISS build: {b['build_seconds']} s with {b['jobs']} jobs" + (" (fresh)" * b["fresh"]))
    print(
        f"ETISS speed: {s['mips']} MIPS ({s['instructions']} instructions in {s['seconds']} s; "
        f"start-up {s['startup_seconds']} s)"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
