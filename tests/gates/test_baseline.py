"""Baselines: --mlonmcu-save-baseline, --mlonmcu-compare, --mlonmcu-fail-on; xdist == serial."""

from __future__ import annotations

import json

import pytest
from gates_helpers import BENCH_TEST, FAKE, FAKE_CONFTEST, models_arg, nodeid, rid, write_metrics

BASE = {"invoke_instructions": 1_000_000, "rom_bytes": 100_000, "ram_bytes": 10_000}
REGRESSION = (
    "regression: invoke_instructions = 1,060,000 vs baseline 1,000,000 (+6.0%, allowed +5%) "
    "[from --mlonmcu-fail-on invoke_instructions:+5%]"
)


def _save_baseline(project, run_session, models, metrics, *extra: str):
    write_metrics(project, metrics)
    session = run_session(*FAKE, models_arg(*models), "--mlonmcu-save-baseline=base.json", *extra)
    assert session.ret == 0, session.output
    assert "baseline saved: " in session.output
    return json.loads((project.path / "base.json").read_text())


# Evidence that workers got the controller's baseline (instead of reading the file).
WORKER_PROBE = """

def pytest_configure(config):
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        probe = Path(__file__).with_name(f"probe-{workerinput['workerid']}.txt")
        probe.write_text(str("mlonmcu_baseline" in workerinput))
"""


def test_regressions_fail_their_tests_the_same_with_and_without_xdist(fake_project, run_session):
    fake_project.makeconftest(FAKE_CONFTEST + WORKER_PROBE)
    fake_project.makepyfile(test_m=BENCH_TEST)
    baseline = _save_baseline(
        fake_project, run_session, ["m1", "m2", "m3", "m5"],
        {rid(m): BASE for m in ("m1", "m2", "m3", "m5")},
    )  # fmt: skip
    assert baseline["kind"] == "pytest-mlonmcu-baseline" and baseline["version"] == 1
    assert sorted(baseline["runs"]) == [rid(m) for m in ("m1", "m2", "m3", "m5")]
    entry = baseline["runs"][rid("m1")]
    assert entry["nodeid"] == nodeid("m1") and entry["metrics"]["rom_bytes"] == 100_000

    write_metrics(
        fake_project,
        {
            rid("m1"): {**BASE, "invoke_instructions": 1_060_000},  # +6%: fails at +5%
            rid("m2"): {**BASE, "invoke_instructions": 1_040_000},  # +4%: passes
            rid("m3"): {**BASE, "invoke_instructions": 950_000, "rom_bytes": 90_000},
            rid("m4"): BASE,  # not in the baseline
        },
    )
    args = (
        *FAKE, models_arg("m1", "m2", "m3", "m4"), "--mlonmcu-compare=base.json",
        "--mlonmcu-fail-on=invoke_instructions:+5%", "--mlonmcu-markdown=r.md",
    )  # fmt: skip
    serial = run_session(*args)
    serial.result.assert_outcomes(passed=3, failed=1)
    assert serial.record(nodeid("m1"))["reason"] == REGRESSION
    serial.result.stdout.fnmatch_lines(
        [f"FAILED test_m.py::test_bench[[]{rid('m1')}[]] - *{REGRESSION.replace('[', '[[]')}"]
    )
    m2 = serial.record(nodeid("m2"))
    assert m2["outcome"] == "passed"
    assert m2["comparison"]["key"] == rid("m2") and m2["comparison"]["compared"] is True
    (invoke,) = [d for d in m2["comparison"]["deltas"] if d["metric"] == "invoke_instructions"]
    assert invoke == {
        "metric": "invoke_instructions",
        "baseline": 1_000_000,
        "value": 1_040_000,
        "verdict": "worse",
        "rule": None,
        "allowance": None,
        "source": None,
        "percent": 4.0,
    }
    assert serial.record(nodeid("m4"))["comparison"] == {
        "key": None,
        "compared": False,
        "deltas": [],
    }

    gates = serial.section("mlonmcu gates")
    assert (
        "baseline " + str(fake_project.path / "base.json") + ": 3 runs compared, 1 regression, "
        "1 worse within the rules, 2 improvements; 1 new run, 1 baseline run missing"
    ) in gates
    expected_lines = [
        "regressions (fail):",
        f"  {rid('m1')}: invoke_instructions 1,000,000 -> 1,060,000 (+6.0%), allowed +5% "
        "[invoke_instructions:+5%]",
        "worse, within --mlonmcu-fail-on:",
        f"  {rid('m2')}: invoke_instructions 1,000,000 -> 1,040,000 (+4.0%)",
        "improvements:",
        f"  {rid('m3')}: invoke_instructions 1,000,000 -> 950,000 (-5.0%)",
        f"  {rid('m3')}: rom_bytes 100,000 -> 90,000 (-10.0%)",
        "new runs (not in the baseline):",
        f"  {rid('m4')}",
        "missing runs (in the baseline, not in this session):",
        f"  {rid('m5')}",
    ]
    lines = gates.splitlines()
    assert [line for line in lines if line in expected_lines] == expected_lines, gates

    markdown = (fake_project.path / "r.md").read_text()
    row_m1 = next(line for line in markdown.splitlines() if line.startswith("| m1 "))
    assert "| 1,060,000 (**+6.0%**) | 100,000 (±0%) | 10,000 (±0%) |" in row_m1
    row_m3 = next(line for line in markdown.splitlines() if line.startswith("| m3 "))
    assert "| 950,000 (-5.0%) | 90,000 (-10.0%) |" in row_m3
    assert f"- `{rid('m1')}`: {REGRESSION}" in markdown
    assert f"New runs (not in the baseline): `{rid('m4')}`" in markdown
    assert f"Baseline runs missing here: `{rid('m5')}`" in markdown

    # The same verdicts, reasons and summary with two workers: the controller sends its
    # baseline to the workers, and each compares its own runs after the test body.
    parallel = run_session(*args, "-n", "2")
    assert "2 workers" in parallel.output
    for worker in ("gw0", "gw1"):
        assert (fake_project.path / f"probe-{worker}.txt").read_text() == "True"
    parallel.result.assert_outcomes(passed=3, failed=1)
    assert parallel.outcomes() == serial.outcomes()
    assert parallel.section("mlonmcu gates") == gates
    assert {r["nodeid"]: r["comparison"] for r in parallel.runs} == {
        r["nodeid"]: r["comparison"] for r in serial.runs
    }


