"""Budgets: @pytest.mark.budget, mlonmcu.yml patterns, --mlonmcu-budget and the ini key."""

from __future__ import annotations

import pytest
from gates_helpers import BENCH_TEST, FAKE, models_arg, nodeid, rid, write_metrics

from pytest_mlonmcu.core.errors import UsageError
from pytest_mlonmcu.gates.baseline import parse_fail_on
from pytest_mlonmcu.gates.budgets import parse_budget_expr, parse_limit

MARKED_TESTS = """
import pytest


@pytest.mark.budget(rom_bytes="128kB", invoke_instructions=2_000_000)
def test_marked(mlonmcu_run):
    mlonmcu_run.process()


def test_plain(mlonmcu_run):
    mlonmcu_run.process()
"""


def test_sizes_are_decimal_with_k_and_binary_with_kib():
    assert parse_limit("128kB", "t") == 128_000
    assert parse_limit("128k", "t") == 128_000
    assert parse_limit("64KiB", "t") == 65_536
    assert parse_limit("30M", "t") == 30_000_000
    assert parse_limit("1MiB", "t") == 1_048_576
    assert parse_limit("0x100", "t") == 256
    assert parse_limit(0.5, "t") == 0.5 and parse_limit("1.5", "t") == 1.5
    assert parse_budget_expr("rom_bytes <= 128kB", "cli").limit == 128_000
    for bad in ("rom_bytes=5", "rom_bytes<=", "<=5", "rom_bytes<=lots"):
        with pytest.raises(UsageError):
            parse_budget_expr(bad, "--mlonmcu-budget")
    with pytest.raises(UsageError, match="is negative"):
        parse_limit("-1", "t")
    rule = parse_fail_on("*:+5%")
    assert (rule.metric, rule.amount, rule.percent, rule.allowed(1000)) == ("*", 5.0, True, 50.0)
    assert parse_fail_on("rom_bytes:+1KiB").allowed(10) == 1024
    for bad in ("rom_bytes", "rom_bytes:-5%", "rom_bytes:+x%", ":+5%"):
        with pytest.raises(UsageError):
            parse_fail_on(bad)


@pytest.mark.parametrize("value", ["inf", "nan", "1e999", "-inf", float("nan"), float("inf")])
def test_budgets_and_allowances_are_finite(value):
    """A NaN budget passed every run (``x <= nan`` is false, ``nan < 0`` too): rejected."""
    with pytest.raises(UsageError) as info:
        parse_limit(value, "mlonmcu.yml budgets['*'] rom_bytes")
    assert str(info.value).startswith(f"mlonmcu.yml budgets['*'] rom_bytes: {value!r}")
    with pytest.raises(UsageError, match="--mlonmcu-budget"):
        parse_budget_expr(f"rom_bytes<={value}", "--mlonmcu-budget")
    with pytest.raises(UsageError, match="--mlonmcu-fail-on"):
        parse_fail_on(f"rom_bytes:+{value}")


@pytest.mark.parametrize("rule", ["rom_bytes:+nan%", "rom_bytes:+inf%", "*:+-5%", "*:+1e999%"])
def test_percent_allowances_are_finite_and_not_negative(rule):
    with pytest.raises(UsageError, match="N is a finite percentage >= 0"):
        parse_fail_on(rule)


def test_marker_budget_fails_exactly_that_test(fake_project, run_session):
    fake_project.makepyfile(test_m=MARKED_TESTS)
    write_metrics(
        fake_project,
        {
            rid("m1"): {"rom_bytes": 140_312, "invoke_instructions": 1_000_000},
            rid("m2"): {"rom_bytes": 120_000, "invoke_instructions": 1_500_000},
        },
    )
    session = run_session(*FAKE, models_arg("m1", "m2"))
    session.result.assert_outcomes(passed=3, failed=1)
    message = "budget exceeded: rom_bytes = 140,312 > 128,000 (+9.6%) [from @pytest.mark.budget]"
    failed = session.record(nodeid("m1", test="test_marked"))
    assert failed["outcome"] == "failed" and failed["reason"] == message
    assert failed["gate_failures"] == [message]
    assert failed["budgets"] == [
        {
            "metric": "rom_bytes",
            "limit": 128_000,
            "value": 140_312,
            "ok": False,
            "source": "@pytest.mark.budget",
            "note": "",
        },
        {
            "metric": "invoke_instructions",
            "limit": 2_000_000,
            "value": 1_000_000,
            "ok": True,
            "source": "@pytest.mark.budget",
            "note": "",
        },
    ]
    passed = session.record(nodeid("m2", test="test_marked"))
    assert passed["outcome"] == "passed" and [b["ok"] for b in passed["budgets"]] == [True, True]
    for model in ("m1", "m2"):  # the unmarked test of the same run is not affected
        plain = session.record(nodeid(model, test="test_plain"))
        assert plain["outcome"] == "passed" and plain["budgets"] == []
    # The failure is the test's own (call phase), with the message and no traceback.
    session.result.stdout.fnmatch_lines(
        [
            f"FAILED test_m.py::test_marked[[]{rid('m1')}[]] - *{message.replace('[', '[[]')}",
        ]
    )
    assert "Traceback" not in session.output
    gates = session.section("mlonmcu gates")
    assert "budgets: 4 in 2 runs, 1 exceeded, 0 not checked" in gates
    assert f"FAILED {rid('m1')}: {message}" in gates


