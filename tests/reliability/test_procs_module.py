"""pytest_mlonmcu.core.proc: every child in its own process group, killed with it on timeout, on
error, on Ctrl-C, at exit, on SIGTERM and when the parent is SIGKILLed.

The children are shell scripts that start a grandchild (``sleep 60``) and wait; each test
checks through /proc that the leader, the grandchild and the whole group are gone.
"""

from __future__ import annotations

import gc
import math
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pytest_mlonmcu.core import proc
from pytest_mlonmcu.core.errors import RunError, UsageError
from pytest_mlonmcu.platforms.mlif.target import run_with_timeout

from .procs_helpers import (
    eventually,
    in_group,
    is_alive,
    kill_quietly,
    needs_proc,
    wait_for_file,
)

pytestmark = needs_proc


def family(tmp_path: Path, then: str = "wait") -> list[str]:
    """A leader that records its pid (= its group), starts ``sleep 60`` and then ``then``."""
    script = (
        f"echo $$ > {tmp_path}/leader; sleep 60 & echo $! > {tmp_path}/grandchild; "
        f"echo started; {then}"
    )
    return ["sh", "-c", script]


def pids(tmp_path: Path) -> tuple[int, int]:
    return int(wait_for_file(tmp_path / "leader")), int(wait_for_file(tmp_path / "grandchild"))


def assert_family_gone(tmp_path: Path) -> None:
    leader, grandchild = pids(tmp_path)
    try:
        assert eventually(lambda: not in_group(leader)), f"group {leader}: {in_group(leader)}"
        assert not is_alive(leader) and not is_alive(grandchild)
    finally:
        kill_quietly([grandchild, *in_group(leader)])


def test_timeout_kills_the_child_with_its_grandchild(tmp_path: Path) -> None:
    with pytest.raises(proc.ChildTimeout) as info:
        proc.run(family(tmp_path), timeout=1, what="the sleeper", setting="demo.timeout")
    assert_family_gone(tmp_path)
    message = str(info.value)
    # Names the command, the limit, the setting that raises it, and the output tail.
    assert message.startswith("the sleeper: timed out after 1 s (raise it with demo.timeout)")
    assert "$ sh -c 'echo $$ >" in message
    assert message.endswith("--- output tail ---\nstarted")
    assert info.value.timeout == 1.0 and info.value.setting == "demo.timeout"


def test_what_a_finished_command_left_running_is_killed(tmp_path: Path) -> None:
    result = proc.run(family(tmp_path, then="exit 3"), timeout=60, what="leaver")
    assert (result.returncode, result.stdout, result.stderr) == (3, "started\n", "")
    assert_family_gone(tmp_path)


def test_an_exception_kills_the_group(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="caller failed"):
        with proc.Child(family(tmp_path), timeout=60, what="child"):
            pids(tmp_path)
            raise RuntimeError("caller failed")
    assert_family_gone(tmp_path)


def test_ctrl_c_while_waiting_kills_the_group(tmp_path: Path) -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("KeyboardInterrupt reaches the main thread only")
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT does not raise KeyboardInterrupt in this process")
    main = threading.main_thread().ident
    assert main is not None

    def press_ctrl_c() -> None:
        pids(tmp_path)  # the family exists
        signal.pthread_kill(main, signal.SIGINT)

    presser = threading.Thread(target=press_ctrl_c)
    presser.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            proc.run(family(tmp_path), timeout=600, what="interrupted")
    finally:
        presser.join()
    assert_family_gone(tmp_path)


@pytest.mark.parametrize("bad", [0, -5, math.inf, -math.inf, math.nan, "1e999", "abc", None])
def test_a_timeout_must_be_finite_and_positive(tmp_path: Path, bad: object) -> None:
    started = tmp_path / "started"
    cmd = ["sh", "-c", f"touch {started}"]
    with pytest.raises(UsageError, match=r"^riscv_qemu\.timeout=.*expected a timeout in seconds"):
        proc.run(cmd, timeout=bad, what="x", setting="riscv_qemu.timeout")  # type: ignore[arg-type]
    if bad is not None:  # a Child without timer is allowed: its owner bounds its life
        with pytest.raises(UsageError, match="expected a timeout in seconds"):
            proc.Child(cmd, timeout=bad, what="x")  # type: ignore[arg-type]
    assert not started.exists()  # rejected before anything started


def test_limits_by_kind_and_their_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLONMCU_TIMEOUT_BUILD", raising=False)
    assert proc.limit("build") == proc.Limit(3600, "$MLONMCU_TIMEOUT_BUILD")
    monkeypatch.setenv("MLONMCU_TIMEOUT_BUILD", "7200")
    assert proc.limit("build").seconds == 7200
    monkeypatch.setenv("MLONMCU_TIMEOUT_BUILD", "nan")
    with pytest.raises(UsageError, match=r"^\$MLONMCU_TIMEOUT_BUILD='nan'"):
        proc.limit("build")


