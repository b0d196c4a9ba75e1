"""Helpers of the TFLM tests: pytest sessions of the plugin in a subprocess, read via their JSON.

The MLPerf Tiny models come from ``<repo>/../shared/models/mlperf_tiny`` (skipped when absent),
the TFLM source from ``$MLONMCU_VENDOR_DIR`` (the repository conftest points it at
``../shared/vendor``). TFLM libraries go to the per-user cache: the first session on a machine
builds each variant (~4 min on 2 cores), later ones reuse it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
from filelock import FileLock
from tflm_helpers import MLPERF_DIR, REPO, VENDOR_DIR, Session


@pytest.fixture(scope="session")
def mlperf_dir() -> Path:
    if not (MLPERF_DIR / "toycar" / "toycar.tflite").is_file():
        pytest.skip(f"the MLPerf Tiny models are not at {MLPERF_DIR}")
    return MLPERF_DIR


@pytest.fixture(scope="session")
def plugin(mlperf_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """plugin(*args) -> Session: ``pytest benchmarks/`` with these options, in a subprocess."""
    counter = iter(range(1000))

    def run(*args: str, tests: str = "benchmarks/") -> Session:
        work = tmp_path_factory.mktemp(f"session{next(counter)}")
        report = work / "results.json"
        env = {**os.environ, "MLONMCU_MODELS_DIR": str(mlperf_dir)}
        if VENDOR_DIR.is_dir():
            env.setdefault("MLONMCU_VENDOR_DIR", str(VENDOR_DIR))
        cmd = [sys.executable, "-m", "pytest", tests, "-p", "no:cacheprovider", "-q"]
        cmd += [f"--mlonmcu-json={report}", f"--mlonmcu-out={work / 'out'}", *args]
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
        output = proc.stdout + proc.stderr
        runs = {}
        if report.is_file():
            runs = {r["id"]: r for r in json.loads(report.read_text())["runs"]}
        return Session(proc.returncode, output, runs)

    return run


@pytest.fixture(scope="session")
def shared_session(plugin, tmp_path_factory: pytest.TempPathFactory, worker_id: str):
    """shared_session(name, *args) -> Session: run once per test session, even under xdist.

    The first xdist worker that asks runs it; the others read its results (the usual recipe:
    a file lock in the directory all workers' temporary directories share).
    """
    base = tmp_path_factory.getbasetemp()
    root = base.parent if worker_id != "master" else base
    done: dict[str, Session] = {}

    def get(name: str, *args: str) -> Session:
        if name not in done:
            path = root / f"tflm-session-{name}.json"
            with FileLock(str(path) + ".lock"):
                if path.is_file():
                    done[name] = Session(**json.loads(path.read_text()))
                else:
                    done[name] = plugin(*args)
                    path.write_text(json.dumps(asdict(done[name])))
        return done[name]

    return get
