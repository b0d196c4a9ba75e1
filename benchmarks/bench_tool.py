"""The tool's own speed on the paper's Section III-B matrix: the four MLPerf Tiny models x every
backend on etiss, timed cold (empty cache, ETISS already installed), warm, with -n 0 and -n 2.

    python benchmarks/bench_tool.py [--json FIGURES.json] [--models-dir DIR] [--skip-cold]

Each figure is the wall time of one ``pytest benchmarks/ ...`` session in a subprocess,
printed with the state of the cache it started from. A private cache root is used (the
user's cache is untouched); ETISS comes from the user's installation
(``MLONMCU_ETISS_INSTALL_DIR``), since the matrix is about the tool, not the simulator's build.
With ``$MLONMCU_PEER`` pointing at an MLonMCU installation its time for the same tflmi/etiss
runs would be printed beside; without it that comparison is skipped, saying why.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODELS = "aww,vww,resnet,toycar"


def _etiss_prefix(env: dict[str, str]) -> str:
    """The user's ETISS installation (built once if missing), as ``install etiss`` reports it."""
    out = subprocess.run(
        [sys.executable, "-m", "pytest_mlonmcu", "install", "etiss"],
        env=env, capture_output=True, text=True, check=True, timeout=3600,
    ).stdout  # fmt: skip
    for line in out.splitlines():
        if line.startswith("etiss: ready: "):
            return line.removeprefix("etiss: ready: ").strip()
    raise RuntimeError(f"no ETISS installation reported:\n{out}")


def _session(cache: Path, workers: int, models_dir: Path, json_path: Path, env: dict) -> dict:
    cmd = [
        sys.executable, "-m", "pytest", str(REPO / "benchmarks"), "-q", "-p", "no:cacheprovider",
        "--mlonmcu-target=etiss", f"--mlonmcu-models-dir={models_dir}",
        f"--mlonmcu-model={MODELS}", f"--mlonmcu-json={json_path}",
        f"--mlonmcu-out={cache.parent / 'out'}",
    ]  # fmt: skip
    if workers:
        cmd += ["-n", str(workers)]
    start = time.perf_counter()
    result = subprocess.run(
        cmd, cwd=cache.parent, env={**env, "PYTEST_MLONMCU_CACHE": str(cache)},
        capture_output=True, text=True, timeout=4 * 3600,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    runs = json.loads(json_path.read_text())["runs"] if json_path.is_file() else []
    outcomes = {o: sum(r["outcome"] == o for r in runs) for o in ("passed", "failed", "skipped")}
    if result.returncode not in (0, 1) or not runs:
        raise RuntimeError(f"session failed ({result.returncode}):\n{result.stdout[-3000:]}")
    return {"seconds": round(seconds, 1), "runs": len(runs), **outcomes}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models-dir", type=Path,
                        default=os.environ.get("MLONMCU_MODELS_DIR")
                        or REPO.parent / "shared" / "models" / "mlperf_tiny")  # fmt: skip
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--skip-cold", action="store_true", help="only the warm sessions")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    vendor = REPO.parent / "shared" / "vendor"
    if vendor.is_dir():
        env.setdefault("MLONMCU_VENDOR_DIR", str(vendor))
    env["MLONMCU_ETISS_INSTALL_DIR"] = _etiss_prefix(env)

    work = Path(tempfile.mkdtemp(prefix="mlonmcu-bench-tool-"))
    cache = work / "cache"
    figures: dict = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "matrix": f"{MODELS} x every backend on etiss",
        "sessions": [],
    }

    def session(label: str, state: str, workers: int) -> None:
        n = len(figures["sessions"])
        fig = _session(cache, workers, args.models_dir, work / f"results-{n}.json", env)
        fig.update(label=label, cache=state, workers=workers)
        figures["sessions"].append(fig)
        print(f"{label:<12} cache {state:<6} -n {workers}: {fig['seconds']:8.1f} s  "
              f"({fig['runs']} runs: {fig['passed']} passed, {fig['failed']} failed, "
              f"{fig['skipped']} skipped)", flush=True)  # fmt: skip

    try:
        if not args.skip_cold:
            session("cold", "empty", 2)  # what a user's first `pytest -n auto` costs
        else:
            session("prime", "empty", 2)
        session("warm", "warm", 0)
        session("warm", "warm", 2)
        warm = {s["workers"]: s["seconds"] for s in figures["sessions"] if s["label"] == "warm"}
        figures["speedup_n2_over_n0"] = round(warm[0] / warm[2], 2)
        print(f"-n 2 over -n 0 (warm): {figures['speedup_n2_over_n0']:.2f}x")
        peer = os.environ.get("MLONMCU_PEER")
        if not peer:
            figures["peer"] = "skipped: $MLONMCU_PEER is not set (an MLonMCU installation)"
        else:
            figures["peer"] = f"skipped: driving MLonMCU at {peer} is not implemented yet"
        print(f"MLonMCU: {figures['peer']}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
