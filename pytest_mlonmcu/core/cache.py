"""Content-addressed, multi-process safe cache.

Everything that is expensive and pure (a model converted by the zoo, a generated
backend artifact, a compiled harness object, a simulator build) is stored under
``<root>/<kind>/<key>/``.  An entry is produced in a temporary sibling directory
``.<key>.<random>`` under a file lock ``<key>.lock`` shared by all xdist workers and
concurrent sessions; the producer's last step writes a completion marker into it, then
the directory is renamed into place.  So:

* an entry counts only with its marker: a folder without one (an older version's, or
  anything half-made) is moved aside and produced again;
* a producer that was killed leaves its temporary directory behind; the next producer of
  that key removes it (it holds the lock, so no live producer of that key exists);
* waiting for the lock has a timeout (``$MLONMCU_TIMEOUT_LOCK`` seconds, else a
  generous default per kind); the error names the lock file, the entry and the process
  that holds it (from ``<key>.lock.owner``, written by the holder, or ``/proc/locks``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import secrets
import shutil
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from filelock import FileLock, Timeout

from .errors import MlonmcuError

DEFAULT_ROOT_ENV = "PYTEST_MLONMCU_CACHE"
LOCK_TIMEOUT_ENV = "MLONMCU_TIMEOUT_LOCK"
# Written last into a finished entry: an entry without it does not count.
MARKER = ".mlonmcu-complete"
OWNER_SUFFIX = ".owner"
# How long to wait for another process that produces the same entry. Source builds and tuning
# legitimately hold their lock for many minutes on a loaded machine; everything else is
# seconds to a few minutes. Generous: every child process has its own timeout, this is the
# last line of defence against a stopped or hung holder.
DEFAULT_LOCK_TIMEOUT = 30 * 60.0
LONG_LOCK_TIMEOUT = 90 * 60.0
LONG_KINDS = frozenset({"etiss", "tflm-lib", "tflm-src", "zephyr", "tvm-build", "tvm-tune"})

# Lock files whose wait already timed out in this process: later waits try once and fail
# at once instead of blocking every test for the full timeout again.
_TIMED_OUT: set[str] = set()

T = TypeVar("T")


class CacheLockTimeout(MlonmcuError):
    """Another process held a cache entry's lock for longer than the lock timeout."""


