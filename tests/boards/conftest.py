"""Fixtures of the board tests: Zephyr availability, one shared Zephyr program, fake boards.

Zephyr builds take 20-40 s each here, so the tests that only need *a* program share one:
``mps2_toycar`` builds toycar (cgen) for the emulated mps2_an385 once per session and the
tests run it in different ways (TCP or pty console, fixed port, lock, counting).
Helpers (importable by the test modules) are in ``board_helpers.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from board_helpers import (
    MLPERF_DIR,
    TRANSCRIPT,
    USER_CACHE,
    BuiltProgram,
    FakeBoard,
    Session,
    make_target,
    zephyr_skip_reason,
)

from pytest_mlonmcu.core.cache import DEFAULT_ROOT_ENV, Cache
from pytest_mlonmcu.core.config import RunConfig
from pytest_mlonmcu.settings import MODELS_DIR_ENV
from pytest_mlonmcu.targets import register_builtin_targets


@pytest.fixture(autouse=True)
def _builtin_board_targets() -> Iterator[None]:
    """Tests that register the targets of other boards leave boards.yml's targets in place."""
    yield
    register_builtin_targets()


@pytest.fixture(scope="session")
def zephyr_ready() -> None:
    reason = zephyr_skip_reason()
    if reason:
        pytest.skip(reason)


@pytest.fixture
def run_session(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    """``run_session(*args, timeout=600)``: pytest with the plugin in a subprocess."""

    def run(*args: str, timeout: float = 600) -> Session:
        monkeypatch.setenv(DEFAULT_ROOT_ENV, str(USER_CACHE))
        monkeypatch.delenv(MODELS_DIR_ENV, raising=False)
        json_path = pytester.path / "results.json"
        json_path.unlink(missing_ok=True)
        out = pytester.path / "out"
        extra = [f"--mlonmcu-json={json_path}", f"--mlonmcu-out={out}", "-p", "no:cacheprovider"]
        result = pytester.runpytest_subprocess(*extra, "-rA", *args, timeout=timeout)
        report = json.loads(json_path.read_text()) if json_path.is_file() else None
        return Session(result, report, out)

    return run


@pytest.fixture(scope="session")
def mps2_toycar(zephyr_ready: None, tmp_path_factory: pytest.TempPathFactory) -> BuiltProgram:
    """toycar (cgen) built for mps2_an385 once, run once the default way."""
    from pytest_mlonmcu.backends.cgen.backend import CgenBackend
    from pytest_mlonmcu.core.samples import SampleSet
    from pytest_mlonmcu.models.model import ModelResolver

    cache = Cache(USER_CACHE)
    dirs = [MLPERF_DIR] if MLPERF_DIR.is_dir() else []
    model = ModelResolver(dirs, cache).resolve("toycar" if dirs else "zoo:toycar")
    target = make_target("mps2_an385", cache)
    backend = CgenBackend(RunConfig().scoped("cgen"), cache)
    work = tmp_path_factory.mktemp("mps2_toycar")
    artifact = backend.build(model, target, work / "build")
    samples = SampleSet(model.sample_inputs(2, seed=0))
    program = target.compile(artifact, samples, work / "compile")
    out = target.run(program, work / "run")
    return BuiltProgram(program, out.outputs, {**program.metrics, **out.metrics})


@pytest.fixture
def fake_board() -> Iterator[Callable[..., FakeBoard]]:
    boards: list[FakeBoard] = []

    def make(transcript: bytes = TRANSCRIPT, trigger_file: Path | None = None) -> FakeBoard:
        board = FakeBoard(transcript, trigger_file)
        boards.append(board)
        return board

    yield make
    for b in boards:
        b.close()
