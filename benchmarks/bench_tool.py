"""The tool's own speed on the paper's Section III-B matrix: the four MLPerf Tiny models x every
backend on etiss, timed cold (empty cache, ETISS already installed), warm, with -n 0 and -n 2.

    python benchmarks/bench_tool.py [--json FIGURES.json] [--models-dir DIR] [--skip-cold]

Each figure is the wall time of one ``pytest benchmarks/ ...`` session in a subprocess,
printed with the state of the cache it started from. A private cache root is used (the
user's cache is untouched); ETISS comes from the user's installation
(``MLONMCU_ETISS_INSTALL_DIR``), since the matrix is about the tool, not the simulator's build.
With ``$MLONMCU_PEER`` naming an MLonMCU environment (its ``MLONMCU_HOME``, set up with
``mlonmcu init`` and ``mlonmcu setup``; the ``mlonmcu`` command from PATH or
``$MLONMCU_PEER_CLI``) the same tflmi/etiss runs are timed with both tools side by side: ours
cold (an empty cache of their own) and warm, MLonMCU's ``flow run`` twice in a row, each with
2 parallel runs. Without it that comparison is skipped, saying why.
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


def _session(
    cache: Path, workers: int, models_dir: Path, json_path: Path, env: dict, extra: tuple = ()
) -> dict:
    cmd = [
        sys.executable, "-m", "pytest", str(REPO / "benchmarks"), "-q", "-p", "no:cacheprovider",
        "--mlonmcu-target=etiss", f"--mlonmcu-models-dir={models_dir}",
        f"--mlonmcu-model={MODELS}", f"--mlonmcu-json={json_path}",
        f"--mlonmcu-out={cache.parent / 'out'}", *extra,
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
        figures["peer"] = _compare_with_peer(work, args.models_dir, env)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def _peer_cli() -> str | None:
    return os.environ.get("MLONMCU_PEER_CLI") or shutil.which("mlonmcu")


def _peer_session(home: str, cli: str, env: dict) -> dict:
    """One ``mlonmcu flow run`` of the tflmi/etiss runs (its documented command line)."""
    cmd = [
        cli, "flow", "run", *MODELS.split(","), "--backend", "tflmi", "--target", "etiss",
        "--parallel", "2", "--home", home,
    ]  # fmt: skip
    start = time.perf_counter()
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=4 * 3600)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"MLonMCU failed ({result.returncode}):\n{result.stdout[-3000:]}")
    return {"seconds": round(seconds, 1), "command": cmd}


def _compare_with_peer(work: Path, models_dir: Path, env: dict) -> dict | str:
    """Ours and MLonMCU's time for the same tflmi/etiss runs, or why that is skipped."""
    home, cli = os.environ.get("MLONMCU_PEER"), _peer_cli()
    if not home:
        reason = "skipped: $MLONMCU_PEER is not set (an MLonMCU environment, MLONMCU_HOME)"
    elif not Path(home, "environment.yml").is_file():
        reason = f"skipped: $MLONMCU_PEER={home} holds no environment.yml (run mlonmcu init)"
    elif cli is None:
        reason = "skipped: no mlonmcu command (PATH or $MLONMCU_PEER_CLI)"
    else:
        reason = ""
    if reason:
        print(f"MLonMCU: {reason}")
        return reason
    cache = work / "peer-ours" / "cache"
    cache.parent.mkdir()
    ours = [
        _session(
            cache, 2, models_dir, cache.parent / f"r{i}.json", env, ("--mlonmcu-backend=tflmi",)
        )
        for i in range(2)
    ]  # cold, then warm
    theirs = [_peer_session(home, cli, env) for _ in range(2)]
    figures = {
        "runs": f"{MODELS} x tflmi on etiss, 2 in parallel",
        "ours": {"cold": ours[0]["seconds"], "warm": ours[1]["seconds"]},
        "mlonmcu": {"first": theirs[0]["seconds"], "second": theirs[1]["seconds"]},
        "command": theirs[0]["command"],
    }
    figures["cold_ratio"] = round(ours[0]["seconds"] / theirs[0]["seconds"], 3)
    figures["warm_speedup"] = round(theirs[1]["seconds"] / ours[1]["seconds"], 1)
    print(
        f"tflmi/etiss: ours cold {ours[0]['seconds']:.1f} s, warm {ours[1]['seconds']:.1f} s; "
        f"MLonMCU {theirs[0]['seconds']:.1f} s, then {theirs[1]['seconds']:.1f} s "
        f"(ours cold = {figures['cold_ratio']:.2f} of MLonMCU's first; "
        f"MLonMCU's second = {figures['warm_speedup']:.0f}x our warm)"
    )
    return figures


if __name__ == "__main__":
    sys.exit(main())
