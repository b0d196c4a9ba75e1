"""Typos and out-of-range numbers in a real session: usage errors that name the cause.

A mistake in mlonmcu.yml, the ini file, --mlonmcu-config or a board entry stops the session
before anything runs (exit code 4, the nearest known key suggested); a number out of range is
found where it is read and fails only its own test; a typo in a configure_run hook fails the
test it configures.
"""

from __future__ import annotations

import pytest
from spine import conftest as spine
from spine.conftest import BENCH_TEST, FAST, HOST, TFLMI, TOYCAR

# The spine's session fixtures (a pytester subprocess with the per-user cache).
run_plugin = spine.run_plugin
zoo_toycar = spine.zoo_toycar

USAGE_ERROR = int(pytest.ExitCode.USAGE_ERROR)
RUN_ID = "zoo_toycar-tflmi-host_x86"


def _usage_error(session, message: str) -> None:
    assert session.ret == USAGE_ERROR, session.output
    assert message in session.output
    assert "INTERNALERROR" not in session.output and "passed" not in session.result.stdout.str()


def test_yml_typo_modles_is_a_usage_error_naming_models(pytester, run_plugin):
    """Acceptance (issue 13): it used to run the default matrix without a word."""
    pytester.makefile(".yml", mlonmcu="modles: [toycar]\n")
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin(TFLMI, HOST)
    _usage_error(session, "mlonmcu.yml: unknown key 'modles'; did you mean models? known keys: ")
    assert session.report is None  # nothing ran, no report of a default matrix


def test_yml_target_suggests_targets(pytester, run_plugin):
    pytester.makefile(".yml", mlonmcu="target: host_x86\n")
    pytester.makepyfile(test_m=BENCH_TEST)
    _usage_error(run_plugin("--collect-only"), "unknown key 'target'; did you mean targets?")


@pytest.mark.parametrize(
    ("source", "origin"),
    [("cli", "--mlonmcu-config"), ("ini", "ini mlonmcu_config"), ("yml", "mlonmcu.yml config")],
)
def test_config_key_typo_is_a_usage_error_in_every_source(pytester, run_plugin, source, origin):
    pytester.makepyfile(test_m=BENCH_TEST)
    args = []
    if source == "cli":
        args = ["--mlonmcu-config=tflmi.arenasize=4096"]
    elif source == "ini":
        pytester.makeini("[pytest]\nmlonmcu_config =\n    tflmi.arenasize=4096\n")
    else:
        pytester.makefile(".yml", mlonmcu="config:\n  tflmi:\n    arenasize: 4096\n")
    session = run_plugin(*FAST, "--collect-only", *args)
    _usage_error(
        session,
        f"{origin}: unknown key 'tflmi.arenasize'; did you mean tflmi.arena_size? "
        "known keys of tflmi: arena_size, debug_log",
    )


def test_unknown_component_lists_the_components(pytester, run_plugin):
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin(*FAST, "--collect-only", "--mlonmcu-config=tflmx.arena_size=4096")
    _usage_error(
        session, "unknown component 'tflmx' in 'tflmx.arena_size'; did you mean tflmi.arena_size? "
    )
    assert "known components: " in session.output and "validation" in session.output


USER_COMPONENT = """
from pytest_mlonmcu.targets.host_x86 import HostX86


class Mine(HostX86):
    name = "mine"
    config_keys = {**HostX86.config_keys, "flavour": "plain"}


def pytest_mlonmcu_register(backends, targets):
    targets.register(Mine)
"""


def test_user_components_declare_their_keys(pytester, run_plugin):
    pytester.makeconftest(USER_COMPONENT)
    pytester.makepyfile(test_m=BENCH_TEST)
    args = (TOYCAR, TFLMI, "--mlonmcu-target=mine", "--collect-only", "-q")
    accepted = run_plugin(*args, "--mlonmcu-config=mine.flavour=salty,mine.timeout=5")
    assert accepted.ret == 0, accepted.output
    assert accepted.collected() == ["zoo_toycar-tflmi-mine"]
    rejected = run_plugin(*args, "--mlonmcu-config=mine.flavor=salty")
    _usage_error(rejected, "unknown key 'mine.flavor'; did you mean mine.flavour?")


HOOK_TYPO = """
def pytest_mlonmcu_configure_run(config, case):
    if case.model == "bad":
        config.set("tflmi.arenasize", 4096)
"""


def test_configure_run_hook_typo_fails_its_test(pytester, run_plugin, zoo_toycar):
    models = pytester.path / "models"
    for name in ("bad", "good"):
        (models / name).mkdir(parents=True)
        (models / name / f"{name}.tflite").write_bytes(zoo_toycar.read_bytes())
    pytester.makeconftest(HOOK_TYPO)
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin(
        "--mlonmcu-model=bad,good", "--mlonmcu-models-dir=models", TFLMI, HOST,
        "--mlonmcu-until=load",
    )  # fmt: skip
    session.result.assert_outcomes(passed=1, errors=1)
    assert (
        "RunConfig.set('tflmi.arenasize', 4096): unknown key 'tflmi.arenasize'; "
        "did you mean tflmi.arena_size?" in session.output
    )
    assert session.record("good-tflmi-host_x86")["outcome"] == "passed"
    assert session.record("bad-tflmi-host_x86")["outcome"] == "failed"


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("host_x86.timeout=inf", "host_x86.timeout='inf': expected a timeout in seconds"),
        ("host_x86.timeout=1e999", "host_x86.timeout='1e999': expected a timeout in seconds"),
        ("tflmi.arena_size=-4096", "tflmi.arena_size='-4096': expected a positive integer"),
        ("run.samples=0", "run.samples='0': expected a positive integer"),
        ("run.seed=-1", "run.seed='-1': expected a non-negative integer"),
        ("run.invoke_runs=nan", "run.invoke_runs='nan' is not an integer"),
    ],
)
def test_numbers_out_of_range_fail_their_test_naming_key_and_value(
    pytester, run_plugin, setting, message
):
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin(*FAST, f"--mlonmcu-config={setting}")
    session.result.assert_outcomes(failed=1)
    record = session.record(RUN_ID)
    assert message in record["reason"], record["reason"]
    assert "Traceback" not in record["reason"] and "INTERNALERROR" not in session.output


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "baud: fast",  # was an INTERNALERROR (a raw ValueError)
            "mlonmcu.yml: board my_f4: baud='fast' is not an integer",
        ),
        (
            "bauds: 9600",
            "mlonmcu.yml: board my_f4: unknown key bauds (did you mean baud?); known keys: ",
        ),
        ("rom: -1MiB", "mlonmcu.yml: board my_f4 rom: '-1MiB' is not a size"),
    ],
)
def test_board_entry_mistakes_are_usage_errors(pytester, run_plugin, entry, message):
    pytester.makefile(".yml", mlonmcu=f"boards:\n  my_f4:\n    base: stm32f4\n    {entry}\n")
    pytester.makepyfile(test_m=BENCH_TEST)
    _usage_error(run_plugin(*FAST, "--collect-only"), message)
