"""Run folders under the output directory: ``<out>/<case id>/<test>/``.

Users find the latest artifacts of a test at that predictable path. The plugin never
writes outside the out dir and never deletes what it did not make:

- every path it claims is checked to lie inside the out dir (``inside``, symlinks resolved);
- it writes a marker ``.mlonmcu-run`` (session, test) into each run folder it creates. A
  folder is replaced by a new run of its test only when it carries the marker and the
  session that wrote it has ended, or it is this session's folder of the same test (a rerun);
- a folder without the marker (user data, or artifacts of a version before the marker) is
  never touched, nor is one of a session still running on the same out dir: the run takes
  the first free sibling ``<test>.2``, ``<test>.3``... (a warning names a user's folder that
  was left alone). Two sessions running at once on one out dir thus keep their artifacts;
- a session is running while one of its processes holds its lock file
  ``<out>/.mlonmcu-sessions/<session>-<pid>.lock``: taken when that process claims its first
  run folder, released when the session ends (the kernel releases it if the process dies);
- claims in one case folder take turns on ``<out>/<case id>/.mlonmcu-claim.lock``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from .core.cache import atomic_write_text
from .core.errors import UsageError

MARKER = ".mlonmcu-run"
SESSIONS_DIR = ".mlonmcu-sessions"
CLAIM_LOCK = ".mlonmcu-claim.lock"
CLAIM_TIMEOUT = 120.0  # seconds; a claim itself takes milliseconds
MAX_SIBLINGS = 100
STALE_LOCK_AGE = 3600.0  # seconds: an unheld session lock file this old is removed
_TRASH = re.compile(r"^\..+\.old-[0-9a-f]{12}$")
_LOCK_NAME = re.compile(r"^[0-9a-f]+-\d+\.lock$")


class OutDirWarning(UserWarning):
    """A folder in the output directory that the plugin left alone."""


def inside(root: Path, path: Path) -> Path:
    """``path``, after checking that it lies inside ``root`` (symlinks resolved)."""
    real_root = Path(os.path.realpath(root))
    real = Path(os.path.realpath(path))
    if real == real_root or not real.is_relative_to(real_root):
        raise UsageError(
            f"{path} lies outside the output directory {root} (it resolves to {real}); "
            "pytest-mlonmcu writes and deletes only inside it"
        )
    return path


def new_session_id() -> str:
    return uuid.uuid4().hex[:16]


class RunDirs:
    """The run folders of one session's process (see the module doc)."""

    def __init__(self, root: Path, session: str) -> None:
        self.root = Path(root)
        self.session = session
        self._lock: FileLock | None = None

    @property
    def lock_name(self) -> str:
        return f"{self.session}-{os.getpid()}.lock"

    def claim(self, case_id: str, name: str, nodeid: str) -> tuple[Path, list[Path]]:
        """A fresh, empty run folder for test ``nodeid`` under ``<out>/<case_id>/``.

        Also returns the folders without the marker that were left alone on the way.
        """
        case_dir = inside(self.root, self.root / case_id)
        case_dir.mkdir(parents=True, exist_ok=True)
        self._hold_session_lock()
        lock = FileLock(case_dir / CLAIM_LOCK)
        try:
            lock.acquire(timeout=CLAIM_TIMEOUT)
        except Timeout:
            raise UsageError(
                f"{lock.lock_file}: another process held this lock for {CLAIM_TIMEOUT:.0f} s "
                "(it only guards the creation of a run folder); remove it if no pytest is running"
            ) from None
        left_alone: list[Path] = []
        try:
            for n in range(1, MAX_SIBLINGS + 1):
                path = inside(self.root, case_dir / (name if n == 1 else f"{name}.{n}"))
                if path.exists() or path.is_symlink():
                    verdict = self._verdict(path, nodeid)
                    if verdict != "replace":
                        if verdict == "foreign":
                            left_alone.append(path)
                        continue
                    path.rename(case_dir / f".{path.name}.old-{uuid.uuid4().hex[:12]}")
                path.mkdir()
                marker = {"session": self.session, "lock": self.lock_name, "nodeid": nodeid}
                atomic_write_text(path / MARKER, json.dumps(marker) + "\n")
                break
            else:
                raise UsageError(
                    f"{case_dir}: {name} and {MAX_SIBLINGS - 1} siblings are all taken by "
                    "running sessions or files pytest-mlonmcu did not write"
                )
        finally:
            lock.release()
        # Earlier runs moved aside, by this claim or by a process killed before it had
        # removed them: they carry the marker, so they are the plugin's to delete.
        for trash in case_dir.iterdir():
            if _TRASH.match(trash.name) and _read_marker(trash) is not None:
                try:
                    _remove_run_dir(trash)
                except FileNotFoundError:
                    pass  # another session removes it at the same time
        return path, left_alone

    def close(self) -> None:
        """End of the session in this process: others may replace its folders from now on."""
        if self._lock is not None:
            self._lock.release()
            Path(self._lock.lock_file).unlink(missing_ok=True)
            self._lock = None

    # -- internals ------------------------------------------------------------------
    def _hold_session_lock(self) -> None:
        if self._lock is not None:
            return
        sessions = self.root / SESSIONS_DIR
        sessions.mkdir(parents=True, exist_ok=True)
        _sweep_stale_locks(sessions)
        lock = FileLock(sessions / self.lock_name)
        # Another process may test it for a moment (_alive): wait for that, not longer.
        lock.acquire(timeout=30)
        self._lock = lock

    def _verdict(self, path: Path, nodeid: str) -> str:
        """``replace`` (the plugin's, ended), ``running`` (a live session's) or ``foreign``."""
        marker = _read_marker(path)
        if marker is None:
            return "foreign"
        if marker.get("session") == self.session:
            return "replace" if marker.get("nodeid") == nodeid else "running"
        return "running" if self._alive(str(marker.get("lock", ""))) else "replace"

    def _alive(self, lock_name: str) -> bool:
        if not _LOCK_NAME.match(lock_name):
            return True  # not a marker this plugin wrote: keep the folder
        path = self.root / SESSIONS_DIR / lock_name
        if not path.exists():
            return False
        return not _lock_is_free(path)


def _read_marker(path: Path) -> dict[str, Any] | None:
    if path.is_symlink() or not path.is_dir():
        return None
    try:
        data = json.loads((path / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _remove_run_dir(path: Path) -> None:
    """Delete a run folder, its marker last: if killed midway, it is still known as ours."""
    for child in path.iterdir():
        if child.name == MARKER:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
    (path / MARKER).unlink(missing_ok=True)
    try:
        path.rmdir()
    except OSError:
        pass  # something left (another process removing it too, or a file it could not delete)


def _lock_is_free(path: Path) -> bool:
    """True when no process holds the lock file (it is taken and released at once)."""
    lock = FileLock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return False
    lock.release()
    return True


def _sweep_stale_locks(sessions: Path) -> None:
    """Remove lock files of sessions that were killed (unheld, older than an hour).

    The age keeps a lock file that its process has just created, and not yet taken, alive.
    """
    now = time.time()
    for path in sessions.glob("*.lock"):
        try:
            old = now - path.stat().st_mtime > STALE_LOCK_AGE
        except OSError:
            continue
        if old and _LOCK_NAME.match(path.name) and _lock_is_free(path):
            path.unlink(missing_ok=True)
