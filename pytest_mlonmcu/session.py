"""Results of the session: one record per run, merged across xdist workers.

Each process keeps its records; an xdist worker hands them to the controller
through ``workeroutput`` when it finishes, so the controller writes one JSON file
and one summary table for the whole session.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from .cache import atomic_write_text
from .core.records import RunRecord

SCHEMA_VERSION = 1
WORKER_KEY = "mlonmcu_runs"


class SessionResults:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def add(self, record: dict[str, Any]) -> None:
        self.records.append(record)

    def merge_worker_output(self, workeroutput: dict[str, Any]) -> None:
        data = workeroutput.get(WORKER_KEY)
        if data:
            self.records.extend(json.loads(data))

    def export_for_controller(self, config: pytest.Config) -> None:
        config.workeroutput[WORKER_KEY] = json.dumps(self.records, default=str)  # type: ignore[attr-defined]

    def sorted_records(self) -> list[dict[str, Any]]:
        return sorted(self.records, key=lambda r: (r["id"], r.get("nodeid", "")))

    def to_json(self) -> str:
        return json.dumps(
            {"version": SCHEMA_VERSION, "runs": self.sorted_records()}, indent=2, default=str
        )

    def write_json(self, path) -> None:
        atomic_write_text(path, self.to_json() + "\n")


def make_record(
    run, case, outcome: str, reason: str, nodeid: str, extra: dict[str, Any] | None = None
) -> RunRecord:
    """The JSON record of one test (``run`` may be None when the test never built one).

    ``extra`` adds fields, e.g. the gates' ``budgets``, ``comparison``, ``gate_failures``.
    """
    stages = {}
    metrics: dict[str, Any] = {}
    if run is not None:
        stages = {k: {"seconds": round(v.seconds, 4)} for k, v in run.stages.items()}
        metrics = dict(run.metrics)
    return {
        "id": case.id,
        "nodeid": nodeid,
        "model": case.model,
        "backend": case.backend,
        "target": case.target,
        "features": list(case.features),
        "outcome": outcome,
        "reason": reason,
        "stages": stages,
        "metrics": metrics,
        "artifacts": str(run.artifacts_dir) if run is not None else None,
        **(extra or {}),
    }
