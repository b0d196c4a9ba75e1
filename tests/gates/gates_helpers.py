"""Helpers of the gates' tests: a pytester project whose metrics the test decides.

The pytester conftest registers two backends (``fakeb``, ``fakec``) and two targets
(``fakesim``, ``fakesim2``) that build and run nothing: the run stage reports the metrics
that ``fake_metrics.json`` (written by the test) lists for the run id. Models are copies of
the zoo's toycar in a models dir (``m1``, ``m2``...): loading it is the only real work, so
a session takes about a second and every budget or baseline verdict is deterministic.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

FAKE_CONFTEST = """
import json
from pathlib import Path

from pytest_mlonmcu.core.artifacts import Artifact, Program, RunOutput
from pytest_mlonmcu.core.components import Backend
from pytest_mlonmcu.core.components import Target

METRICS = Path(__file__).with_name("fake_metrics.json")


class FakeBackend(Backend):
    name = "fakeb"
    description = "builds nothing"

    def build(self, model, target, work_dir):
        return Artifact(backend=self.name, directory=work_dir)


class FakeBackendC(FakeBackend):
    name = "fakec"


class FakeSim(Target):
    name = "fakesim"
    family = "fake"
    config_keys = {"metrics": "(JSON: the metrics its run reports)"}

    def compile(self, artifact, samples, work_dir):
        return Program(target=self.name, path=work_dir / "program", work_dir=work_dir)

    def run(self, program, work_dir):
        return RunOutput(outputs=[], metrics=json.loads(self.config.get("metrics") or "{}"))


class FakeSim2(FakeSim):
    name = "fakesim2"


def pytest_mlonmcu_register(backends, targets):
    for cls in (FakeBackend, FakeBackendC):
        backends.register(cls)
    for cls in (FakeSim, FakeSim2):
        targets.register(cls)


def pytest_mlonmcu_configure_run(config, case):
    data = json.loads(METRICS.read_text()) if METRICS.is_file() else {}
    config.set(f"{case.target}.metrics", json.dumps(data.get(case.id, {})))
    config.set("validation.enabled", "false")  # no outputs to check
"""

BENCH_TEST = """
def test_bench(mlonmcu_run):
    mlonmcu_run.process()
"""
FAKE = ("--mlonmcu-backend=fakeb", "--mlonmcu-target=fakesim", "--mlonmcu-models-dir=models")


def rid(model: str, backend: str = "fakeb", target: str = "fakesim") -> str:
    return f"{model}-{backend}-{target}"


def nodeid(model: str, backend: str = "fakeb", target: str = "fakesim", test="test_bench") -> str:
    return f"test_m.py::{test}[{rid(model, backend, target)}]"


def models_arg(*models: str) -> str:
    return "--mlonmcu-model=" + ",".join(models)


@dataclass
class Session:
    result: pytest.RunResult
    report: dict[str, Any] | None

    @property
    def ret(self) -> int:
        return int(self.result.ret)

    @property
    def output(self) -> str:
        return self.result.stdout.str() + "\n" + self.result.stderr.str()

    def section(self, title: str) -> str:
        """The terminal summary section ``title`` (to the next ``===`` line)."""
        text = self.result.stdout.str()
        assert f" {title} " in text, self.output
        body = text.split(f" {title} ", 1)[1].split("\n", 1)[1]
        return body.split("\n==", 1)[0]

    @property
    def runs(self) -> list[dict[str, Any]]:
        assert self.report is not None, f"no JSON report:\n{self.output}"
        return self.report["runs"]

    def record(self, node: str) -> dict[str, Any]:
        (found,) = [r for r in self.runs if r["nodeid"] == node]
        return found

    def outcomes(self) -> dict[str, tuple[str, str]]:
        """nodeid -> (outcome, reason): what must not depend on xdist."""
        return {r["nodeid"]: (r["outcome"], r["reason"]) for r in self.runs}


def write_metrics(pytester: pytest.Pytester, metrics: dict[str, dict[str, Any]]) -> None:
    (pytester.path / "fake_metrics.json").write_text(json.dumps(metrics))


def make_models(pytester: pytest.Pytester, toycar: Path, *names: str) -> None:
    """``models/<name>/<name>.tflite``: the mlonmcu-models layout."""
    for name in names:
        target = pytester.path / "models" / name / f"{name}.tflite"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(toycar.read_bytes())
