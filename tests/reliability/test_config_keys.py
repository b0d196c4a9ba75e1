"""Config keys without a session: known keys, nearest-key suggestions, the declaration audit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_mlonmcu.backends import BACKENDS, register_builtin_backends
from pytest_mlonmcu.core.config import GENERAL_KEYS, RunConfig, check_keys, key_problem, known_keys
from pytest_mlonmcu.core.errors import UsageError
from pytest_mlonmcu.features import FEATURES, register_builtin_features
from pytest_mlonmcu.options import OPTIONS, YML_KEYS, check_yml_keys
from pytest_mlonmcu.targets import TARGETS, register_builtin_targets


@pytest.fixture(scope="module")
def known() -> dict[str, set[str]]:
    register_builtin_backends()
    register_builtin_targets()
    register_builtin_features()
    return known_keys([*BACKENDS, *TARGETS, *FEATURES])


# -- mlonmcu.yml's top level ---------------------------------------------------------------


@pytest.mark.parametrize(("typo", "meant"), [("modles", "models"), ("target", "targets")])
def test_unknown_yml_key_suggests_the_nearest(typo, meant):
    with pytest.raises(UsageError) as info:
        check_yml_keys({typo: ["x"]}, "mlonmcu.yml")
    assert str(info.value).startswith(
        f"mlonmcu.yml: unknown key {typo!r}; did you mean {meant}? known keys: "
    )


def test_every_option_yml_key_and_budgets_are_known():
    check_yml_keys({o.yml_key: None for o in OPTIONS if o.yml_key}, "y")
    check_yml_keys({"budgets": {}, "boards": {}}, "y")
    assert "budgets" in YML_KEYS and "models" in YML_KEYS


def test_unknown_yml_key_without_a_near_one_lists_the_known():
    with pytest.raises(UsageError, match=r"unknown key 'zzz'; known keys: backends, boards"):
        check_yml_keys({"zzz": 1}, "y")


# -- component keys -------------------------------------------------------------------------


def test_keys_of_components_and_general_scopes(known):
    assert {"arena_size", "debug_log"} <= known["tflmi"]
    assert {"timeout", "optimize", "callgrind"} <= known["host_x86"]
    assert {"samples", "seed", "invoke_runs", "features"} <= known["run"]
    assert {"mode", "enabled"} <= known["validation"]
    # etiss is a target and an installer's scope: both declare keys, they merge.
    assert {"arch", "install_dir", "source"} <= known["etiss"]
    assert known["zephyr"] == set(GENERAL_KEYS["zephyr"])
    # Zephyr boards read more than the keys they used to list.
    assert {"baud", "lock_timeout", "flash_timeout", "stack_size", "kconfig"} <= known["mps2_an385"]
    assert known["cmsisnn"] == set()  # a feature without keys


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("tflmi.arenasize", "unknown key 'tflmi.arenasize'; did you mean tflmi.arena_size? "),
        ("run.sample", "unknown key 'run.sample'; did you mean run.samples? "),
        ("host_x86.timout", "did you mean host_x86.timeout? "),
        ("tflmx.arena_size", "unknown component 'tflmx' in 'tflmx.arena_size'; did you mean "),
    ],
)
def test_unknown_keys_are_named_with_the_nearest(known, key, expected):
    problem = key_problem(key, known)
    assert problem is not None and expected in problem


def test_unknown_component_lists_the_components(known):
    problem = key_problem("nosuch.key", known)
    assert problem.startswith("unknown component 'nosuch' in 'nosuch.key'; known components: ")
    assert "tflmi" in problem and "validation" in problem and "host_x86" in problem


def test_known_keys_pass_and_origin_is_named(known):
    check_keys(["tflmi.arena_size", "run.seed", "validation.mode", "etiss.source"], known, "x")
    with pytest.raises(UsageError, match=r"^--mlonmcu-config: unknown key 'tflmi.arena'"):
        check_keys(["run.seed", "tflmi.arena"], known, "--mlonmcu-config")


def test_component_without_declared_keys_says_so():
    class Bare:
        name = "bare"

    problem = key_problem("bare.metrics", known_keys([Bare]))
    assert "known keys of bare: none (its class declares no config_keys)" in problem


def test_run_config_with_known_keys_rejects_a_typo_on_set(known):
    config = RunConfig({"tflmi.arena_size": "4096"}, known)
    copy = config.copy()
    copy.set("tflmi.arena_size", 8192)
    assert copy.get("tflmi.arena_size") == "8192" and config.get("tflmi.arena_size") == "4096"
    with pytest.raises(UsageError, match=r"did you mean tflmi.arena_size\?"):
        copy.set("tflmi.arenasize", 8192)
    assert "tflmi.arenasize" not in copy
    RunConfig().set("anything.goes", 1)  # without known keys (tests, tools): not checked


# -- the audit: every key a built-in component reads is declared ---------------------------

PACKAGE = Path(__file__).resolve().parents[2] / "pytest_mlonmcu"
# self.config.get_int("arena_size"), target.config.get("optimize"), self.setting("baud"),
# self.seconds("flash_timeout"), size_setting(self, "rom_size")
READS = re.compile(
    r"\b(?P<owner>self|backend|target)\.(?:config\.get\w*|setting|seconds)\(\s*[\"'](?P<key>\w+)"
    r"|size_setting\((?P<sized>self|target), [\"'](?P<size_key>\w+)"
)


def _reads(folder: str, kind_of_self: str) -> list[tuple[str, str, str]]:
    """(file, owner kind, key) of every literal key read under pytest_mlonmcu/<folder>
    (``kind_of_self``: what ``self`` is there, backends or targets)."""
    found = []
    for path in sorted((PACKAGE / folder).rglob("*.py")):
        for m in READS.finditer(path.read_text()):
            owner = m.group("owner") or m.group("sized")
            kind = kind_of_self if owner == "self" else f"{owner}s"
            found.append((path.name, kind, m.group("key") or m.group("size_key")))
    return found


def test_every_key_read_by_a_builtin_component_is_declared(known):
    declared = {
        "backends": set().union(*(set(c.config_keys) for c in BACKENDS)),
        "targets": set().union(*(set(c.config_keys) for c in TARGETS)),
    }
    # The platforms' targets (platforms/mlif, platforms/zephyr) read target keys too.
    reads = _reads("backends", "backends") + _reads("targets", "targets")
    reads += _reads("platforms", "targets")
    assert len(reads) > 40  # the pattern still finds the reads
    undeclared = [r for r in reads if r[2] not in declared[r[1]]]
    assert undeclared == []
