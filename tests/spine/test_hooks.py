"""The plugin's hooks: register components, configure a run, add metrics."""

from __future__ import annotations

import pytest

from .conftest import BENCH_TEST, HOST, NO_CALLGRIND, TFLMI, TOYCAR

REGISTER = """
from pytest_mlonmcu.backends.tflmi.backend import TflmiBackend
from pytest_mlonmcu.targets.host_x86 import HostX86


class HostCopy(HostX86):
    name = "host_copy"
    description = "host_x86 under another name"


class TflmiCopy(TflmiBackend):
    name = "tflmi_copy"

    def build(self, model, target, work_dir):
        artifact = super().build(model, target, work_dir)
        artifact.metrics["built_by"] = self.name
        return artifact


def pytest_mlonmcu_register(backends, targets):
    targets.register(HostCopy)
    backends.register(TflmiCopy)
"""

ADD_METRICS = """
def pytest_mlonmcu_add_metrics(run):
    return {
        "macs_per_output_value": run.metrics["macs"] // run.model.metadata.outputs[0].size,
        "hook_saw_validation": run.validation.passed,
        "hook_saw_outputs": len(run.outputs),
    }
"""


def test_registered_components_join_the_matrix_and_run(pytester, run_plugin):
    pytester.makeconftest(REGISTER)
    pytester.makepyfile(test_m=BENCH_TEST)
    collect = run_plugin(
        "--collect-only", "-q", TOYCAR, "--mlonmcu-backend=tflmi_copy,tflmi",
        "--mlonmcu-target=host_copy",
    )  # fmt: skip
    assert collect.collected() == ["zoo_toycar-tflmi_copy-host_copy", "zoo_toycar-tflmi-host_copy"]

    session = run_plugin(
        TOYCAR, "--mlonmcu-backend=tflmi_copy", "--mlonmcu-target=host_copy",
        "--mlonmcu-config=host_copy.callgrind=false",
    )  # fmt: skip
    session.result.assert_outcomes(passed=1)
    record = session.record("zoo_toycar-tflmi_copy-host_copy")
    assert (record["backend"], record["target"]) == ("tflmi_copy", "host_copy")
    assert record["metrics"]["built_by"] == "tflmi_copy"
    assert record["metrics"]["validation_passed"] is True


def test_registered_components_are_known_names(pytester, run_plugin):
    pytester.makeconftest(REGISTER)
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin("--collect-only", TOYCAR, "--mlonmcu-backend=nope", HOST)
    assert session.ret == int(pytest.ExitCode.USAGE_ERROR)
    known = session.result.stderr.str().split("known backends: ", 1)[1].splitlines()[0]
    assert "tflmi_copy" in known.split(", ")
    listing = run_plugin("--collect-only", "--mlonmcu-list", TOYCAR, TFLMI, HOST)
    listing.result.stdout.fnmatch_lines(
        ["backends:", "  tflmi_copy *", "targets:", "  host_copy *host_x86 under another name"],
        consecutive=False,
    )


def test_registering_a_taken_name_is_a_usage_error(pytester, run_plugin):
    pytester.makeconftest(
        """
        from pytest_mlonmcu.backends.tflmi.backend import TflmiBackend

        class Impostor(TflmiBackend):
            name = "tflmi"

        def pytest_mlonmcu_register(backends, targets):
            backends.register(Impostor)
        """
    )
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin("--collect-only", TOYCAR, TFLMI, HOST)
    assert "backend 'tflmi' is registered twice" in session.output
    assert session.ret == int(pytest.ExitCode.USAGE_ERROR)


