"""Looking at processes through /proc: which are alive, in which group and session.

A killed process whose parent is gone may stay a zombie (state Z) when PID 1 of a container
does not reap; it runs no code, so "gone" means: no /proc entry, or a zombie.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="needs Linux /proc")


@dataclass(frozen=True)
class ProcInfo:
    pid: int
    state: str
    ppid: int
    pgid: int
    sid: int

    @property
    def alive(self) -> bool:
        return self.state not in ("Z", "X")


def proc_info(pid: int) -> ProcInfo | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (2nd field) is in parentheses and may hold spaces: split after it.
    fields = text[text.rindex(")") + 2 :].split()
    return ProcInfo(pid, fields[0], int(fields[1]), int(fields[2]), int(fields[3]))


def living() -> list[ProcInfo]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            info = proc_info(int(entry))
            if info is not None and info.alive:
                out.append(info)
    return out


def is_alive(pid: int) -> bool:
    info = proc_info(pid)
    return info is not None and info.alive


def in_group(pgid: int) -> list[int]:
    return [p.pid for p in living() if p.pgid == pgid]


def in_session(sid: int) -> list[int]:
    return [p.pid for p in living() if p.sid == sid]


def with_marker(marker: str) -> list[int]:
    """Living processes whose environment holds ``marker`` (inherited by every descendant)."""
    found = []
    needle = marker.encode()
    for p in living():
        try:
            if needle in Path(f"/proc/{p.pid}/environ").read_bytes():
                found.append(p.pid)
        except OSError:
            continue
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return "?"


def eventually(condition: Callable[[], bool], limit: float = 15.0) -> bool:
    """Whether ``condition`` holds within ``limit`` s (a killed process takes a moment to go)."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def wait_for_file(path: Path, limit: float = 30.0) -> str:
    assert eventually(lambda: path.is_file() and path.read_text().strip() != "", limit), path
    return path.read_text().strip()


def kill_quietly(pids: list[int]) -> None:
    """Clean up after a failed check (never leave what the test found running)."""
    for pid in pids:
        try:
            os.kill(pid, 9)
        except OSError:
            pass
