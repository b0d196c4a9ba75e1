"""Exact instruction counts on the host with valgrind's callgrind.

Collection is switched on only inside the measured functions
(``--toggle-collect``) and a profile is dumped after each call
(``--dump-after``), so dump N holds exactly the instructions of the N-th call,
including everything it calls.

Feature profile adds a dump before each bracket edge (``--dump-before`` of the
harness's ``mlif_profile_point``) and collects inside ``cgen_profile_calibrate``
(the empty bracket, outside the measured calls): each dump names its trigger,
which tells the regions' dumps from the edges'.
"""

from __future__ import annotations

import re
from pathlib import Path

_TOTALS = re.compile(r"^(?:summary|totals):\s+(\d+)", re.MULTILINE)
_TRIGGER = re.compile(r"^desc: Trigger: (.*)$", re.MULTILINE)

MEASURED_CALL = "mlif_measured_call"
PROFILE_POINT = "mlif_profile_point"
PROFILE_CALIBRATE = "cgen_profile_calibrate"  # see main.c for the name


def callgrind_command(functions: list[str], out_dir: Path, points: str | None = None) -> list[str]:
    """The valgrind prefix; removes dumps of an earlier run in ``out_dir`` first.

    ``points``: a function before each call of which a dump is also made."""
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
    if points:
        cmd.append(f"--dump-before={points}")
    return cmd


def callgrind_dumps(out_dir: Path) -> list[tuple[str, int]]:
    """(trigger, instructions) of each dump in order; the final dump at exit is dropped."""
    dumps = []
    for path in out_dir.glob("callgrind.out.*"):
        suffix = path.name.rsplit(".", 1)[-1]
        # Files: callgrind.out.<pid>.<n> for dumps, callgrind.out.<pid> for the final one.
        if path.name.count(".") == 3 and suffix.isdigit():
            dumps.append((int(suffix), path))
    result = []
    for _, path in sorted(dumps):
        text = path.read_text(errors="replace")
        total, trigger = _TOTALS.search(text), _TRIGGER.search(text)
        result.append((trigger.group(1) if trigger else "", int(total.group(1)) if total else 0))
    return result


def callgrind_counts(out_dir: Path) -> list[int]:
    """Instruction counts of the dumps, in call order (the final dump at exit is dropped)."""
    return [count for _, count in callgrind_dumps(out_dir)]


def profile_command(out_dir: Path) -> list[str]:
    """The valgrind prefix of a profiled program (feature profile)."""
    return callgrind_command([MEASURED_CALL, PROFILE_CALIBRATE], out_dir, points=PROFILE_POINT)


def profile_counts(dumps: list[tuple[str, int]]) -> tuple[list[int], list[int]]:
    """A profiled program's dumps as (instructions of each measured call, instructions
    collected before each bracket edge): the regions as without the feature, the edges as
    the QEMU plugin reports them (HarnessReport.fill_op_counts)."""
    regions: list[int] = []
    points: list[int] = []
    total = region = 0
    for trigger, count in dumps:
        total += count
        region += count
        if trigger == f"--dump-before={PROFILE_POINT}":
            points.append(total)
        elif trigger == f"--dump-after={PROFILE_CALIBRATE}":
            region = 0  # the empty bracket is in no measured call
        elif trigger == f"--dump-after={MEASURED_CALL}":
            regions.append(region)
            region = 0
    return regions, points