def test_absolute_and_star_rules(fake_project, run_session):
    fake_project.makepyfile(test_m=BENCH_TEST)
    base = {**BASE, "stack_bytes": 1000}
    _save_baseline(
        fake_project, run_session, ["m1", "m2", "m3"], {rid(m): base for m in "m1 m2 m3".split()}
    )
    write_metrics(
        fake_project,
        {
            # rom at the +1024 allowance; ram +6% fails the "*" rule; stack +4.9% is fine
            rid("m1"): {**base, "rom_bytes": 101_024, "ram_bytes": 10_600, "stack_bytes": 1049},
            rid("m2"): {**base, "rom_bytes": 101_025},  # one byte beyond +1024
            # +3% rom: the explicit rom rule (+1024) replaces "*" (+5%) for rom_bytes
            rid("m3"): {**base, "rom_bytes": 103_000},
        },
    )
    # The rules from the ini key this time (the command line works alike, see above).
    fake_project.makeini("[pytest]\nmlonmcu_fail_on = rom_bytes:+1024 *:+5%\n")
    session = run_session(*FAKE, models_arg("m1", "m2", "m3"), "--mlonmcu-compare=base.json")
    session.result.assert_outcomes(failed=3)
    assert session.record(nodeid("m1"))["gate_failures"] == [
        "regression: ram_bytes = 10,600 vs baseline 10,000 (+6.0%, allowed +5%) "
        "[from ini mlonmcu_fail_on *:+5%]"
    ]
    assert session.record(nodeid("m2"))["reason"] == (
        "regression: rom_bytes = 101,025 vs baseline 100,000 (+1.0%, allowed +1,024) "
        "[from ini mlonmcu_fail_on rom_bytes:+1024]"
    )
    assert session.record(nodeid("m3"))["reason"].startswith("regression: rom_bytes = 103,000")


def test_a_json_report_is_a_baseline_and_shared_cases_keep_their_test(fake_project, run_session):
    fake_project.makepyfile(
        test_m="""
        def test_bench(mlonmcu_run):
            mlonmcu_run.process()


        def test_other(mlonmcu_run):
            mlonmcu_run.process()
            assert "m2" not in mlonmcu_run.id, "a test failure: not a baseline"
        """
    )
    write_metrics(fake_project, {rid("m1"): BASE, rid("m2"): BASE})
    first = run_session(*FAKE, models_arg("m1", "m2"), "--mlonmcu-save-baseline=base.json")
    first.result.assert_outcomes(passed=3, failed=1)
    (fake_project.path / "report.json").write_text(json.dumps(first.report))
    runs = json.loads((fake_project.path / "base.json").read_text())["runs"]
    # m1 ran in two test functions: its keys name them; m2's failed run is left out.
    assert sorted(runs) == [
        f"{rid('m1')}::test_m.py::test_bench",
        f"{rid('m1')}::test_m.py::test_other",
        rid("m2"),
    ]

    write_metrics(
        fake_project,
        {rid("m1"): {**BASE, "rom_bytes": 200_000}, rid("m2"): {**BASE, "rom_bytes": 200_000}},
    )
    for baseline in ("base.json", "report.json"):
        second = run_session(
            *FAKE, models_arg("m1", "m2"), f"--mlonmcu-compare={baseline}",
            "--mlonmcu-fail-on=rom_bytes:+10%", "-k", "test_bench",
        )  # fmt: skip
        second.result.assert_outcomes(failed=2)
        assert second.record(nodeid("m1"))["comparison"]["key"] == (
            f"{rid('m1')}::test_m.py::test_bench"
        )
        assert second.record(nodeid("m2"))["comparison"]["key"] == rid("m2")
        gates = second.section("mlonmcu gates")
        assert f"  {rid('m1')}::test_m.py::test_other" in gates  # missing from this session


