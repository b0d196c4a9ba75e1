"""Options, ini keys and mlonmcu.yml: lists, precedence, --mlonmcu-config, --mlonmcu-until."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .conftest import BENCH_TEST, FAST, HOST, TFLMI, TOYCAR

USAGE_ERROR = int(pytest.ExitCode.USAGE_ERROR)

# Components named after the source that selects them, to see which source won.
LEVEL_COMPONENTS = """
from pytest_mlonmcu.backends.tflmi.backend import TflmiBackend
from pytest_mlonmcu.targets.host_x86 import HostX86


def pytest_mlonmcu_register(backends, targets):
    for level in ("yml", "ini", "cli"):
        backends.register(type(f"Be_{level}", (TflmiBackend,), {"name": f"be_{level}"}))
        targets.register(type(f"Tg_{level}", (HostX86,), {"name": f"tg_{level}"}))
"""
LEVELS = ["yml", "ini", "cli"]


def test_model_option_takes_comma_lists_and_repeats(pytester, run_plugin):
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin(
        "--collect-only", "-q", "--mlonmcu-model=m1, m2", "--mlonmcu-model", "m3", TFLMI, HOST
    )
    assert session.ret == 0, session.output
    assert session.collected() == [f"{m}-tflmi-host_x86" for m in ("m1", "m2", "m3")]


def test_ini_keys_select_models_backends_targets(pytester, run_plugin):
    pytester.makeini(
        """
        [pytest]
        mlonmcu_model = m_a, m_b
        mlonmcu_backend = tflmi
        mlonmcu_target = host_x86
        """
    )
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin("--collect-only", "-q")
    assert session.ret == 0, session.output
    assert session.collected() == ["m_a-tflmi-host_x86", "m_b-tflmi-host_x86"]


def test_yml_selects_models_backends_targets(pytester, run_plugin):
    pytester.makefile(
        ".yml",
        mlonmcu="models: [m_a, m_b]\nbackends: tflmi\ntargets: [host_x86]\n",
    )
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin("--collect-only", "-q")
    assert session.ret == 0, session.output
    assert session.collected() == ["m_a-tflmi-host_x86", "m_b-tflmi-host_x86"]


def _write_sources(pytester: pytest.Pytester, upto: str, yml: str, ini: str) -> None:
    """mlonmcu.yml always; the ini file from level "ini" on."""
    pytester.makefile(".yml", mlonmcu=yml)
    if LEVELS.index(upto) >= LEVELS.index("ini"):
        pytester.makeini("[pytest]\n" + ini)


@pytest.mark.parametrize("level", LEVELS)
def test_matrix_precedence_cli_over_ini_over_yml(pytester, run_plugin, level):
    pytester.makeconftest(LEVEL_COMPONENTS)
    pytester.makepyfile(test_m=BENCH_TEST)
    _write_sources(
        pytester,
        level,
        yml="models: [m_yml]\nbackends: [be_yml]\ntargets: [tg_yml]\n",
        ini="mlonmcu_model = m_ini\nmlonmcu_backend = be_ini\nmlonmcu_target = tg_ini\n",
    )
    cli = ["--mlonmcu-model=m_cli", "--mlonmcu-backend=be_cli", "--mlonmcu-target=tg_cli"]
    session = run_plugin("--collect-only", "-q", *(cli if level == "cli" else []))
    assert session.ret == 0, session.output
    assert session.collected() == [f"m_{level}-be_{level}-tg_{level}"]


@pytest.mark.parametrize(("level", "arena"), [("yml", 8192), ("ini", 16384), ("cli", 65536)])
def test_config_precedence_cli_over_ini_over_yml(pytester, run_plugin, level, arena):
    pytester.makepyfile(test_m=BENCH_TEST)
    _write_sources(
        pytester,
        level,
        yml="config:\n  tflmi:\n    arena_size: 8192\n",
        ini="mlonmcu_config =\n    tflmi.arena_size=16384\n",
    )
    cli = ["--mlonmcu-config", "tflmi.arena_size=65536"] if level == "cli" else []
    session = run_plugin(TOYCAR, TFLMI, HOST, "--mlonmcu-until=build", *cli)
    assert session.ret == 0, session.output
    assert session.record("zoo_toycar-tflmi-host_x86")["metrics"]["arena_bytes"] == arena


def test_config_option_reaches_the_interpreter(pytester, run_plugin):
    """The arena is what the TFLM runner reported using, not only what the backend planned."""
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin(*FAST, "--mlonmcu-config", "tflmi.arena_size=65536")
    assert session.ret == 0, session.output
    record = session.record("zoo_toycar-tflmi-host_x86")
    assert record["outcome"] == "passed"
    assert record["metrics"]["arena_bytes"] == 65536
    assert record["metrics"]["validation_passed"] is True
    run_log = Path(record["artifacts"]) / "run" / "run.log"
    assert "MLIF metric arena_bytes 65536" in run_log.read_text()
    saved = json.loads((Path(record["artifacts"]) / "metrics.json").read_text())
    assert saved["config"]["tflmi.arena_size"] == "65536"


def test_config_sources_are_layered_per_key(pytester, run_plugin):
    pytester.makepyfile(test_m=BENCH_TEST)
    pytester.makefile(".yml", mlonmcu="config:\n  tflmi:\n    arena_size: 8192\n")
    session = run_plugin(
        TOYCAR, TFLMI, HOST, "--mlonmcu-until=build", "--mlonmcu-config=run.seed=3"
    )
    assert session.ret == 0, session.output
    assert session.record("zoo_toycar-tflmi-host_x86")["metrics"]["arena_bytes"] == 8192


@pytest.mark.parametrize("item", ["foo", "arena_size=1", ".arena_size=1", "tflmi.=1"])
def test_malformed_config_is_a_usage_error(pytester, run_plugin, item):
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin(*FAST, "--mlonmcu-config", item)
    assert session.ret == USAGE_ERROR, session.output
    assert f"{item!r} is not COMPONENT.KEY=VALUE" in session.output
    assert "passed" not in session.result.stdout.str()


def test_until_build_stops_after_build(pytester, run_plugin):
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin(*FAST, "--mlonmcu-until=build")
    assert session.ret == 0, session.output
    record = session.record("zoo_toycar-tflmi-host_x86")
    assert record["outcome"] == "passed"
    assert list(record["stages"]) == ["load", "tune", "build"]
    assert "arena_bytes" in record["metrics"]  # the build ran
    assert "validation_passed" not in record["metrics"]
    artifacts = Path(record["artifacts"])
    assert (artifacts / "build").is_dir()
    assert not (artifacts / "compile").exists()
    assert not (artifacts / "run").exists()


def test_yml_until_and_out(pytester, run_plugin):
    pytester.makefile(".yml", mlonmcu="until: build\nout: results/runs\n")
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin(*FAST)
    assert session.ret == 0, session.output
    record = session.record("zoo_toycar-tflmi-host_x86")
    assert list(record["stages"]) == ["load", "tune", "build"]
    expected = (
        pytester.path / "results" / "runs" / "zoo_toycar-tflmi-host_x86" / "test_m.test_bench"
    )
    assert Path(record["artifacts"]) == expected
    assert (expected / "metrics.json").is_file()


def test_unknown_until_stage_is_a_usage_error(pytester, run_plugin):
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin(*FAST, "--mlonmcu-until=flash")
    assert session.ret == USAGE_ERROR, session.output
    assert "unknown stage 'flash'" in session.output
    assert "load, tune, build, compile, run, postprocess" in session.output


def test_explicit_yml_path_is_read(pytester, run_plugin):
    pytester.makepyfile(test_m=BENCH_TEST)
    conf = pytester.mkdir("conf") / "bench.yml"
    conf.write_text("models: [m_conf]\nbackends: [tflmi]\ntargets: [host_x86]\n")
    session = run_plugin("--collect-only", "-q", f"--mlonmcu-yml={conf}")
    assert session.ret == 0, session.output
    assert session.collected() == ["m_conf-tflmi-host_x86"]


def test_missing_explicit_yml_is_a_usage_error(pytester, run_plugin):
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin("--collect-only", "--mlonmcu-yml=nowhere.yml")
    assert session.ret == USAGE_ERROR, session.output
    assert "nowhere.yml does not exist" in session.output


def test_invalid_yml_is_a_usage_error(pytester, run_plugin):
    pytester.makepyfile(test_m=BENCH_TEST)
    pytester.makefile(".yml", mlonmcu="models: [unclosed\n")
    session = run_plugin("--collect-only")
    assert session.ret == USAGE_ERROR, session.output
    assert "mlonmcu.yml: invalid YAML" in session.output


def test_list_option_lists_components_and_exits(pytester, run_plugin):
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin(*FAST, "--mlonmcu-list")
    assert session.ret == 0, session.output
    out = session.result.stdout.str()
    backends = out.split("backends:", 1)[1].split("targets:", 1)[0]
    targets = out.split("targets:", 1)[1].split("features:", 1)[0]
    assert re.search(r"^  tflmi +TFLite Micro", backends, re.MULTILINE)
    assert "tflmi.arena_size (default: " in backends
    assert re.search(r"^  host_x86 ", targets, re.MULTILINE)
    assert "  run.samples (default: 2" in out and "  validation.mode (default: " in out
    (models,) = [line for line in session.result.outlines if line.startswith("models: ")]
    assert {"aww", "vww", "resnet", "toycar"} <= set(models[len("models: ") :].split(", "))
    assert session.report is None and "passed" not in out  # nothing ran