def test_yml_patterns_cli_and_ini_budgets_all_apply(fake_project, run_session):
    fake_project.makepyfile(test_m=BENCH_TEST)
    fake_project.makefile(
        ".yml",
        mlonmcu="""
budgets:
  "m1-*":
    invoke_instructions: 1M
  "*-fakec-*":
    ram_bytes: 64KiB
""",
    )
    fake_project.makeini("[pytest]\nmlonmcu_budget = rom_bytes<=0x10000\n")
    base = {"invoke_instructions": 1_000_000, "ram_bytes": 65_536, "rom_bytes": 50_000}
    write_metrics(
        fake_project,
        {
            rid("m1"): {**base, "invoke_instructions": 1_000_001},  # > 1M (decimal)
            rid("m2"): {**base, "invoke_instructions": 5_000_000},  # no pattern: fine
            rid("m1", "fakec"): base,  # exactly at both limits: fine
            rid("m2", "fakec"): {**base, "ram_bytes": 70_000, "rom_bytes": 65_537},
        },
    )
    both = ("--mlonmcu-backend=fakeb,fakec", "--mlonmcu-target=fakesim")
    session = run_session(models_arg("m1", "m2"), *both, "--mlonmcu-models-dir=models")
    session.result.assert_outcomes(passed=2, failed=2)
    m1 = session.record(nodeid("m1"))
    assert m1["reason"] == (
        "budget exceeded: invoke_instructions = 1,000,001 > 1,000,000 (+0.0%) "
        "[from mlonmcu.yml budgets['m1-*']]"
    )
    # Budgets of different sources are separate gates: both fail this run.
    m2c = session.record(nodeid("m2", "fakec"))
    assert m2c["gate_failures"] == [
        "budget exceeded: ram_bytes = 70,000 > 65,536 (+6.8%) [from mlonmcu.yml budgets['*-fakec-*']]",
        "budget exceeded: rom_bytes = 65,537 > 65,536 (+0.0%) [from ini mlonmcu_budget]",
    ]
    assert session.record(nodeid("m1", "fakec"))["outcome"] == "passed"  # at the limits
    assert session.record(nodeid("m2"))["outcome"] == "passed"

    # --mlonmcu-budget replaces the ini key (command line > ini), like every option.
    cli = run_session(
        models_arg("m2"), *both, "--mlonmcu-models-dir=models", "--mlonmcu-budget",
        "ram_bytes<=1MiB", "--mlonmcu-budget", "invoke_instructions<=4.9M",
    )  # fmt: skip
    cli.result.assert_outcomes(failed=2)
    assert cli.record(nodeid("m2", "fakec"))["gate_failures"] == [
        "budget exceeded: ram_bytes = 70,000 > 65,536 (+6.8%) [from mlonmcu.yml budgets['*-fakec-*']]",
    ]
    assert cli.record(nodeid("m2"))["reason"] == (
        "budget exceeded: invoke_instructions = 5,000,000 > 4,900,000 (+2.0%) "
        "[from --mlonmcu-budget]"
    )
    assert [b["source"] for b in cli.record(nodeid("m2"))["budgets"]] == ["--mlonmcu-budget"] * 2


def test_budget_on_a_metric_the_run_does_not_produce_fails(fake_project, run_session):
    fake_project.makepyfile(test_m=BENCH_TEST)
    write_metrics(fake_project, {rid("m1"): {"rom_bytes": 1000, "invoke_instructions": 10}})
    session = run_session(*FAKE, models_arg("m1"), "--mlonmcu-budget=stak_bytes<=4KiB")
    session.result.assert_outcomes(failed=1)
    assert session.runs[0]["reason"] == (
        "budget on a metric this run does not produce: stak_bytes (budget 4,096) "
        "[from --mlonmcu-budget]; it measured: invoke_instructions, macs, model_ops, param_bytes, "
        "rom_bytes"
    )
    assert session.runs[0]["budgets"][0]["ok"] is False

    # A run stopped early on purpose (--mlonmcu-until) is not held to what it never measured.
    early = run_session(
        *FAKE, models_arg("m1"), "--mlonmcu-budget=stak_bytes<=4KiB", "--mlonmcu-until=compile"
    )
    early.result.assert_outcomes(passed=1)
    (check,) = early.runs[0]["budgets"]
    assert check["ok"] is None and check["note"] == "not measured: the run stopped after compile"
    assert "1 not checked" in early.section("mlonmcu gates")


def test_bad_budgets_are_usage_errors_or_failures(fake_project, run_session):
    fake_project.makepyfile(
        test_m="""
        import pytest

        @pytest.mark.budget(rom_bytes="lots")
        def test_bench(mlonmcu_run):
            mlonmcu_run.process()
        """
    )
    write_metrics(fake_project, {rid("m1"): {"rom_bytes": 1}})
    usage = run_session(*FAKE, models_arg("m1"), "--mlonmcu-budget=rom_bytes=5")
    assert usage.ret == int(pytest.ExitCode.USAGE_ERROR)
    assert "'rom_bytes=5' is not METRIC<=VALUE (e.g. rom_bytes<=128kB)" in usage.output
    marker = run_session(*FAKE, models_arg("m1"))
    marker.result.assert_outcomes(failed=1)
    assert marker.runs[0]["reason"] == (
        "@pytest.mark.budget(rom_bytes='lots'): 'lots' is not a number or a size "
        "(e.g. 30M, 128kB, 64KiB)"
    )
