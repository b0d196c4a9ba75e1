"""Acceptance: SIGINT to a pytest session running a simulator leaves no child process.

A real session of the plugin (the zoo's toycar, cgen, on riscv_qemu with ten million invokes
per sample, so QEMU runs for minutes) is started in its own session and process group. Once
QEMU runs, the test presses Ctrl-C: SIGINT to the pytest process, or (with xdist) to its
whole process group as a terminal does. After pytest exits, no process it started may be
left: none carrying the session's environment marker (every descendant inherits it), none
in its session, and not the QEMU seen running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from pytest_mlonmcu.core.cache import DEFAULT_ROOT_ENV, Cache, default_cache_root
from pytest_mlonmcu.core.config import RunConfig
from pytest_mlonmcu.targets.riscv_qemu import RiscvQemu

from .procs_helpers import cmdline, eventually, in_session, kill_quietly, needs_proc, with_marker

USER_CACHE = default_cache_root()  # resolved before any fixture moves HOME
MARKER_VAR = "MLONMCU_PROCS_TEST_MARKER"
SIMULATOR = "qemu-system-riscv32"

BENCH_TEST = """
def test_bench(mlonmcu_run):
    mlonmcu_run.process()
"""


def _skip_reason() -> str | None:
    target = RiscvQemu(RunConfig().scoped("riscv_qemu"), Cache(USER_CACHE))
    return target.unavailable_reason()


def _simulators(marker: str) -> list[int]:
    return [
        p for p in with_marker(marker) if os.path.basename(cmdline(p).split(" ")[0]) == SIMULATOR
    ]


@needs_proc
@pytest.mark.parametrize(
    ("xdist", "ctrl_c"),
    [(["-n", "0"], "process"), (["-n", "1"], "group")],
    ids=["sigint-to-pytest", "ctrl-c-to-the-group-with-xdist"],
)
def test_sigint_to_a_session_running_a_simulator_leaves_no_child(
    tmp_path: Path, xdist: list[str], ctrl_c: str
) -> None:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    (tmp_path / "test_bench.py").write_text(BENCH_TEST)
    marker = f"{MARKER_VAR}={uuid.uuid4().hex}"
    env = {**os.environ, DEFAULT_ROOT_ENV: str(USER_CACHE)}
    env[MARKER_VAR] = marker.split("=", 1)[1]
    cmd = [
        sys.executable, "-m", "pytest", "test_bench.py", "-p", "no:cacheprovider", *xdist,
        "--mlonmcu-model=zoo:toycar", "--mlonmcu-backend=cgen", "--mlonmcu-target=riscv_qemu",
        "--mlonmcu-config=run.invoke_runs=10000000", "--mlonmcu-config=riscv_qemu.timeout=1800",
        f"--mlonmcu-out={tmp_path / 'out'}", f"--mlonmcu-json={tmp_path / 'results.json'}",
    ]  # fmt: skip
    log = (tmp_path / "session.log").open("w")
    session = subprocess.Popen(
        cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    seen: list[int] = []
    try:
        # Building (zoo model, reference, compile) takes seconds on a warm cache, minutes cold.
        running = eventually(lambda: bool(_simulators(marker)) or session.poll() is not None, 900)
        seen = _simulators(marker)
        assert running and seen, f"QEMU never ran:\n{(tmp_path / 'session.log').read_text()}"
        if ctrl_c == "process":
            session.send_signal(signal.SIGINT)
        else:
            os.killpg(session.pid, signal.SIGINT)
        session.wait(120)
        output = (tmp_path / "session.log").read_text()
        assert "KeyboardInterrupt" in output, output
        gone = eventually(lambda: not with_marker(marker) and not in_session(session.pid))
        left = sorted(set(with_marker(marker) + in_session(session.pid)))
        assert gone, "left running: " + "; ".join(f"{p}: {cmdline(p)}" for p in left)
        assert not any(p in with_marker(marker) for p in seen)
    finally:
        if session.poll() is None:
            os.killpg(session.pid, signal.SIGKILL)
            session.wait()
        kill_quietly(with_marker(marker) + seen)
        log.close()
