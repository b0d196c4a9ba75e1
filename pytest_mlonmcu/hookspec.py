"""Hooks that conftests and other packages implement to extend pytest-mlonmcu."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.hookspec
def pytest_mlonmcu_register(backends: Any, targets: Any, features: Any) -> None:
    """Register components: ``targets.register(MyTarget)``, ``backends.register(MyBackend)``,
    ``features.register(MyFeature)``.

    Called once at configure time, after the built-in components are registered.
    A target or backend class is a subclass of ``pytest_mlonmcu.core.components.Target``
    or ``pytest_mlonmcu.core.components.Backend`` with a unique ``name``.
    """


@pytest.hookspec
def pytest_mlonmcu_configure_run(config: Any, case: Any) -> None:
    """Adjust one run's configuration before it starts.

    ``config`` is the run's ``RunConfig`` (``config.set("tflmi.arena_size", 65536)``),
    ``case`` the ``Case`` (model, backend, target, features).
    """


@pytest.hookspec
def pytest_mlonmcu_add_metrics(run: Any) -> dict[str, Any] | None:
    """Return extra metrics for a finished run (merged into ``run.metrics`` and the reports)."""
