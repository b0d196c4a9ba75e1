"""Every child process of the plugin starts here: own process group, finite timeout, no orphan.

``run(cmd, timeout=..., what=...)`` runs a command to completion; ``Child(cmd, ...)`` is a
``Popen``-like context manager for long-lived children (QEMU, flash tools, streamed builds).

Guarantees
----------
- Each child starts in a new session (``start_new_session``), so it leads its own process
  group; killing "the child" means ``killpg(SIGKILL)``: the command and everything it started
  (a flash tool's helpers, make's compilers, a shell script's background jobs).
- The group is killed on timeout, on any exception and on KeyboardInterrupt (Ctrl-C) while the
  caller waits, before the error propagates (``except BaseException``/``finally``). When the
  command itself exits, what is left of its group is killed too: nothing outlives a command.
- A timeout is a finite number of seconds > 0 (``check_timeout``; anything else is a
  UsageError naming the setting); it is enforced by a timer, not by polling, so a short run's
  measured time is not blurred. Expiry raises ``ChildTimeout`` naming the command, the limit,
  the setting that raises it and the output tail.
- A registry of the live children (weak: it keeps no child object alive, and a child object
  collected unclosed kills its group; guarded by a re-entrant lock, so a signal handler may
  read it) is killed group by group at interpreter exit (``atexit``) and on SIGTERM. The SIGTERM handler is installed only from the main thread
  and only over the default or a Python handler, which it calls afterwards (the default one by
  re-sending the signal), so pytest's or the user's own handling is kept.
- On Linux each child gets ``PR_SET_PDEATHSIG=SIGKILL``: it dies with its parent even when
  pytest itself is SIGKILLed (no atexit, no handler). This needs code between fork and exec:
  ``preexec_fn`` calling a ``prctl`` resolved through ctypes at import time. Python warns that
  ``preexec_fn`` is unsafe with threads because the forked child may need a lock held by
  another thread; this one only calls prctl/getppid/kill (no allocation, no import, no lock).
  Limits: the signal fires when the *thread* that started the child ends, so a child must be
  waited for by that thread or a longer-living one (``run`` and ``with Child`` do); it covers
  the direct child only (its own children are covered by the group kill above).

Default limits by kind (seconds) are in ``DEFAULT_TIMEOUTS``; the environment variable
``MLONMCU_TIMEOUT_<KIND>`` (``MLONMCU_TIMEOUT_BUILD=7200``) replaces one for slow machines.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .config import parse_timeout
from .errors import MlonmcuError

# Default limits of the plugin's own child processes, by kind (seconds).
DEFAULT_TIMEOUTS: dict[str, float] = {
    "query": 60,  # a tool's version or search path, addr2line, pkg-config, make's source list
    "compile": 600,  # one compiler, linker or archiver command
    "host": 900,  # the host TFLM interpreter: reference outputs, arena search
    "fetch": 1800,  # one git clone/fetch, west init/update, apt-get
    "build": 3600,  # one step of a TFLM, ETISS, Zephyr, TVM or zoo-model build
}
TIMEOUT_ENV_PREFIX = "MLONMCU_TIMEOUT_"
# After the command exited or was killed: how long its output pipes may stay open (a process
# that left the group still holding them) before the output read so far is used.
PIPE_GRACE = 5.0
TAIL_LINES = 40

PR_SET_PDEATHSIG = 1


class ChildTimeout(MlonmcuError):
    """A child process outlived its limit and was killed with its process group."""

    def __init__(
        self, what: str, cmd: Sequence[str], timeout: float, setting: str, output: str
    ) -> None:
        raise_it = f" (raise it with {setting})" if setting else ""
        super().__init__(
            f"{what}: timed out after {timeout:g} s{raise_it}\n$ {shlex.join(cmd)}\n"
            f"--- output tail ---\n{tail(output)}"
        )
        self.what, self.cmd, self.timeout, self.setting, self.output = (
            what, list(cmd), timeout, setting, output,
        )  # fmt: skip


def tail(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def check_timeout(value: Any, setting: str = "") -> float:
    """``value`` as seconds (finite, > 0), or a UsageError naming ``setting`` and the value."""
    return parse_timeout(value, setting or "timeout")


@dataclass(frozen=True)
class Limit:
    """A timeout and the setting that changes it."""

    seconds: float
    setting: str


def limit(kind: str) -> Limit:
    """The limit of a kind of child (``DEFAULT_TIMEOUTS``), or ``$MLONMCU_TIMEOUT_<KIND>``."""
    env = TIMEOUT_ENV_PREFIX + kind.upper()
    value = os.environ.get(env, "").strip()
    seconds = check_timeout(value, f"${env}") if value else DEFAULT_TIMEOUTS[kind]
    return Limit(seconds, f"${env}")


def _resolve(timeout: float | Limit, setting: str) -> tuple[float, str]:
    if isinstance(timeout, Limit):
        return timeout.seconds, setting or timeout.setting
    return check_timeout(timeout, setting), setting


# -- the registry of live children ---------------------------------------------------------

_LIVE: weakref.WeakSet[Child] = weakref.WeakSet()
_LIVE_LOCK = threading.RLock()  # re-entrant: the SIGTERM handler runs in the main thread
_SIGTERM_INSTALLED = False
_PREVIOUS_SIGTERM: Any = None


def live_children() -> list[Child]:
    with _LIVE_LOCK:
        return list(_LIVE)


def kill_all() -> None:
    """Kill the process group of every live child (atexit, SIGTERM)."""
    for child in live_children():
        child.kill()


atexit.register(kill_all)


def _on_sigterm(signum: int, frame: Any) -> None:
    kill_all()
    previous = _PREVIOUS_SIGTERM
    if callable(previous):
        previous(signum, frame)
    else:  # the default action: die of SIGTERM, as without this handler
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def install_sigterm_handler() -> bool:
    """Kill the children on SIGTERM, then do what was done before; main thread only."""
    global _SIGTERM_INSTALLED, _PREVIOUS_SIGTERM
    if _SIGTERM_INSTALLED:
        return True
    if threading.current_thread() is not threading.main_thread():
        return False
    previous = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_IGN or previous is None:  # ignored, or a handler set from C
        return False
    _PREVIOUS_SIGTERM = previous
    signal.signal(signal.SIGTERM, _on_sigterm)
    _SIGTERM_INSTALLED = True
    return True


# -- dying with the parent (Linux) ---------------------------------------------------------


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


_PRCTL = _load_prctl()


def _die_with_parent() -> Callable[[], None] | None:
    """The child's setup between fork and exec: SIGKILL when the parent dies."""
    if _PRCTL is None:
        return None
    prctl, parent = _PRCTL, os.getpid()

    def setup() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return setup


