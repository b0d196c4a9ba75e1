"""Host runners (tflmi through the tflite-micro wheel) and the reference: an operator the
wheel lacks is named with TFLM's own words, a failing callgrind setup run is a RunError, and
run.invoke_runs invokes each sample that many times."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import tflite

from pytest_mlonmcu.backends import register_builtin_backends
from pytest_mlonmcu.backends.tflmi.backend import TflmiBackend
from pytest_mlonmcu.core.cache import Cache, default_cache_root
from pytest_mlonmcu.core.case import Case
from pytest_mlonmcu.core.config import RunConfig
from pytest_mlonmcu.core.errors import RunError, UnsupportedOperatorError
from pytest_mlonmcu.models.model import Model, ModelResolver
from pytest_mlonmcu.reference import reference_arena
from pytest_mlonmcu.run import Run
from pytest_mlonmcu.targets import register_builtin_targets
from pytest_mlonmcu.targets.host_x86 import HostX86

from .model_edits import MLPERF_DIR, mlperf_bytes, set_builtin_code

USER_CACHE = default_cache_root()
TOPK_V2 = tflite.BuiltinOperator.TOPK_V2  # a TFLite builtin that TFLM does not implement


@pytest.fixture
def topk_model(tmp_path: Path) -> Model:
    """toycar with its FULLY_CONNECTED operators turned into TOPK_V2 (one operator code)."""
    path = tmp_path / "topk.tflite"
    path.write_bytes(set_builtin_code(mlperf_bytes("toycar"), 0, TOPK_V2))
    return Model("topk", path, "file")


def test_host_tflmi_names_the_operator_the_wheel_lacks(tmp_path, topk_model):
    cache = Cache(tmp_path / "cache")
    backend = TflmiBackend(RunConfig().scoped("tflmi"), cache)
    target = HostX86(RunConfig().scoped("host_x86"), cache)
    with pytest.raises(UnsupportedOperatorError) as err:
        backend.build(topk_model, target, tmp_path / "build")
    assert (err.value.op, err.value.index) == ("TOPK_V2", 0)
    message = str(err.value)
    assert message.startswith(
        f"{topk_model.path}: tflmi (tflite-micro wheel): operator TOPK_V2 (operator index 0) "
        "is not supported; TFLM says:\n"
    )
    assert "Didn't find op for builtin opcode 'TOPK_V2'" in message
    assert "256 MiB" not in message  # no arena search to the end


def test_the_reference_names_the_operator_the_wheel_lacks(tmp_path, topk_model):
    with pytest.raises(UnsupportedOperatorError) as err:
        reference_arena(topk_model, Cache(tmp_path / "cache"))
    assert str(err.value).startswith(f"reference: {topk_model.path}: tflmi (tflite-micro wheel)")
    assert "Didn't find op for builtin opcode 'TOPK_V2'" in str(err.value)


def _run(tmp_path: Path, model: str, **config: str) -> Run:
    register_builtin_backends()
    register_builtin_targets()
    if not (MLPERF_DIR / model).is_dir():
        pytest.skip(f"MLPerf Tiny model {model} not found in {MLPERF_DIR}")
    cache = Cache(USER_CACHE)
    return Run(
        case=Case(model, "tflmi", "host_x86"),
        config=RunConfig(config),
        resolver=ModelResolver([MLPERF_DIR], cache),
        cache=cache,
        artifacts_dir=tmp_path / "out",
    )


def _needs_valgrind() -> None:
    if shutil.which("valgrind") is None:
        pytest.skip("valgrind is not installed")


def test_an_arena_too_small_fails_the_run_with_tflm_words(tmp_path):
    run = _run(tmp_path, "toycar", **{"tflmi.arena_size": "1024", "host_x86.callgrind": "false"})
    with pytest.raises(RunError) as err:
        run.process(until="run")
    message = str(err.value)
    assert message.startswith("host_x86: the harness reported: an arena of 1024 bytes is too small")
    assert "Failed to allocate tail memory" in message


def test_a_failing_callgrind_setup_run_is_a_run_error(tmp_path):
    """Before: the setup run's failure was ignored (and showed up later, or as a bare
    ValueError from the missing profile)."""
    _needs_valgrind()
    run = _run(tmp_path, "toycar", **{"tflmi.arena_size": "1024"})
    with pytest.raises(RunError) as err:
        run.process(until="run")
    message = str(err.value)
    assert message.startswith(
        "the setup run failed: host_x86: the harness reported: an arena of 1024 bytes is too small"
    )
    assert "--- output tail ---" in message and "--- reproduce ---\nvalgrind " in message
    assert " setup " in message.rsplit("--- reproduce ---", 1)[1]


def test_a_setup_run_killed_by_a_signal_names_the_signal(tmp_path):
    """The wheel's AllocateTensors crashes with a 64-byte arena (SIGSEGV)."""
    _needs_valgrind()
    run = _run(tmp_path, "toycar", **{"tflmi.arena_size": "64"})
    with pytest.raises(RunError, match=r"killed by signal 11\b"):
        run.process(until="run")


def test_invoke_runs_invokes_each_sample_that_often_on_the_host(tmp_path):
    _needs_valgrind()
    run = _run(tmp_path, "toycar", **{"run.invoke_runs": "3", "run.samples": "2"})
    run.process()  # validated: the outputs after the last invoke equal the reference
    log = (tmp_path / "out" / "run" / "run.log").read_text().splitlines()
    invokes = [line for line in log if line.startswith("MLIF invoke")]
    assert invokes == [f"MLIF invoke {s} {r} 0 -" for s in range(2) for r in range(3)]
    dumps = list((tmp_path / "out" / "run").glob("callgrind.out.*.*"))
    assert len(dumps) == 6  # one profile per measured invoke
    m = run.metrics
    assert m["validation_passed"] is True
    assert m["invoke_instructions"] > 0 and m["setup_instructions"] > 0
    assert m["invoke_instructions_max"] >= m["invoke_instructions_mean"] > 0


def test_an_arena_that_crashes_the_wheel_does_not_end_the_search():
    """The zoo's aww crashes the wheel's AllocateTensors (SIGSEGV) with a 4096-byte arena, the
    search's first try: each try now runs in a forked child, and a crash counts as too small.
    Before, every run of zoo:aww failed in the reference stage."""
    from pytest_mlonmcu.backends.tflmi import runner

    data = ModelResolver([], Cache(USER_CACHE)).resolve("zoo:aww").path.read_bytes()
    crashed = runner._attempt(data, 4096)
    assert crashed is not None and "the interpreter crashed (signal 11)" in crashed
    arena = runner.smallest_arena(data)
    assert runner._attempt(data, arena) is None
    assert runner._attempt(data, arena - runner.ARENA_ALIGN) is not None
