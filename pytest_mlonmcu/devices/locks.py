"""The per-port lock: one user of a board at a time.

``board_lock`` serialises users of one board across threads, xdist workers and concurrent
sessions: a file lock in the per-user cache directory, keyed by the resolved device (a by-id
link and its ``/dev/ttyACM0`` are one board), acquired with a timeout.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout

from ..core.cache import default_cache_root
from ..core.errors import RunError
from ..core.proc import check_timeout
from .serial import is_url

_LOCKS: dict[str, FileLock] = {}
_LOCKS_GUARD = threading.Lock()


def lock_path(key: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", key).strip("_")[-60:]
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return default_cache_root() / "board-locks" / f"{safe}-{digest}.lock"


@dataclass
class LockHold:
    key: str
    path: Path
    waited: float = 0.0
    acquired: float = 0.0  # time.time()
    released: float = 0.0
    pid: int = field(default_factory=os.getpid)
    worker: str = field(default_factory=lambda: os.environ.get("PYTEST_XDIST_WORKER", "main"))

    def as_dict(self) -> dict:
        return {
            "key": self.key,
            "lock_file": str(self.path),
            "waited_seconds": round(self.waited, 3),
            "acquired": self.acquired,
            "released": self.released,
            "pid": self.pid,
            "worker": self.worker,
        }


def lock_key(port: str) -> str:
    """The device behind a port, so one board has one lock: a ``/dev/serial/by-id`` link and
    the ``/dev/ttyACM0`` it points to share it. URLs (``socket://``...) are used as they are."""
    return port if is_url(port) else os.path.realpath(port)


@contextlib.contextmanager
def board_lock(
    port: str, timeout: float = 3600.0, setting: str = "<target>.lock_timeout"
) -> Iterator[LockHold]:
    """Hold the lock of the board at ``port`` (re-entrant within one process).

    Waiting is bounded by ``timeout`` (finite, > 0; ``setting`` names the key that sets it):
    a board held longer by another worker or session fails this run with the lock's file
    and holder.
    """
    timeout = check_timeout(timeout, setting)
    key = lock_key(port)
    path = lock_path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(str(path), FileLock(str(path)))
    hold = LockHold(key, path)
    start = time.monotonic()
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        device = f" ({key})" if key != port else ""
        raise RunError(
            f"board at {port}{device} is held by another worker or session{_read_owner(path)}: "
            f"lock {path} not free within {timeout:g} s; raise {setting} or free the board"
        ) from None
    hold.waited = time.monotonic() - start
    hold.acquired = time.time()
    _write_owner(path, hold)
    try:
        yield hold
    finally:
        hold.released = time.time()
        lock.release()


def _owner_file(path: Path) -> Path:
    return path.with_suffix(".owner")


def _write_owner(path: Path, hold: LockHold) -> None:
    with contextlib.suppress(OSError):
        _owner_file(path).write_text(json.dumps(hold.as_dict()))


def _read_owner(path: Path) -> str:
    try:
        data = json.loads(_owner_file(path).read_text())
        return f" (pid {data.get('pid')}, {data.get('worker')})"
    except (OSError, ValueError):
        return ""
