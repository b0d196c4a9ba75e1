"""The matrix: ids, the cross product, unsupported pairs and unknown names."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from .conftest import BENCH_TEST, HOST, NO_CALLGRIND, TFLMI, USER_CACHE

USAGE_ERROR = int(pytest.ExitCode.USAGE_ERROR)

EXTRA_COMPONENTS = """
from pytest_mlonmcu.backends.tflmi.backend import TflmiBackend
from pytest_mlonmcu.targets.host_x86 import HostX86


class HostCopy(HostX86):
    name = "host_copy"


class TflmiCopy(TflmiBackend):
    name = "tflmi_copy"


class RiscvOnly(TflmiBackend):
    name = "rv_only"
    families = frozenset({"riscv"})


def pytest_mlonmcu_register(backends, targets):
    targets.register(HostCopy)
    backends.register(TflmiCopy)
    backends.register(RiscvOnly)
"""


@pytest.mark.parametrize(
    ("model", "case_id"),
    [
        ("toycar", "toycar-tflmi-host_x86"),
        ("zoo:toycar", "zoo_toycar-tflmi-host_x86"),
        ("some/dir/x.tflite", "x-tflmi-host_x86"),
        ("/abs/models/resnet_v2.tflite", "resnet_v2-tflmi-host_x86"),
    ],
)
def test_case_ids(pytester, run_plugin, model, case_id):
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin("--collect-only", "-q", f"--mlonmcu-model={model}", TFLMI, HOST)
    assert session.ret == 0, session.output
    assert session.collected() == [case_id]


def test_matrix_is_the_cross_product_targets_first(pytester, run_plugin):
    pytester.makeconftest(EXTRA_COMPONENTS)
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin(
        "--collect-only",
        "-q",
        "--mlonmcu-model=m1,m2",
        "--mlonmcu-backend=tflmi,tflmi_copy",
        "--mlonmcu-target=host_x86,host_copy",
    )
    assert session.ret == 0, session.output
    assert session.collected() == [
        f"{m}-{b}-{t}"
        for t in ("host_x86", "host_copy")
        for b in ("tflmi", "tflmi_copy")
        for m in ("m1", "m2")
    ]


def test_default_backends_leave_out_unsupported_pairs(pytester, run_plugin):
    pytester.makeconftest(EXTRA_COMPONENTS)
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin("--collect-only", "-q", "--mlonmcu-model=m1", HOST)
    ids = session.collected()
    assert "m1-tflmi-host_x86" in ids and "m1-tflmi_copy-host_x86" in ids
    assert not [i for i in ids if "rv_only" in i]


def test_explicit_unsupported_backend_is_shown_and_skipped(pytester, run_plugin):
    pytester.makeconftest(EXTRA_COMPONENTS)
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin("--mlonmcu-model=zoo:toycar", "--mlonmcu-backend=rv_only", HOST)
    session.result.assert_outcomes(skipped=1)
    record = session.record("zoo_toycar-rv_only-host_x86")
    assert record["outcome"] == "skipped"
    assert record["reason"] == (
        "backend rv_only does not support target host_x86 (family x86; supported: riscv)"
    )


@pytest.mark.parametrize(
    ("option", "kind", "known"),
    [
        ("--mlonmcu-backend=tflmi,nope", "backend", "tflmi"),
        ("--mlonmcu-target=nope", "target", "host_x86"),
    ],
)
def test_unknown_component_is_a_usage_error_listing_known_ones(
    pytester, run_plugin, option, kind, known
):
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin("--mlonmcu-model=zoo:toycar", option)
    assert session.ret == USAGE_ERROR, session.output
    err = session.result.stderr.str()
    assert f"unknown {kind} 'nope'; known {kind}s: " in err
    known_list = err.split(f"known {kind}s: ", 1)[1].splitlines()[0].split(", ")
    assert known in known_list
    assert "nope" not in known_list


def test_unknown_backend_in_a_marker_names_the_known_backends(pytester, run_plugin):
    pytester.makepyfile(
        test_m="""
        import pytest

        @pytest.mark.mlonmcu(backends=["nope"])
        def test_bench(mlonmcu_run):
            pass
        """
    )
    session = run_plugin("--mlonmcu-model=zoo:toycar", HOST)
    assert session.ret not in (0, int(pytest.ExitCode.INTERNAL_ERROR)), session.output
    assert "unknown backend 'nope'; known backends: " in session.output


def test_models_with_the_same_stem_keep_separate_artifacts(pytester, run_plugin, toycar_copy: Path):
    other = pytester.path / "other" / toycar_copy.name
    other.parent.mkdir()
    shutil.copyfile(toycar_copy, other)
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin(f"--mlonmcu-model={toycar_copy},{other}", TFLMI, HOST, NO_CALLGRIND)
    session.result.assert_outcomes(passed=2)
    assert len({r["artifacts"] for r in session.runs}) == 2
    assert len({r["id"] for r in session.runs}) == 2


def test_extra_parametrization_keeps_separate_artifacts(pytester, run_plugin):
    pytester.makepyfile(
        test_m="""
        import pytest

        @pytest.mark.parametrize("variant", ["a", "b"])
        def test_bench(mlonmcu_run, variant):
            mlonmcu_run.process(until="load")
        """
    )
    session = run_plugin("--mlonmcu-model=zoo:toycar", TFLMI, HOST)
    session.result.assert_outcomes(passed=2)
    assert len({r["artifacts"] for r in session.runs}) == 2


ORDER_TEST = """
def test_bench(mlonmcu_case):
    with open("order.txt", "a") as f:
        f.write(mlonmcu_case.id + "\\n")
"""


@pytest.mark.parametrize("workers", ["0", "1"])
def test_xdist_hands_out_the_runs_known_to_be_longest_first(pytester, run_plugin, workers):
    # Earlier sessions' seconds (farm.py): m2 was long, m1 short, m3 never ran.
    cache = pytester.path / "cache"
    cache.mkdir()
    (cache / "run-seconds.json").write_text(
        json.dumps({"m1-tflmi-host_x86": [0.5, 1], "m2-tflmi-host_x86": [9.0, 1]})
    )
    pytester.makepyfile(test_o=ORDER_TEST)
    session = run_plugin("-n", workers, "--mlonmcu-model=m1,m2,m3", TFLMI, HOST, cache=cache)
    assert session.ret == 0, session.output
    order = (pytester.path / "order.txt").read_text().split()
    # Without workers the collection order stays; a worker takes unknown runs, then the longest.
    expected = ["m1", "m2", "m3"] if workers == "0" else ["m3", "m2", "m1"]
    assert order == [f"{m}-tflmi-host_x86" for m in expected]


def test_a_sessions_run_seconds_are_kept_for_the_next(pytester, run_plugin, zoo_toycar):
    # A model name of its own: no other session writes this run id's entry.
    name = f"seconds_{time.time_ns()}"
    shutil.copy(zoo_toycar, pytester.path / f"{name}.tflite")
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin(f"--mlonmcu-model={name}.tflite", TFLMI, HOST, NO_CALLGRIND)
    assert session.ret == 0, session.output
    run_id = f"{name}-tflmi-host_x86"
    stages = session.record(run_id)["stages"]
    kept = json.loads((USER_CACHE / "run-seconds.json").read_text())[run_id]
    assert kept[0] == round(sum(s["seconds"] for s in stages.values()), 3) > 0
