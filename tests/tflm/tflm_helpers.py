"""Shared by the TFLM tests: where models and sources are, one plugin session's results."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
MLPERF_DIR = Path(
    os.environ.get("MLONMCU_MODELS_DIR") or REPO.parent / "shared" / "models" / "mlperf_tiny"
)
VENDOR_DIR = Path(os.environ.get("MLONMCU_VENDOR_DIR") or REPO.parent / "shared" / "vendor")
MODELS = ["aww", "vww", "resnet", "toycar"]


@dataclass
class Session:
    """One pytest session of the plugin: exit code, output and the JSON records by id."""

    ret: int
    output: str
    runs: dict[str, dict[str, Any]]

    def run(self, run_id: str) -> dict[str, Any]:
        assert run_id in self.runs, f"no record {run_id}; have {sorted(self.runs)}\n{self.output}"
        return self.runs[run_id]

    def passed(self, run_id: str) -> dict[str, Any]:
        rec = self.run(run_id)
        assert rec["outcome"] == "passed", f"{run_id}: {rec['outcome']}: {rec['reason']}"
        assert rec["metrics"].get("validation_passed") is True, rec["metrics"]
        return rec["metrics"]
