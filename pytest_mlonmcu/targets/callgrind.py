"""Exact instruction counts on the host with valgrind's callgrind.

Collection is switched on only inside the measured functions
(``--toggle-collect``) and a profile is dumped after each call
(``--dump-after``), so dump N holds exactly the instructions of the N-th call,
including everything it calls.
"""

from __future__ import annotations

import re
from pathlib import Path

_TOTALS = re.compile(r"^(?:summary|totals):\s+(\d+)", re.MULTILINE)


def callgrind_command(functions: list[str], out_dir: Path) -> list[str]:
    """The valgrind prefix; removes dumps of an earlier run in ``out_dir`` first."""
    for old in out_dir.glob("callgrind.out.*"):
        old.unlink()
    cmd = [
        "valgrind",
        "--tool=callgrind",
        "--collect-atstart=no",
        f"--callgrind-out-file={out_dir / 'callgrind.out.%p'}",
    ]
    for fn in functions:
        cmd += [f"--toggle-collect={fn}", f"--dump-after={fn}"]
    return cmd


def callgrind_counts(out_dir: Path) -> list[int]:
    """Instruction counts of the dumps, in call order (the final dump at exit is dropped)."""
    dumps = []
    for path in out_dir.glob("callgrind.out.*"):
        suffix = path.name.rsplit(".", 1)[-1]
        # Files: callgrind.out.<pid>.<n> for dumps, callgrind.out.<pid> for the final one.
        if path.name.count(".") == 3 and suffix.isdigit():
            dumps.append((int(suffix), path))
    counts = []
    for _, path in sorted(dumps):
        m = _TOTALS.search(path.read_text(errors="replace"))
        counts.append(int(m.group(1)) if m else 0)
    return counts
