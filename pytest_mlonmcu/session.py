"""Results of the session: one record per run, gathered by the process that writes the reports.

Transport: the process that ran a test attaches its record (as JSON text) to the test's
teardown report; pytest-xdist sends every report to the controller as soon as the test
ends, so a record reaches the controller with its test's outcome, and a worker that dies
later (segfault, OOM kill, ``os._exit``) loses nothing it finished. The test that was
running when a worker died gets a failed record naming the crash (``add_crash``); its
case comes from its setup report, or from its test id when it died during setup.

Values: a record holds only what xdist's channel (execnet) and JSON carry unchanged
(``portable``): None, bool, str, lists, dicts with str keys, finite floats and ints in
``[-2**31, 2**63)`` (execnet packs a negative int into 4 bytes; int64 is what JSON readers
besides Python keep exact). Other ints and NaN/Inf become strings (``"2361183241434822606848"``,
``"nan"``, ``"inf"``, ``"-inf"``), numpy scalars become Python numbers, anything else its
``str``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from .core.cache import atomic_write_text
from .core.case import Case
from .core.records import RunRecord, portable
from .matrix import case_from_id

SCHEMA_VERSION = 1
# Attributes of a TestReport: pytest-xdist serializes them with the report.
RECORD_ATTR = "mlonmcu_record"  # the teardown report's record (JSON text)
CASE_ATTR = "mlonmcu_case"  # the setup report's case fields (JSON text)


class SessionResults:
    """The session's records; registered as a plugin in the process that writes the reports."""

    def __init__(self) -> None:
        # One record per test: a test run again (a rerun plugin, xdist rescheduling a
        # crashed worker's tests) keeps its latest record.
        self.by_nodeid: dict[str, dict[str, Any]] = {}
        self.running: dict[str, dict[str, Any]] = {}  # nodeid -> case fields, until its record

    @property
    def records(self) -> list[dict[str, Any]]:
        return list(self.by_nodeid.values())

    def add(self, record: dict[str, Any]) -> None:
        self.by_nodeid.pop(record["nodeid"], None)
        self.by_nodeid[record["nodeid"]] = record

    def receive(self, report: pytest.TestReport) -> None:
        """Take the record (or the started case) that a report carries, if any."""
        case = getattr(report, CASE_ATTR, None)
        if case is not None:
            self.running[report.nodeid] = json.loads(case)
        record = getattr(report, RECORD_ATTR, None)
        if record is not None:
            self.running.pop(report.nodeid, None)
            self.add(json.loads(record))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.receive(report)

    @pytest.hookimpl(wrapper=True, optionalhook=True)
    def pytest_handlecrashitem(self, crashitem: str, report: pytest.TestReport, sched: Any):
        # xdist: a worker died while running ``crashitem``; other plugins may reschedule it.
        result = yield
        if report.outcome == "failed":
            self.add_crash(crashitem, str(report.longrepr))
        return result

    def add_crash(self, nodeid: str, reason: str) -> None:
        """A failed record for the test that was running when its worker died."""
        fields = self.running.pop(nodeid, None)
        case = Case(**fields) if fields is not None else _case_of_nodeid(nodeid)
        if case is None:  # not a matrix test
            return
        self.add(make_record(None, case, "failed", reason, nodeid))

    def sorted_records(self) -> list[dict[str, Any]]:
        return sorted(self.records, key=lambda r: (r["id"], r.get("nodeid", "")))

    def to_json(self) -> str:
        return json.dumps(
            {"version": SCHEMA_VERSION, "runs": self.sorted_records()}, indent=2, default=str
        )

    def write_json(self, path) -> None:
        atomic_write_text(path, self.to_json() + "\n")


def attach_case(report: pytest.TestReport, case: Case) -> None:
    fields = {
        "model": case.model,
        "backend": case.backend,
        "target": case.target,
        "features": list(case.features),
        "model_label": case.model_label,
    }
    setattr(report, CASE_ATTR, json.dumps(fields))


def attach_record(report: pytest.TestReport, record: dict[str, Any]) -> None:
    setattr(report, RECORD_ATTR, json.dumps(record, allow_nan=False))


def _case_of_nodeid(nodeid: str) -> Case | None:
    name = nodeid.rpartition("::")[2]
    start = name.find("[")
    if start < 0 or not name.endswith("]"):
        return None
    return case_from_id(name[start + 1 : -1])


def make_record(
    run, case, outcome: str, reason: str, nodeid: str, extra: dict[str, Any] | None = None
) -> RunRecord:
    """The JSON record of one test (``run`` may be None when the test never built one).

    ``extra`` adds fields, e.g. the gates' ``budgets``, ``comparison``, ``gate_failures``.
    Every value is made ``portable``.
    """
    stages = {}
    metrics: dict[str, Any] = {}
    if run is not None:
        stages = {k: {"seconds": round(v.seconds, 4)} for k, v in run.stages.items()}
        metrics = dict(run.metrics)
    return portable(
        {
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
            "operators": run.operators if run is not None else [],  # feature profile's rows
            **(extra or {}),
        }
    )
