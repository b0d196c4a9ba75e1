"""core/records.py names the keys of the JSON records that the plugin really writes."""

from __future__ import annotations

import json
from typing import Any

from gates_helpers import BENCH_TEST, FAKE, models_arg, nodeid, rid, write_metrics

from pytest_mlonmcu.core.records import (
    BudgetRecord,
    ComparisonRecord,
    DeltaRecord,
    RunRecord,
    StageTime,
)
from pytest_mlonmcu.gates.baseline import BaselineEntry


def _keys(typed_dict: Any) -> set[str]:
    return set(typed_dict.__required_keys__ | typed_dict.__optional_keys__)


def test_records_have_exactly_the_keys_of_their_types(fake_project, run_session):
    fake_project.makepyfile(test_m=BENCH_TEST)
    metrics = {"invoke_instructions": 1_000_000, "rom_bytes": 100_000}
    write_metrics(fake_project, {rid("m1"): metrics, rid("m2"): metrics})
    saved = run_session(*FAKE, models_arg("m1"), "--mlonmcu-save-baseline=base.json")
    assert saved.ret == 0, saved.output
    # m1 against its baseline with a budget it exceeds, m2 new (no baseline entry).
    session = run_session(
        *FAKE, models_arg("m1", "m2"), "--mlonmcu-compare=base.json",
        "--mlonmcu-fail-on=*:+5%", "--mlonmcu-budget=rom_bytes<=1kB",
    )  # fmt: skip
    assert session.ret == 1, session.output
    for record in session.runs:
        assert set(record) == _keys(RunRecord)
        assert record["outcome"] == "failed" and record["budgets"]
        assert all(set(b) == _keys(BudgetRecord) for b in record["budgets"])
        assert all(set(s) == _keys(StageTime) for s in record["stages"].values())
        assert set(record["comparison"]) == _keys(ComparisonRecord)
    compared = session.record(nodeid("m1"))["comparison"]
    assert compared["compared"] and compared["deltas"]
    assert all(set(d) == _keys(DeltaRecord) for d in compared["deltas"])
    new = session.record(nodeid("m2"))["comparison"]
    assert new == {"key": None, "compared": False, "deltas": []}
    (entry,) = json.loads((fake_project.path / "base.json").read_text())["runs"].values()
    assert set(entry) == _keys(BaselineEntry)
