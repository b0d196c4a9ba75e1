"""Job slots shared by every process on the machine: parallel builds never run more compilers
in total than there are cores, however many xdist workers and sessions build at once.

A slot is an exclusive file lock ``<cache root>/job-slots/<i>.lock``, i < cores; a compile
holds one while its compiler runs. The operating system releases a dead holder's lock.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

POLL_SECONDS = 0.05


def cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


@contextlib.contextmanager
def job_slot(root: Path, slots: int | None = None) -> Iterator[int]:
    """Hold one of ``slots`` (default: the cores) machine-wide slots; yields its number."""
    count = slots or cores()
    directory = root / "job-slots"
    directory.mkdir(parents=True, exist_ok=True)
    locks = [FileLock(str(directory / f"{i}.lock")) for i in range(count)]
    start = os.getpid() % count  # spread the first tries over the slots
    while True:
        for k in range(count):
            i = (start + k) % count
            try:
                locks[i].acquire(timeout=0)
            except Timeout:
                continue
            try:
                yield i
            finally:
                locks[i].release()
            return
        time.sleep(POLL_SECONDS)
