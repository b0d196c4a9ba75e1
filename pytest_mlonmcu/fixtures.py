"""Fixtures: mlonmcu_case (the parametrized matrix cell), mlonmcu_run and friends."""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Iterator

import pytest

from . import farm
from .core.case import Case, safe_name
from .core.components import Backend, Target
from .core.errors import BoardNotAttached
from .core.records import portable
from .models.model import Model, ModelResolver
from .run import Run
from .rundirs import MARKER, OutDirWarning, RunDirs
from .session import SessionResults
from .settings import SessionSettings

SETTINGS_KEY = pytest.StashKey[SessionSettings]()
RESULTS_KEY = pytest.StashKey[SessionResults]()
RUN_KEY = pytest.StashKey[Run]()
CASE_KEY = pytest.StashKey[Case]()
RUN_DIRS_KEY = pytest.StashKey[RunDirs]()
_UNSAFE_IN_RUN_DIR = re.compile(r"[^A-Za-z0-9_.\[\]-]")


@contextlib.contextmanager
def skipping_unattached_boards() -> Iterator[None]:
    """A run whose board is not attached is skipped with the target's reason (its program was
    compiled: the metrics so far are recorded)."""
    try:
        yield
    except BoardNotAttached as exc:
        pytest.skip(str(exc))


def _settings(config: pytest.Config) -> SessionSettings:
    return config.stash[SETTINGS_KEY]


@pytest.fixture
def mlonmcu_case(request: pytest.FixtureRequest) -> Case:
    """The matrix cell of this test (filled by parametrization)."""
    param = getattr(request, "param", None)
    if param is None:
        pytest.fail("mlonmcu_case is filled by pytest-mlonmcu's parametrization; it has no default")
    return param


@pytest.fixture
def mlonmcu_run(request: pytest.FixtureRequest, mlonmcu_case: Case) -> Iterator[Run]:
    """A Run of this test's case: call ``run.process()`` to execute the stages."""
    settings = _settings(request.config)
    config = settings.run_config.copy()
    if mlonmcu_case.features:
        config.set("run.features", ",".join(mlonmcu_case.features))
    request.config.hook.pytest_mlonmcu_configure_run(config=config, case=mlonmcu_case)
    name = _run_dir_name(request.node, mlonmcu_case)
    run = Run(
        case=mlonmcu_case,
        config=config,
        resolver=ModelResolver(settings.models_dirs, settings.cache),
        cache=settings.cache,
        artifacts_dir=settings.out_dir / mlonmcu_case.id / name,  # where it goes if free
        hook=request.config.hook,
        default_until=settings.until,
    )
    request.node.stash[RUN_KEY] = run
    reason = run.skip_reason()
    if reason:
        pytest.skip(farm.on_this_host(reason, request.config, settings.cache.root))
    # A fresh folder; an earlier run's is replaced only if the plugin made it (rundirs.py).
    run_dirs = request.config.stash[RUN_DIRS_KEY]
    run.artifacts_dir, left_alone = run_dirs.claim(mlonmcu_case.id, name, request.node.nodeid)
    for path in left_alone:
        warnings.warn(
            f"{path} holds files that pytest-mlonmcu did not write (no {MARKER} marker): "
            f"left alone; this run writes to {run.artifacts_dir}",
            OutDirWarning,
            stacklevel=1,
        )
    yield run
    # junit properties (--junitxml); they travel to the xdist controller with the report
    for key, value in portable(run.metrics).items():
        request.node.user_properties.append((key, value))
    for stage, rec in run.stages.items():
        request.node.user_properties.append((f"{stage}_seconds", round(rec.seconds, 4)))


def _run_dir_name(node: pytest.Item, case: Case) -> str:
    """``<module>.<function>`` plus any parameters besides the case: unique per test."""
    module = node.path.stem if node.path else "test"
    name = f"{module}.{node.originalname or node.name}"
    callspec = getattr(node, "callspec", None)
    extra = callspec.id.replace(case.id, "", 1).strip("-") if callspec else ""
    if extra:
        name += f"[{extra}]"
    return safe_name(name, _UNSAFE_IN_RUN_DIR)


@pytest.fixture
def mlonmcu_model(mlonmcu_run: Run) -> Model:
    """The resolved model of this test (loads it: a bad file fails here)."""
    mlonmcu_run.process(until="load")
    return mlonmcu_run.model


@pytest.fixture
def mlonmcu_backend(mlonmcu_run: Run) -> Backend:
    return mlonmcu_run.backend


@pytest.fixture
def mlonmcu_target(mlonmcu_run: Run) -> Target:
    return mlonmcu_run.target


def model_resolver(config: pytest.Config) -> ModelResolver:
    settings = _settings(config)
    return ModelResolver(settings.models_dirs, settings.cache)
