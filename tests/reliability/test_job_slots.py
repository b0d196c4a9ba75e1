"""Machine-wide job slots: processes that build at once never hold more slots than allowed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HOLD = """
import json, sys, time
from pathlib import Path
from pytest_mlonmcu.core.slots import job_slot
root, out = Path(sys.argv[1]), Path(sys.argv[2])
with job_slot(root, slots=2) as slot:
    start = time.monotonic()
    time.sleep(0.3)
    out.write_text(json.dumps([slot, start, time.monotonic()]))
"""


def test_four_processes_share_two_slots(tmp_path: Path) -> None:
    outs = [tmp_path / f"{i}.json" for i in range(4)]
    procs = [
        subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path), str(out)]) for out in outs
    ]
    for p in procs:
        assert p.wait(timeout=60) == 0
    spans = [json.loads(out.read_text()) for out in outs]
    assert {slot for slot, _, _ in spans} <= {0, 1}
    for _, start, _ in spans:  # at no start are more than two slots held
        holding = sum(1 for _, s, e in spans if s <= start < e)
        assert holding <= 2, spans
    # Four holds of 0.3 s on two slots take two rounds: the slots did serialize.
    assert max(e for _, _, e in spans) - min(s for _, s, _ in spans) >= 0.55