def test_baseline_usage_errors(fake_project, run_session):
    fake_project.makepyfile(test_m=BENCH_TEST)
    missing = run_session(*FAKE, models_arg("m1"), "--mlonmcu-compare=nope.json")
    assert missing.ret == int(pytest.ExitCode.USAGE_ERROR)
    assert f"--mlonmcu-compare: {fake_project.path / 'nope.json'} does not exist" in missing.output
    no_base = run_session(*FAKE, models_arg("m1"), "--mlonmcu-fail-on=*:+5%")
    assert no_base.ret == int(pytest.ExitCode.USAGE_ERROR)
    assert "--mlonmcu-fail-on needs a baseline: --mlonmcu-compare PATH" in no_base.output
    (fake_project.path / "bad.json").write_text('{"something": "else"}')
    bad = run_session(*FAKE, models_arg("m1"), "--mlonmcu-compare=bad.json")
    assert bad.ret == int(pytest.ExitCode.USAGE_ERROR)
    assert "is neither a baseline (--mlonmcu-save-baseline) nor a results report" in bad.output
    # A session without runs leaves an existing baseline alone.
    (fake_project.path / "keep.json").write_text("precious")
    empty = run_session(*FAKE, models_arg("m1"), "--mlonmcu-save-baseline=keep.json", "-k", "nope")
    assert empty.ret == int(pytest.ExitCode.NO_TESTS_COLLECTED)
    assert (fake_project.path / "keep.json").read_text() == "precious"


def test_help_lists_the_gate_and_report_options(pytester):
    # argparse %-formats help texts: a bare "%" in one breaks `pytest --help`.
    result = pytester.runpytest_subprocess("--help")
    assert result.ret == 0, result.stderr.str()
    text = result.stdout.str()
    for flag in ("budget", "save-baseline", "compare", "fail-on", "csv", "markdown", "plot"):
        assert f"--mlonmcu-{flag}=" in text
    assert "METRIC:+N% or METRIC:+N, *:+N% for every cost metric" in " ".join(text.split())
    assert "mlonmcu_fail_on (args)" in text and "%%" not in text


def test_a_gated_metric_that_vanished_from_the_run_fails(fake_project, run_session):
    """A baseline metric the run no longer produces fails when a rule gates it (by name, or
    a cost metric under ``*``); ungated ones are reported as missing; an early stop is none."""
    fake_project.makepyfile(test_m=BENCH_TEST)
    base = {**BASE, "energy_uj": 50}
    _save_baseline(
        fake_project, run_session, ["m1", "m2", "m3"], {rid(m): base for m in ("m1", "m2", "m3")}
    )
    without = lambda key: {k: v for k, v in base.items() if k != key}  # noqa: E731
    write_metrics(
        fake_project,
        {
            rid("m1"): without("invoke_instructions"),  # named by a rule
            rid("m2"): without("ram_bytes"),  # a cost metric under "*"
            rid("m3"): without("energy_uj"),  # no rule gates it
        },
    )
    args = (*FAKE, models_arg("m1", "m2", "m3"), "--mlonmcu-compare=base.json")
    rules = ("--mlonmcu-fail-on=invoke_instructions:+5%,*:+10%",)
    session = run_session(*args, *rules)
    session.result.assert_outcomes(passed=1, failed=2)
    assert session.record(nodeid("m1"))["reason"] == (
        "metric invoke_instructions is in the baseline (1,000,000) but the run no longer "
        "produces it [from --mlonmcu-fail-on invoke_instructions:+5%]"
    )
    assert session.record(nodeid("m2"))["reason"] == (
        "metric ram_bytes is in the baseline (10,000) but the run no longer produces it "
        "[from --mlonmcu-fail-on *:+10%]"
    )
    (vanished,) = [
        d for d in session.record(nodeid("m2"))["comparison"]["deltas"] if d["value"] is None
    ]
    assert (vanished["metric"], vanished["verdict"], vanished["rule"]) == (
        "ram_bytes",
        "vanished",
        "*:+10%",
    )
    assert session.record(nodeid("m3"))["outcome"] == "passed"
    gates = session.section("mlonmcu gates")
    assert "3 runs compared, 2 regressions" in gates
    assert (
        f"  {rid('m1')}: invoke_instructions 1,000,000 -> -, no longer produced "
        "[invoke_instructions:+5%]" in gates
    )

    # Without rules nothing is gated: the same runs pass, the metrics are only "missing".
    ungated = run_session(*args)
    ungated.result.assert_outcomes(passed=3)
    (ram,) = [d for d in ungated.record(nodeid("m2"))["comparison"]["deltas"] if d["value"] is None]
    assert (ram["metric"], ram["verdict"], ram["rule"]) == ("ram_bytes", "missing", None)
    # A run stopped early on purpose (--mlonmcu-until) produces no counts: not a failure.
    early = run_session(*args, *rules, "--mlonmcu-until=compile")
    early.result.assert_outcomes(passed=3)