def default_cache_root() -> Path:
    """Per-user cache root: $PYTEST_MLONMCU_CACHE or ~/.cache/pytest-mlonmcu."""
    env = os.environ.get(DEFAULT_ROOT_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pytest-mlonmcu"


def hash_key(*parts: Any) -> str:
    """A stable hex key from strings, bytes, paths (by content) and JSON-able data."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, bytes):
            h.update(b"b")
            h.update(part)
        elif isinstance(part, Path):
            h.update(b"p")
            h.update(file_digest(part).encode())
        else:
            h.update(b"j")
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
        h.update(b"\0")
    return h.hexdigest()[:24]


def file_digest(path: Path) -> str:
    """sha256 of a file, or of a directory tree (names and contents)."""
    h = hashlib.sha256()
    if path.is_dir():
        for sub in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(str(sub.relative_to(path)).encode())
            h.update(sub.read_bytes())
    else:
        h.update(path.read_bytes())
    return h.hexdigest()


def lock_timeout_from_env() -> float | None:
    """``$MLONMCU_TIMEOUT_LOCK`` in seconds (None when unset); bad values are errors."""
    text = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise MlonmcuError(f"${LOCK_TIMEOUT_ENV}={text!r}: expected a finite number of seconds > 0")
    return value


class Cache:
    """A directory of completed entries: ``root/kind/key``.

    ``lock_timeout`` (seconds) bounds every wait for another producer of the same entry;
    None: ``$MLONMCU_TIMEOUT_LOCK``, else the default of the entry's kind.
    """

    def __init__(self, root: Path | None = None, lock_timeout: float | None = None) -> None:
        self.root = Path(root) if root else default_cache_root()
        self.lock_timeout = lock_timeout

    def path(self, kind: str, key: str) -> Path:
        return self.root / kind / key

    def lookup(self, kind: str, key: str) -> Path | None:
        """The completed entry ``kind/key``, or None (missing or without its marker)."""
        final = self.path(kind, key)
        return final if is_complete(final) else None

    def timeout_for(self, kind: str) -> float:
        if self.lock_timeout is not None:
            return self.lock_timeout
        env = lock_timeout_from_env()
        if env is not None:
            return env
        return LONG_LOCK_TIMEOUT if kind in LONG_KINDS else DEFAULT_LOCK_TIMEOUT

    def get_or_create(
        self,
        kind: str,
        key: str,
        producer: Callable[[Path], None],
        *,
        lock_timeout: float | None = None,
    ) -> Path:
        """Return the completed entry ``kind/key``, producing it once if missing.

        ``producer(tmp_dir)`` fills an empty temporary directory; when it returns, the marker
        is written and the directory renamed to the final path.  If it raises, the temporary
        directory is removed and the error propagates: nothing half-written stays.
        ``lock_timeout`` overrides the cache's timeout for this entry.
        """
        final = self.path(kind, key)
        if is_complete(final):
            return final
        final.parent.mkdir(parents=True, exist_ok=True)
        timeout = lock_timeout if lock_timeout is not None else self.timeout_for(kind)
        with entry_lock(Path(str(final) + ".lock"), f"{kind}/{key}", timeout):
            if is_complete(final):  # another worker finished it while we waited
                return final
            _sweep(final)
            tmp = _create_unique(final.parent, f".{key}.", _mkdir)[0]
            try:
                producer(tmp)
                _write_marker(tmp, kind, key)
                os.replace(tmp, final)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        return final


def is_complete(entry: Path) -> bool:
    return (entry / MARKER).is_file()


def _write_marker(tmp: Path, kind: str, key: str) -> None:
    info = {
        "entry": f"{kind}/{key}",
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "completed": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (tmp / MARKER).write_text(json.dumps(info) + "\n")


def _sweep(final: Path) -> None:
    """Remove what killed producers of ``final`` left: temp dirs and an unmarked entry.

    Only called with the entry's lock held, so no live producer of this key exists.
    """
    prefix = f".{final.name}."
    if final.exists():
        # Moved aside first (atomic): nobody sees a half-deleted entry under the final name.
        aside = _create_unique(final.parent, prefix, lambda p: None)[0]
        os.replace(final, aside)
    for leftover in final.parent.glob(f"{prefix}*"):
        suffix = leftover.name[len(prefix) :]
        if len(suffix) == 8 and "." not in suffix:  # ours, not a temp of key "<key>.x"
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)


# -- locks ------------------------------------------------------------------------------------


@contextlib.contextmanager
def entry_lock(lock_path: Path, what: str, timeout: float) -> Iterator[None]:
    """Hold ``lock_path`` (waiting at most ``timeout`` s) and record this process as holder."""
    lock = FileLock(str(lock_path))
    earlier = str(lock_path) in _TIMED_OUT
    try:
        lock.acquire(timeout=0 if earlier else timeout)
    except Timeout:
        _TIMED_OUT.add(str(lock_path))
        waited = (
            "an earlier wait in this process timed out, so this one did not wait"
            if earlier
            else f"waited {timeout:g} s"
        )
        raise CacheLockTimeout(
            f"cache entry {what}: another process holds its lock {lock_path} "
            f"({describe_holder(lock_path)}); {waited}.\n"
            f"If that process hangs, stop it; set ${LOCK_TIMEOUT_ENV} (seconds) to wait longer."
        ) from None
    _TIMED_OUT.discard(str(lock_path))
    owner = Path(str(lock_path) + OWNER_SUFFIX)
    try:
        with contextlib.suppress(OSError):  # the record is a courtesy for error messages
            owner.write_text(json.dumps(_owner_record(what)) + "\n")
        yield
    finally:
        with contextlib.suppress(OSError):
            owner.unlink()
        lock.release()


def _owner_record(what: str) -> dict:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "entry": what,
        "command": _command_line(os.getpid()),
    }


def _command_line(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)[:300]


def lock_holders(lock_path: Path) -> list[int]:
    """PIDs holding a flock/POSIX lock on ``lock_path`` according to /proc/locks (Linux)."""
    try:
        st = lock_path.stat()
        table = Path("/proc/locks").read_text()
    except OSError:
        return []
    inode = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    pids = []
    for line in table.splitlines():
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 26504 fe:00:2146400 0 EOF" ("->" marks a waiter)
        if len(fields) >= 6 and fields[1] != "->" and fields[5] == inode:
            with contextlib.suppress(ValueError):
                pids.append(int(fields[4]))
    return sorted(set(pids))


def describe_holder(lock_path: Path) -> str:
    """Who holds ``lock_path``: the holder's own record, else the kernel's lock table."""
    pids = lock_holders(lock_path)
    try:
        record = json.loads(Path(str(lock_path) + OWNER_SUFFIX).read_text())
        pid = int(record["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        record, pid = None, None
    if record is not None:
        # A record left by a killed holder is stale: trust it only if its pid holds the lock
        # (or, without /proc/locks, still runs; another host's pid cannot be checked).
        if pids:
            current = pid in pids
        elif record.get("host") == socket.gethostname():
            current = _running(pid)
        else:
            current = True
        if current:
            text = f"pid {pid} on {record.get('host', '?')} since {record.get('since', '?')}"
            command = record.get("command")
            return text + (f": {command}" if command else "")
    if pids:
        return "; ".join(
            f"pid {p}" + (f": {cmd}" if (cmd := _command_line(p)) else "") for p in pids
        )
    return "holder unknown: no owner record and not in /proc/locks"


def _running(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- atomic files -----------------------------------------------------------------------------


def _create_unique(parent: Path, prefix: str, create: Callable[[Path], T]) -> tuple[Path, T]:
    """``create(parent/<prefix><8 hex>)`` for a fresh name (retried on a collision)."""
    for _ in range(100):
        path = parent / f"{prefix}{secrets.token_hex(4)}"
        if path.exists():
            continue
        try:
            return path, create(path)
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name {prefix}* in {parent}")


def _mkdir(path: Path) -> None:
    os.mkdir(path, 0o777)  # the umask applies, unlike mkdtemp's 0700


def _open_new(path: Path) -> int:
    # 0666 & ~umask like any new file (mkstemp would make it 0600).
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` so that readers see either the old file or the complete new one.

    The file gets the mode of any new file (0666 minus the umask).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp, fd = _create_unique(path.parent, f".{path.name}.", _open_new)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def copy_tree_files(files: Iterable[Path], dest: Path) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for f in files:
        target = dest / f.name
        shutil.copy2(f, target)
        out.append(target)
    return out