def test_add_metrics_hook_reaches_the_json(pytester, run_plugin):
    pytester.makeconftest(ADD_METRICS)
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin(TOYCAR, TFLMI, HOST, NO_CALLGRIND, junit=True)
    session.result.assert_outcomes(passed=1)
    metrics = session.record("zoo_toycar-tflmi-host_x86")["metrics"]
    assert metrics["macs_per_output_value"] == 264192 // 640
    assert metrics["hook_saw_validation"] is True
    assert metrics["hook_saw_outputs"] == 2
    props = session.junit_properties()["test_bench[zoo_toycar-tflmi-host_x86]"]
    assert props["macs_per_output_value"] == str(264192 // 640)


def test_add_metrics_hook_runs_without_validation(pytester, run_plugin):
    pytester.makeconftest("def pytest_mlonmcu_add_metrics(run):\n    return {'extra': 1}\n")
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin(
        TOYCAR, TFLMI, HOST, NO_CALLGRIND, "--mlonmcu-config=validation.enabled=false"
    )
    session.result.assert_outcomes(passed=1)
    assert session.record("zoo_toycar-tflmi-host_x86")["metrics"].get("extra") == 1


def test_configure_run_hook_changes_one_case(pytester, run_plugin):
    pytester.makeconftest(
        """
        def pytest_mlonmcu_configure_run(config, case):
            if case.model == "zoo:toycar":
                config.set("tflmi.arena_size", 32768)
        """
    )
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin("--mlonmcu-model=zoo:toycar,toycar", TFLMI, HOST, "--mlonmcu-until=build")
    session.result.assert_outcomes(passed=2)
    assert session.record("zoo_toycar-tflmi-host_x86")["metrics"]["arena_bytes"] == 32768
    searched = session.record("toycar-tflmi-host_x86")["metrics"]["arena_bytes"]
    assert searched != 32768 and searched > 0


def test_configure_run_hook_overrides_the_command_line(pytester, run_plugin):
    pytester.makeconftest(
        "def pytest_mlonmcu_configure_run(config, case):\n"
        "    config.set('tflmi.arena_size', 20000)\n"
    )
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin(
        TOYCAR, TFLMI, HOST, "--mlonmcu-until=build", "--mlonmcu-config=tflmi.arena_size=65536"
    )
    assert session.record("zoo_toycar-tflmi-host_x86")["metrics"]["arena_bytes"] == 20000


FEATURES = """
from pytest_mlonmcu.core.components import Feature


class FastMath(Feature):
    name = "fast_math"


class Never(Feature):
    name = "never"

    @classmethod
    def incompatibility(cls, backend, target):
        return f"{backend.name} cannot do it"


def pytest_mlonmcu_register(backends, targets, features):
    features.register(FastMath)
    features.register(Never)
"""
FEATURE_TEST = """
import pytest


def test_bench(mlonmcu_run):
    assert mlonmcu_run.backend.features == mlonmcu_run.target.features == ("fast_math",)
    assert mlonmcu_run.config.get("run.features") == "fast_math"
    mlonmcu_run.process(until="load")


@pytest.mark.mlonmcu(features=[])
def test_without_features(mlonmcu_run):
    assert mlonmcu_run.backend.features == ()
"""


def test_registered_feature_reaches_ids_and_components(pytester, run_plugin):
    pytester.makeconftest(FEATURES)
    pytester.makepyfile(test_m=FEATURE_TEST)
    session = run_plugin(TOYCAR, TFLMI, HOST, "--mlonmcu-feature=fast_math")
    session.result.assert_outcomes(passed=2)
    record = session.record("zoo_toycar-tflmi-host_x86-fast_math", "test_bench")
    assert record["features"] == ["fast_math"]
    assert session.record("zoo_toycar-tflmi-host_x86", "test_without_features")["features"] == []


def test_unknown_feature_is_a_usage_error(pytester, run_plugin):
    pytester.makeconftest(FEATURES)
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin("--collect-only", TOYCAR, TFLMI, HOST, "--mlonmcu-feature=turbo")
    assert session.ret == int(pytest.ExitCode.USAGE_ERROR), session.output
    known = session.output.split("unknown feature 'turbo'; known features: ", 1)[1]
    assert {"fast_math", "never"} <= set(known.splitlines()[0].split(", "))


def test_incompatible_feature_fails_collection_with_the_reason(pytester, run_plugin):
    pytester.makeconftest(FEATURES)
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin("--collect-only", TOYCAR, TFLMI, HOST, "--mlonmcu-feature=never")
    assert session.ret not in (0, int(pytest.ExitCode.INTERNAL_ERROR)), session.output
    assert "feature never with tflmi on host_x86: tflmi cannot do it" in session.output
