"""Corrupted models through load and build of every backend: only clean errors, no hang.

    .venv/bin/python benchmarks/bench_corruption.py [--seeds 300] [--jobs 2]
        [--models aww,vww,resnet,toycar] [--backends cgen,tflmi,tvmaot,tvmaotplus,tvmrt]
        [--timeout 300] [--work DIR] [--json summary.json]

For each MLPerf Tiny model (``<models dir>/<name>/<name>.tflite``) and seed, the corruption
of pytest_mlonmcu/models/corrupt.py is written as a model of its own (in the models-dir
layout, next to the original's definition.yml and input/ samples) and goes through the
stages load and build (``Run.process(until="build")``) of every backend: tflmi and tvmrt
on host_x86, cgen, tvmaot and tvmaotplus on riscv_qemu (their build needs no simulator).

One worker process per model and seed runs the backends one after the other and reports
each attempt as a JSON line; an attempt that takes longer than --timeout is a hang (the
worker's process group is killed and the remaining backends run in a new worker), a worker
that dies by a signal during an attempt is a crash. Outcomes:

    ok        load and build passed (the corruption hit data that does not matter to it)
    clean     a pytest-mlonmcu error (MlonmcuError) whose message names the model file
    unnamed   a pytest-mlonmcu error that does not name the model file
    internal  any other exception (a bug: the message is a raw Python error)
    hang      the attempt did not finish within --timeout seconds
    crash     the worker died by a signal
    skipped   the backend or target is not available here

The summary (counts per model and backend, every failure with its seed, corruption and
message, the run time) goes to --json and a table to stdout; every attempt's record goes to
``<work>/attempts.jsonl``. The exit status is 1 if any attempt was unnamed, internal, a hang
or a crash. A benchmark, not a test: tests/reliability/test_models_corruption.py runs a slice.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODELS_DIR = REPO.parent / "shared" / "models" / "mlperf_tiny"
MODELS = ("aww", "vww", "resnet", "toycar")
# backend -> the target its build is made for
BACKEND_TARGETS = {
    "cgen": "riscv_qemu",
    "tflmi": "host_x86",
    "tvmaot": "riscv_qemu",
    "tvmaotplus": "riscv_qemu",
    "tvmrt": "host_x86",
}
OUTCOMES = ("ok", "clean", "unnamed", "internal", "hang", "crash", "skipped")
FAILURES = ("unnamed", "internal", "hang", "crash")


# -- the worker: one corrupted model through every backend --------------------------------
def attempt(model_path: Path, backend: str, cache_root: Path, out_dir: Path) -> dict[str, Any]:
    """Load and build ``model_path`` with ``backend``; the outcome as a record."""
    from pytest_mlonmcu.core.cache import Cache
    from pytest_mlonmcu.core.case import Case
    from pytest_mlonmcu.core.config import RunConfig
    from pytest_mlonmcu.core.errors import MlonmcuError
    from pytest_mlonmcu.models.model import ModelResolver
    from pytest_mlonmcu.run import Run

    cache = Cache(cache_root)
    run = Run(
        case=Case(str(model_path), backend, BACKEND_TARGETS[backend]),
        config=RunConfig(),
        resolver=ModelResolver([], cache),
        cache=cache,
        artifacts_dir=out_dir / backend,
    )
    reason = run.skip_reason()
    if reason:
        return {"outcome": "skipped", "message": reason}
    try:
        run.process(until="build")
    except MlonmcuError as exc:
        named = str(model_path.resolve()) in str(exc)
        return {
            "outcome": "clean" if named else "unnamed",
            "stage": next((s for s, r in run.stages.items() if r.status == "failed"), ""),
            "error": type(exc).__name__,
            "message": str(exc)[:2000],
        }
    except Exception as exc:  # noqa: BLE001 - what the benchmark is looking for
        return {
            "outcome": "internal",
            "stage": next((s for s, r in run.stages.items() if r.status == "failed"), ""),
            "error": type(exc).__name__,
            "message": str(exc)[:2000],
            "traceback": traceback.format_exc()[-3000:],
        }
    finally:
        shutil.rmtree(out_dir / backend, ignore_errors=True)
    return {"outcome": "ok"}


def worker(job: dict[str, Any]) -> int:
    """Print {"start": backend} before and the record after each attempt (JSON lines).

    The lines go to the original stdout; anything else printing there goes to stderr."""
    from pytest_mlonmcu.backends import register_builtin_backends
    from pytest_mlonmcu.targets import register_builtin_targets

    register_builtin_backends()
    register_builtin_targets()
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    for backend in job["backends"]:
        out.write(json.dumps({"start": backend}) + "\n")
        out.flush()
        start = time.monotonic()
        record = attempt(Path(job["model"]), backend, Path(job["cache"]), Path(job["out"]))
        record.update(backend=backend, seconds=round(time.monotonic() - start, 3))
        out.write(json.dumps(record) + "\n")
        out.flush()
    return 0


# -- the parent: workers under a timeout --------------------------------------------------
@dataclass
class Corrupted:
    model: str
    seed: int
    kind: str
    description: str
    path: Path
    records: list[dict[str, Any]] = field(default_factory=list)


def write_corruption(models_dir: Path, model: str, seed: int, work: Path) -> Corrupted:
    """The corrupted model in the models-dir layout (definition.yml and samples linked)."""
    from pytest_mlonmcu.models.corrupt import corrupt

    source = models_dir / model
    result = corrupt((source / f"{model}.tflite").read_bytes(), seed)
    name = f"{model}_s{seed:03d}"
    directory = work / "models" / name
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.tflite").write_bytes(result.data)
    for extra in ("definition.yml", "input"):
        link = directory / extra
        if (source / extra).exists() and not link.exists():
            link.symlink_to(source / extra)
    return Corrupted(model, seed, result.kind, result.description, directory / f"{name}.tflite")


_LIVE: set[subprocess.Popen] = set()  # workers running now (killed if the benchmark stops)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def run_case(case: Corrupted, backends: list[str], timeout: float, work: Path) -> Corrupted:
    """All backends on one corrupted model, in as many workers as hangs and crashes need."""
    remaining = list(backends)
    scratch = work / "scratch" / case.path.stem
    while remaining:
        job = {
            "model": str(case.path),
            "backends": remaining,
            "cache": str(scratch / "cache"),  # one per case: no corrupted model is built twice
            "out": str(scratch / "out"),
        }
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(job)]
        with (work / "logs" / f"{case.path.stem}.log").open("ab") as stderr:
            proc = subprocess.Popen(
                cmd,
                stdout=subprocess.PIPE,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a hang is killed with everything it started
            )
        _LIVE.add(proc)
        current, deadline, buffer = None, time.monotonic() + timeout, b""
        while True:
            ready, _, _ = select.select(
                [proc.stdout], [], [], max(0.0, deadline - time.monotonic())
            )
            if not ready:  # the current attempt (or the worker's start) overran
                _kill_group(proc)
                backend = current or remaining[0]
                case.records.append(
                    {"backend": backend, "outcome": "hang", "message": f"no result in {timeout} s"}
                )
                remaining.remove(backend)
                break
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:  # the worker ended
                rc = proc.wait()
                if current is not None:  # during an attempt: a crash (or an exit)
                    outcome = "crash" if rc < 0 else "internal"
                    how = f"signal {-rc}" if rc < 0 else f"exit status {rc}"
                    case.records.append(
                        {"backend": current, "outcome": outcome, "message": f"worker died: {how}"}
                    )
                    remaining.remove(current)
                elif remaining:
                    for backend in remaining:  # the worker could not start at all
                        case.records.append(
                            {
                                "backend": backend,
                                "outcome": "internal",
                                "message": f"worker exit {rc}",
                            }
                        )
                    remaining = []
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                message = json.loads(line)
                if "start" in message:
                    current = message["start"]
                    deadline = time.monotonic() + timeout
                else:
                    case.records.append(message)
                    remaining.remove(message["backend"])
                    current = None
        proc.stdout.close()
        _LIVE.discard(proc)
    shutil.rmtree(scratch, ignore_errors=True)
    return case


def run_campaign(
    models: list[str],
    backends: list[str],
    seeds: list[int],
    *,
    jobs: int = 2,
    timeout: float = 300,
    work: Path,
    models_dir: Path = DEFAULT_MODELS_DIR,
    progress: Any = None,
) -> dict[str, Any]:
    """Every (model, seed) through every backend; the summary (see the module doc)."""
    start = time.monotonic()
    (work / "logs").mkdir(parents=True, exist_ok=True)
    cases = [write_corruption(models_dir, m, s, work) for m in models for s in seeds]
    done: list[Corrupted] = []
    with (work / "attempts.jsonl").open("w") as log, ThreadPoolExecutor(jobs) as pool:
        futures = [pool.submit(run_case, c, backends, timeout, work) for c in cases]
        try:
            _collect(futures, done, log, len(cases), progress)
        finally:  # interrupted: no worker outlives the benchmark
            for future in futures:
                future.cancel()
            for proc in list(_LIVE):
                _kill_group(proc)
    return summarize(done, models, backends, seeds, time.monotonic() - start)


def _collect(futures: list, done: list[Corrupted], log: Any, total: int, progress: Any) -> None:
    for future in futures:
        case = future.result()
        done.append(case)
        for record in case.records:
            entry = {"model": case.model, "seed": case.seed, "kind": case.kind, **record}
            log.write(json.dumps(entry) + "\n")
        log.flush()
        if progress:
            progress(len(done), total, case)


def summarize(
    cases: list[Corrupted], models: list[str], backends: list[str], seeds: list[int], seconds: float
) -> dict[str, Any]:
    counts = {m: {b: dict.fromkeys(OUTCOMES, 0) for b in backends} for m in models}
    clean_at = {m: {b: {"load": 0, "build": 0} for b in backends} for m in models}
    failures = []
    for case in cases:
        for r in case.records:
            counts[case.model][r["backend"]][r["outcome"]] += 1
            if r["outcome"] == "clean":
                clean_at[case.model][r["backend"]][r.get("stage") or "build"] += 1
            if r["outcome"] in FAILURES:
                failures.append(
                    {
                        "model": case.model,
                        "seed": case.seed,
                        "corruption": f"{case.kind}: {case.description}",
                        **{k: r.get(k) for k in ("backend", "outcome", "error", "message")},
                        "reproduce": f"python -m pytest_mlonmcu.models.corrupt "
                        f"MODELS/{case.model}/{case.model}.tflite {case.seed} OUT.tflite",
                    }
                )
    totals = dict.fromkeys(OUTCOMES, 0)
    for per_model in counts.values():
        for per_backend in per_model.values():
            for outcome, n in per_backend.items():
                totals[outcome] += n
    return {
        "models": models,
        "backends": {b: BACKEND_TARGETS[b] for b in backends},
        "seeds": [min(seeds), max(seeds)] if seeds else [],
        "seconds": round(seconds, 1),
        "totals": totals,
        "counts": counts,
        "clean_at_stage": clean_at,
        "failures": failures,
    }


def table(summary: dict[str, Any]) -> str:
    header = ["model", "backend", *OUTCOMES]
    rows = [header]
    for model, per_model in summary["counts"].items():
        for backend, per_backend in per_model.items():
            rows.append([model, backend, *(str(per_backend[o]) for o in OUTCOMES)])
    rows.append(["total", "", *(str(summary["totals"][o]) for o in OUTCOMES)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=300, help="seeds 0..N-1 per model")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--backends", default=",".join(BACKEND_TARGETS))
    parser.add_argument("--models-dir", type=Path, default=DEFAULT_MODELS_DIR)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=300, help="seconds per attempt")
    parser.add_argument("--work", type=Path, help="working dir (default: a temporary one)")
    parser.add_argument("--json", type=Path, help="write the summary here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(json.loads(args.worker))
    backends = args.backends.split(",")
    unknown = [b for b in backends if b not in BACKEND_TARGETS]
    if unknown:
        parser.error(
            f"unknown backend(s) {', '.join(unknown)}; known: {', '.join(BACKEND_TARGETS)}"
        )
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_corruption."))

    def progress(n: int, total: int, case: Corrupted) -> None:
        outcomes = " ".join(f"{r['backend']}={r['outcome']}" for r in case.records)
        print(f"[{n}/{total}] {case.model} seed {case.seed} ({case.kind}): {outcomes}", flush=True)

    summary = run_campaign(
        args.models.split(","),
        backends,
        list(range(args.first_seed, args.first_seed + args.seeds)),
        jobs=args.jobs,
        timeout=args.timeout,
        work=work,
        models_dir=args.models_dir,
        progress=progress,
    )
    print(table(summary))
    print(f"{summary['seconds']} s; attempts: {work / 'attempts.jsonl'}")
    for failure in summary["failures"]:
        print(f"FAILED {failure}")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1) + "\n")
    return 1 if any(summary["totals"][o] for o in FAILURES) else 0


if __name__ == "__main__":
    sys.exit(main())
