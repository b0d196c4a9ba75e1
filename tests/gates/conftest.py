"""Fixtures of the gates' tests: a pytester project with fake components (gates_helpers.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gates_helpers import FAKE_CONFTEST, Session, make_models

from pytest_mlonmcu.core.cache import DEFAULT_ROOT_ENV, Cache, default_cache_root
from pytest_mlonmcu.settings import MODELS_DIR_ENV

# Resolved at import, before any pytester fixture has moved HOME.
USER_CACHE = default_cache_root()
MODELS = ("m1", "m2", "m3", "m4", "m5")


@pytest.fixture(scope="session")
def toycar() -> Path:
    """The built-in zoo's toycar .tflite (built into the per-user cache on first use)."""
    from pytest_mlonmcu.models.model import ModelResolver

    return ModelResolver([], Cache(USER_CACHE)).resolve("zoo:toycar").path


@pytest.fixture
def fake_project(pytester: pytest.Pytester, toycar: Path) -> pytest.Pytester:
    """The fake backends/targets, models m1..m5 (copies of toycar), no test file yet."""
    pytester.makeconftest(FAKE_CONFTEST)
    make_models(pytester, toycar, *MODELS)
    return pytester


@pytest.fixture
def run_session(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    """``run_session(*args, json_name="r.json")``: pytest in a subprocess, its JSON report."""

    def run(*args: str, json_name: str = "results.json", timeout: float = 300) -> Session:
        monkeypatch.setenv(DEFAULT_ROOT_ENV, str(USER_CACHE))
        # The repository conftest points this at ../shared; sessions here say what they use.
        monkeypatch.delenv(MODELS_DIR_ENV, raising=False)
        monkeypatch.setenv("COLUMNS", "250")  # whole failure messages in the short summary
        # Under `pytest -n`, the inner session would inherit the worker's identity, and
        # pytest-benchmark would switch itself off: the inner session is its own.
        for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
            monkeypatch.delenv(name, raising=False)
        json_path = pytester.path / json_name
        json_path.unlink(missing_ok=True)
        result = pytester.runpytest_subprocess(
            f"--mlonmcu-json={json_path}", "-p", "no:cacheprovider", "-rA", *args, timeout=timeout
        )
        report = json.loads(json_path.read_text()) if json_path.is_file() else None
        return Session(result, report)

    return run