# -- waiting without reaping ---------------------------------------------------------------


def _exited(pid: int, block: bool) -> bool:
    """Whether ``pid`` (our child) has exited, leaving it unreaped: while the zombie exists
    its pid, and so its process group id, cannot be reused, so killing the group is safe."""
    flags = os.WEXITED | os.WNOWAIT | (0 if block else os.WNOHANG)
    try:
        return os.waitid(os.P_PID, pid, flags) is not None
    except ChildProcessError:  # already reaped
        return True


class Child:
    """A child process in its own process group, killed with the group when the block ends.

    ``with Child(cmd, timeout=..., what=...) as child:`` starts ``cmd`` (``Popen`` keyword
    arguments ``cwd env stdin stdout stderr text errors`` pass through; stdin defaults to
    /dev/null). With a ``timeout`` a timer kills the group when it expires (``timed_out``);
    ``timeout=None`` is for children whose life the caller bounds itself (a QEMU board stopped
    in ``finally``). Leaving the block, normally or by any exception, kills what is left of
    the group and reaps the child.
    """

    def __init__(
        self,
        cmd: Sequence[str | os.PathLike[str]],
        *,
        timeout: float | Limit | None,
        what: str,
        setting: str = "",
        stdin: Any = subprocess.DEVNULL,
        **popen: Any,
    ) -> None:
        self.cmd = [os.fspath(c) for c in cmd]
        self.what = what
        self.timeout, self.setting = (
            (None, setting) if timeout is None else _resolve(timeout, setting)
        )
        self._timed_out = threading.Event()
        self._timer: threading.Timer | None = None
        install_sigterm_handler()
        self.popen = subprocess.Popen(
            self.cmd, stdin=stdin, start_new_session=True, preexec_fn=_die_with_parent(), **popen
        )
        self.started = time.monotonic()
        self.ended: float | None = None
        with _LIVE_LOCK:
            _LIVE.add(self)
        if self.timeout is not None:
            self._timer = threading.Timer(self.timeout, self._expire)
            self._timer.daemon = True
            self._timer.start()

    # -- state ------------------------------------------------------------------------
    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def stdout(self) -> IO[Any] | None:
        return self.popen.stdout

    @property
    def returncode(self) -> int | None:
        return self.popen.returncode

    @property
    def timed_out(self) -> bool:
        return self._timed_out.is_set()

    @property
    def seconds(self) -> float:
        """From the start until the child exited (or until now)."""
        return (self.ended or time.monotonic()) - self.started

    def alive(self) -> bool:
        return self.popen.returncode is None and not _exited(self.pid, block=False)

    def timeout_error(self, output: str) -> ChildTimeout:
        return ChildTimeout(self.what, self.cmd, self.timeout or 0.0, self.setting, output)

    # -- ending -----------------------------------------------------------------------
    def _expire(self) -> None:
        if self.alive():  # a child that exited just now did not time out
            self._timed_out.set()
            self.kill()

    def kill(self) -> None:
        """SIGKILL to the child's process group (harmless once it is gone)."""
        self.signal_group(signal.SIGKILL)

    def signal_group(self, signum: int) -> None:
        if self.popen.returncode is None:  # unreaped: the group id is still ours
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signum)

    def wait(self) -> int:
        """Wait for the child's exit (blocking, not polling), kill the rest of its group,
        reap it; returns its exit status (negative: killed by that signal)."""
        if self.popen.returncode is None:
            _exited(self.pid, block=True)
            self._finish()
        return self.popen.returncode  # type: ignore[return-value]

    def terminate(self, grace: float = 3.0) -> int:
        """SIGTERM to the group (a simulator writes its totals), SIGKILL after ``grace`` s."""
        if self.popen.returncode is None:
            self.signal_group(signal.SIGTERM)
            deadline = time.monotonic() + grace
            while not _exited(self.pid, block=False) and time.monotonic() < deadline:
                time.sleep(0.02)
            self._finish()
        return self.popen.returncode  # type: ignore[return-value]

    def _finish(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.kill()  # the leader has exited or is killed now; its group goes with it
        self.popen.wait()
        self.ended = self.ended or time.monotonic()
        with _LIVE_LOCK:
            _LIVE.discard(self)

    def close(self) -> None:
        """Kill the group, reap the child, close its pipes (idempotent)."""
        try:
            if self.popen.returncode is None:
                self._finish()
        finally:
            if self._timer is not None:
                self._timer.cancel()
            for pipe in (self.popen.stdin, self.popen.stdout, self.popen.stderr):
                if pipe is not None:
                    with contextlib.suppress(OSError):
                        pipe.close()
            with _LIVE_LOCK:
                _LIVE.discard(self)

    def __del__(self) -> None:
        # A child nobody holds any more is not left running (the registry is weak).
        popen = self.__dict__.get("popen")
        if popen is not None and popen.returncode is None:
            self.kill()

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- run to completion ---------------------------------------------------------------------


@dataclass
class Completed:
    """A finished command: exit status, output, and its run time from start to exit."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class _Drain:
    """Reads a pipe to its end in a thread; what was read so far stays available."""

    def __init__(self, pipe: IO[bytes]) -> None:
        # The thread owns the pipe and closes it at its end: a pipe kept open by a process
        # that left the group is abandoned, never closed under a blocked read.
        self._chunks: list[bytes] = []
        self._thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self._thread.start()

    def _read(self, pipe: IO[bytes]) -> None:
        with pipe, contextlib.suppress(OSError, ValueError):
            while chunk := os.read(pipe.fileno(), 65536):
                self._chunks.append(chunk)

    def text(self, grace: float) -> str:
        self._thread.join(grace)
        return b"".join(list(self._chunks)).decode(errors="replace")


def run(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    timeout: float | Limit,
    what: str,
    setting: str = "",
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
    append: bool = False,
    capture: bool = True,
    merge_output: bool = False,
) -> Completed:
    """Run ``cmd`` to its end or its ``timeout`` (seconds, or a ``limit(kind)``); raise
    ChildTimeout on expiry.

    Output: with ``log_path`` stdout and stderr go to that file (``append`` or overwrite) and
    ``stdout`` is what this command wrote there; else with ``capture`` they are read (into one
    ``stdout`` with ``merge_output``); else they are inherited. ``env`` replaces the
    environment, as in ``subprocess``. A missing executable raises FileNotFoundError.
    ``what`` names the command in errors ("linking", "the TVM compilation"), ``setting`` the
    configuration key or environment variable that raises the limit.
    """
    args = [os.fspath(c) for c in cmd]
    seconds_allowed, setting = _resolve(timeout, setting)
    log = log_path.open("ab" if append else "wb") if log_path is not None else None
    try:
        start_offset = log.tell() if log is not None else 0
        if log is not None:
            out: Any = log
            err: Any = subprocess.STDOUT
        elif capture:
            out, err = subprocess.PIPE, (subprocess.STDOUT if merge_output else subprocess.PIPE)
        else:
            out = err = None
        with Child(
            args, timeout=seconds_allowed, what=what, setting=setting, cwd=cwd,
            env=None if env is None else dict(env), stdout=out, stderr=err,
        ) as child:  # fmt: skip
            pipes = (child.popen.stdout, child.popen.stderr)
            child.popen.stdout = child.popen.stderr = None  # the drains own them now
            drains = [_Drain(p) if p else None for p in pipes]
            returncode = child.wait()
            stdout, stderr = (d.text(PIPE_GRACE) if d else "" for d in drains)
    finally:
        if log is not None:
            log.close()
    if log_path is not None:
        with log_path.open("rb") as f:
            f.seek(start_offset)
            stdout = f.read().decode(errors="replace")
    if child.timed_out:
        raise child.timeout_error(stdout + stderr)
    return Completed(args, returncode, stdout, stderr, child.seconds)
