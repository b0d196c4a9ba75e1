"""Content-addressed, multi-process safe cache.

Everything that is expensive and pure (a model converted by the zoo, a generated
backend artifact, a compiled harness object, a simulator build) is stored under
``<root>/<kind>/<key>/``.  An entry is produced in a temporary sibling directory
and renamed into place only when complete, under a file lock shared by all xdist
workers and concurrent sessions, so a reader never sees a half-written entry and
two producers never duplicate work.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from filelock import FileLock

DEFAULT_ROOT_ENV = "PYTEST_MLONMCU_CACHE"


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


class Cache:
    """A directory of completed entries: ``root/kind/key``."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root else default_cache_root()

    def path(self, kind: str, key: str) -> Path:
        return self.root / kind / key

    def get_or_create(
        self,
        kind: str,
        key: str,
        producer: Callable[[Path], None],
    ) -> Path:
        """Return the completed entry ``kind/key``, producing it once if missing.

        ``producer(tmp_dir)`` fills an empty temporary directory; when it returns,
        the directory is renamed to the final path.  If it raises, the temporary
        directory is removed and the error propagates: nothing half-written stays.
        """
        final = self.path(kind, key)
        if final.is_dir():
            return final
        final.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(final) + ".lock"):
            if final.is_dir():  # another worker finished it while we waited
                return final
            tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=final.parent))
            try:
                producer(tmp)
                os.replace(tmp, final)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        return final


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` so that readers see either the old file or the complete new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
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
