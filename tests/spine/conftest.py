"""Helpers of the spine's tests: run the plugin in a pytester subprocess, read its reports.

Plugin-level tests run pytest in a subprocess (the plugin keeps global registries), with
the built-in zoo's toycar on tflmi/host_x86 without callgrind unless they need counts:
the zoo model and the TFLM reference outputs come from the per-user cache, so a run
takes well under a second once the cache is warm. pytester points HOME at its temporary
directory, so the subprocess is told the per-user cache root explicitly.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_mlonmcu.core.cache import DEFAULT_ROOT_ENV, Cache, default_cache_root
from pytest_mlonmcu.settings import MODELS_DIR_ENV

# Resolved at import, before any pytester fixture has moved HOME.
USER_CACHE = default_cache_root()
REPO = Path(__file__).resolve().parents[2]
MLPERF_DIR = Path(
    os.environ.get("MLONMCU_MODELS_DIR") or REPO.parent / "shared" / "models" / "mlperf_tiny"
)
DATA_DIR = Path(__file__).resolve().parent / "data"

TOYCAR = "--mlonmcu-model=zoo:toycar"
TFLMI = "--mlonmcu-backend=tflmi"
HOST = "--mlonmcu-target=host_x86"
NO_CALLGRIND = "--mlonmcu-config=host_x86.callgrind=false"
# The fastest complete run: every stage, validated against the TFLM reference.
FAST = (TOYCAR, TFLMI, HOST, NO_CALLGRIND)

BENCH_TEST = """
def test_bench(mlonmcu_run):
    mlonmcu_run.process()
"""

_PARAM_ID = re.compile(r"::(\w+)\[([^\]]+)\]")


@dataclass
class PluginRun:
    """One pytest session of the plugin: its RunResult and its JSON report (if written)."""

    result: pytest.RunResult
    report: dict[str, Any] | None
    junit: Path | None = None

    @property
    def ret(self) -> int:
        return int(self.result.ret)

    @property
    def output(self) -> str:
        return self.result.stdout.str() + "\n" + self.result.stderr.str()

    @property
    def runs(self) -> list[dict[str, Any]]:
        assert self.report is not None, f"no JSON report was written:\n{self.output}"
        return self.report["runs"]

    def record(self, run_id: str, test: str | None = None) -> dict[str, Any]:
        """The one JSON record of ``run_id`` (of test function ``test``, if given)."""
        found = [
            r
            for r in self.runs
            if r["id"] == run_id and (test is None or f"::{test}[" in r["nodeid"])
        ]
        assert len(found) == 1, f"{len(found)} records of {run_id}: {self.runs}"
        return found[0]

    def collected(self, test: str | None = None) -> list[str]:
        """Parameter ids of the collected items (of ``test``), in collection order."""
        ids = []
        for line in self.result.outlines:
            m = _PARAM_ID.search(line)
            if m and (test is None or m.group(1) == test):
                ids.append(m.group(2))
        return ids

    def junit_properties(self) -> dict[str, dict[str, str]]:
        """Test case name -> its junit <property> name -> value."""
        assert self.junit is not None and self.junit.is_file(), self.output
        out = {}
        for case in ET.parse(self.junit).getroot().iter("testcase"):
            out[case.get("name")] = {p.get("name"): p.get("value") for p in case.iter("property")}
        return out


@pytest.fixture
def run_plugin(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    """``run_plugin(*args, junit=False, cache=None, env=None)``: pytest in a subprocess.

    The session runs in ``pytester.path`` with the per-user cache unless ``cache`` names
    another root, and with the extra environment variables of ``env``.
    """

    def run(
        *args: str,
        junit: bool = False,
        cache: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> PluginRun:
        monkeypatch.setenv(DEFAULT_ROOT_ENV, str(cache or USER_CACHE))
        # The repository conftest points this at ../shared; sessions here say what they use.
        monkeypatch.delenv(MODELS_DIR_ENV, raising=False)
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        json_path = pytester.path / "mlonmcu-results.json"
        json_path.unlink(missing_ok=True)
        junit_path = pytester.path / "junit.xml" if junit else None
        extra = [f"--mlonmcu-json={json_path}", "-p", "no:cacheprovider", "-rA"]
        if junit_path is not None:
            junit_path.unlink(missing_ok=True)
            extra.append(f"--junitxml={junit_path}")
        result = pytester.runpytest_subprocess(*extra, *args, timeout=300)
        report = json.loads(json_path.read_text()) if json_path.is_file() else None
        return PluginRun(result, report, junit_path)

    return run


def use_data(pytester: pytest.Pytester, name: str, as_name: str | None = None) -> Path:
    """Copy ``tests/spine/data/<name>`` into the pytester directory."""
    target = pytester.path / (as_name or name)
    shutil.copyfile(DATA_DIR / name, target)
    return target


def mlperf_model(name: str) -> Path:
    """``<shared>/models/mlperf_tiny/<name>/<name>.tflite``, or skip when it is absent."""
    path = MLPERF_DIR / name / f"{name}.tflite"
    if not path.is_file():
        pytest.skip(f"MLPerf Tiny model {name} not found at {path}")
    return path


@pytest.fixture(scope="session")
def zoo_toycar() -> Path:
    """The built-in zoo's toycar .tflite (built into the per-user cache on first use)."""
    from pytest_mlonmcu.models.model import ModelResolver

    return ModelResolver([], Cache(USER_CACHE)).resolve("zoo:toycar").path


@pytest.fixture
def toycar_copy(zoo_toycar: Path, pytester: pytest.Pytester) -> Path:
    """The zoo toycar as a plain file model (``toycar.tflite`` in the pytester directory)."""
    target = pytester.path / "models" / "toycar.tflite"
    target.parent.mkdir(exist_ok=True)
    shutil.copyfile(zoo_toycar, target)
    return target