def test_a_limit_names_its_variable_in_the_timeout_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLONMCU_TIMEOUT_QUERY", "0.5")
    with pytest.raises(proc.ChildTimeout, match=r"raise it with \$MLONMCU_TIMEOUT_QUERY"):
        proc.run(family(tmp_path), timeout=proc.limit("query"), what="query")
    assert_family_gone(tmp_path)


def test_output_to_a_log_file(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_text("$ header\n")
    cmd = ["sh", "-c", "echo out; echo err >&2"]
    result = proc.run(cmd, timeout=60, what="x", log_path=log, append=True)
    assert result.stdout == "out\nerr\n" and log.read_text() == "$ header\nout\nerr\n"
    merged = proc.run(cmd, timeout=60, what="x", merge_output=True)
    assert (merged.stdout, merged.stderr) == ("out\nerr\n", "")


def test_kill_all_ends_every_live_child(tmp_path: Path) -> None:
    """What atexit and the SIGTERM handler do."""
    child = proc.Child(family(tmp_path), timeout=None, what="forgotten")
    try:
        pids(tmp_path)
        assert child in proc.live_children()
        proc.kill_all()
        assert_family_gone(tmp_path)
    finally:
        child.close()
    assert child not in proc.live_children()


def test_a_dropped_child_is_killed(tmp_path: Path) -> None:
    """The registry holds no child alive: one collected without close() kills its group."""
    child = proc.Child(family(tmp_path), timeout=None, what="dropped", stdout=subprocess.DEVNULL)
    pids(tmp_path)
    del child
    gc.collect()
    assert_family_gone(tmp_path)


_SCRIPT_WITH_A_CHILD = """
import os, signal, subprocess, sys, time
from pytest_mlonmcu.core import proc
if sys.argv[2] == "own-handler":
    def handler(signum, frame):
        print("the previous handler ran", flush=True)
        os._exit(3)
    signal.signal(signal.SIGTERM, handler)
child = proc.Child(["sh", "-c", sys.argv[1]], timeout=600, what="child", stdout=subprocess.DEVNULL)
print("ready", flush=True)
time.sleep(600)
"""


def _start_parent(tmp_path: Path, mode: str) -> subprocess.Popen:
    parent = subprocess.Popen(
        [sys.executable, "-c", _SCRIPT_WITH_A_CHILD, family(tmp_path)[2], mode],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None and parent.stdout.readline() == "ready\n"
        pids(tmp_path)
    except BaseException:
        parent.kill()
        raise
    return parent


@pytest.mark.parametrize("mode", ["default", "own-handler"])
def test_sigterm_kills_the_children_then_does_what_it_did_before(tmp_path: Path, mode: str):
    parent = _start_parent(tmp_path, mode)
    try:
        parent.send_signal(signal.SIGTERM)
        out, _ = parent.communicate(timeout=60)
    finally:
        parent.kill()
    if mode == "default":
        assert parent.returncode == -signal.SIGTERM
    else:
        assert parent.returncode == 3 and "the previous handler ran" in out
    assert_family_gone(tmp_path)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux")
def test_a_child_dies_with_its_sigkilled_parent(tmp_path: Path) -> None:
    """No handler runs on SIGKILL: the child dies by PR_SET_PDEATHSIG (its group stays; a
    grandchild is the group kill's job, which needs a living parent)."""
    parent = _start_parent(tmp_path, "default")
    leader, grandchild = pids(tmp_path)
    try:
        parent.kill()
        parent.wait(60)
        assert eventually(lambda: not is_alive(leader)), f"leader {leader} outlived its parent"
    finally:
        kill_quietly([leader, grandchild])


def test_run_with_timeout_keeps_its_messages(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    with pytest.raises(RunError) as info:
        run_with_timeout(family(tmp_path), tmp_path, 1, log, setting="riscv_qemu.timeout")
    assert_family_gone(tmp_path)
    lines = str(info.value).splitlines()
    assert lines[0] == ("timeout: the program did not finish within 1 s (set riscv_qemu.timeout)")
    assert lines[1:3] == ["--- output tail ---", "started"]
    assert lines[3] == "--- reproduce ---" and lines[4].startswith("sh -c ")
    with pytest.raises(RunError, match=r"^the simulator was killed by signal 9\n"):
        run_with_timeout(["sh", "-c", "kill -9 $$"], tmp_path, 60, log)
    output, seconds = run_with_timeout(["sh", "-c", "echo ok"], tmp_path, 60, log, {"A": "1"})
    assert output == "ok\n" == log.read_text() and seconds > 0


def test_a_child_started_from_a_worker_thread_is_killed_too(tmp_path: Path) -> None:
    """The TFLM library compiles in a thread pool: the same guarantees hold there."""
    errors: list[BaseException] = []

    def work() -> None:
        try:
            proc.run(family(tmp_path), timeout=1, what="threaded")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(120)
    assert len(errors) == 1 and isinstance(errors[0], proc.ChildTimeout)
    assert_family_gone(tmp_path)
