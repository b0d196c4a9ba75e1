"""The stage pipeline (stop and continue, stage records) and the cache across sessions."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import BENCH_TEST, FAST, HOST, NO_CALLGRIND, TFLMI

ALL_STAGES = ["load", "tune", "build", "compile", "run", "postprocess"]

STEPWISE_TEST = """
import json

import numpy as np

from pytest_mlonmcu.core.stages import Stage


def test_stepwise(mlonmcu_run):
    run = mlonmcu_run
    assert run.done is None and run.stages == {}

    run.process(until=Stage.BUILD)
    assert list(run.stages) == ["load", "tune", "build"]
    assert run.done is Stage.BUILD
    assert run.model is not None and run.samples.count == 2
    assert run.artifact is not None and run.artifact.kind == "host_runner"
    assert run.program is None and run.output is None and run.validation is None
    assert not (run.artifacts_dir / "run").exists()
    saved = json.loads((run.artifacts_dir / "metrics.json").read_text())
    assert list(saved["stages"]) == ["load", "tune", "build"]
    first = dict(run.stages)

    run.process(until="compile")
    assert list(run.stages) == ["load", "tune", "build", "compile"]
    assert run.program is not None and run.output is None

    run.process()  # the session's --mlonmcu-until: every stage
    assert list(run.stages) == ["load", "tune", "build", "compile", "run", "postprocess"]
    for name, record in first.items():  # done stages are not run again
        assert run.stages[name] is record
    assert all(r.status == "ok" and r.seconds >= 0 for r in run.stages.values())
    assert run.done is Stage.POSTPROCESS
    assert run.validation.passed
    assert len(run.outputs) == 2 and run.outputs[0][0].dtype == np.int8
    assert run.outputs[0][0].shape == tuple(run.model.metadata.outputs[0].shape)
    saved = json.loads((run.artifacts_dir / "metrics.json").read_text())
    assert list(saved["stages"]) == list(run.stages)
    assert saved["metrics"]["validation_passed"] is True

    run.process()  # nothing left to do
    assert run.stages["run"] is not None and len(run.stages) == 6
"""


def test_process_until_then_continue(pytester, run_plugin):
    pytester.makepyfile(test_stepwise=STEPWISE_TEST)
    session = run_plugin(*FAST)
    session.result.assert_outcomes(passed=1)
    record = session.record("zoo_toycar-tflmi-host_x86")
    assert list(record["stages"]) == ALL_STAGES
    assert all(
        isinstance(s["seconds"], float) and s["seconds"] >= 0 for s in record["stages"].values()
    )


def test_failed_stage_is_recorded_as_failed(pytester, run_plugin):
    bad = pytester.path / "bad.tflite"
    bad.write_bytes(b"\0" * 64)
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin(f"--mlonmcu-model={bad}", TFLMI, HOST, NO_CALLGRIND)
    session.result.assert_outcomes(failed=1)
    record = session.record("bad-tflmi-host_x86")
    assert list(record["stages"]) == ["load"]
    saved = json.loads((Path(record["artifacts"]) / "metrics.json").read_text())
    assert saved["stages"]["load"]["status"] == "failed"


def test_session_until_is_the_default_of_process(pytester, run_plugin):
    pytester.makepyfile(
        test_m="""
        from pytest_mlonmcu.core.stages import Stage

        def test_default_until(mlonmcu_run):
            assert mlonmcu_run.default_until is Stage.COMPILE
            mlonmcu_run.process()
            assert mlonmcu_run.done is Stage.COMPILE
            mlonmcu_run.process(until="postprocess")  # an explicit stage goes further
            assert mlonmcu_run.validation.passed
        """
    )
    session = run_plugin(*FAST, "--mlonmcu-until=compile")
    session.result.assert_outcomes(passed=1)


# -- the cache -------------------------------------------------------------------------


def _entries(cache: Path) -> dict[str, tuple[int, str]]:
    """Completed entries ``kind/key`` -> (mtime of the entry directory, its file contents)."""
    out = {}
    for entry in sorted(p for p in cache.glob("*/*") if p.is_dir()):
        files = sorted(f for f in entry.rglob("*") if f.is_file())
        content = "".join(f.read_text(errors="replace") for f in files)
        out[f"{entry.parent.name}/{entry.name}"] = (entry.stat().st_mtime_ns, content)
    return out


def _count(entries: dict, kind: str) -> int:
    return sum(1 for k in entries if k.split("/")[0] == kind)


def test_second_session_reuses_arena_and_reference(pytester, run_plugin, toycar_copy, tmp_path):
    cache = tmp_path / "cache"
    pytester.makepyfile(test_m=BENCH_TEST)
    args = (f"--mlonmcu-model={toycar_copy}", TFLMI, HOST, NO_CALLGRIND)

    first = run_plugin(*args, cache=cache)
    first.result.assert_outcomes(passed=1)
    after_first = _entries(cache)
    assert _count(after_first, "reference") == _count(after_first, "tflmi-arena") == 1

    second = run_plugin(*args, cache=cache)
    second.result.assert_outcomes(passed=1)
    assert _entries(cache) == after_first  # no entry produced again, none added
    m1 = first.record("toycar-tflmi-host_x86")["metrics"]
    m2 = second.record("toycar-tflmi-host_x86")["metrics"]
    assert m1["arena_bytes"] == m2["arena_bytes"]
    assert m2["validation_passed"] is True

    # Other samples need another reference entry, but the same arena search.
    third = run_plugin(*args, "--mlonmcu-config=run.samples=3", cache=cache)
    third.result.assert_outcomes(passed=1)
    after_third = _entries(cache)
    assert _count(after_third, "reference") == 2 and _count(after_third, "tflmi-arena") == 1
    assert {k: v for k, v in after_third.items() if k in after_first} == after_first


def test_second_session_reads_the_arena_from_the_cache(pytester, run_plugin, toycar_copy, tmp_path):
    """Proof of a cache hit: an edited entry is what the second session uses."""
    cache = tmp_path / "cache"
    pytester.makepyfile(test_m=BENCH_TEST)
    args = (f"--mlonmcu-model={toycar_copy}", TFLMI, HOST, "--mlonmcu-until=build")
    first = run_plugin(*args, cache=cache)
    searched = first.record("toycar-tflmi-host_x86")["metrics"]["arena_bytes"]
    assert 1024 < searched < 65536
    (entry,) = [p for p in (cache / "tflmi-arena").iterdir() if p.is_dir()]
    (entry / "arena").write_text(str(searched + 4096))

    second = run_plugin(*args, cache=cache)
    assert second.record("toycar-tflmi-host_x86")["metrics"]["arena_bytes"] == searched + 4096


def test_concurrent_workers_produce_each_entry_once(pytester, run_plugin, toycar_copy, tmp_path):
    cache = tmp_path / "cache"
    pytester.makepyfile(
        test_m="\n".join(BENCH_TEST.replace("test_bench", f"test_{i}") for i in range(4))
    )
    session = run_plugin(
        f"--mlonmcu-model={toycar_copy}", TFLMI, HOST, NO_CALLGRIND, "-n", "2", cache=cache
    )
    session.result.assert_outcomes(passed=4)
    entries = _entries(cache)
    assert _count(entries, "reference") == _count(entries, "tflmi-arena") == 1
    leftovers = [p.name for p in cache.glob("*/.*") if not p.name.endswith(".lock")]
    assert leftovers == []  # no temporary directory left behind
    assert len({r["metrics"]["arena_bytes"] for r in session.runs}) == 1
