"""Hooks that conftests and other packages implement to extend pytest-mlonmcu.

Declared like pytest-xdist's ``newhooks.py``: the types of the arguments are imported for
type checkers only, so implementing a hook never imports more of the plugin than it uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .core.case import Case
    from .core.components import Backend, Feature, Target
    from .core.config import RunConfig
    from .core.registry import Registry
    from .run import Run


@pytest.hookspec
def pytest_mlonmcu_register(
    backends: Registry[Backend], targets: Registry[Target], features: Registry[Feature]
) -> None:
    """Register components: ``targets.register(MyTarget)``, ``backends.register(MyBackend)``,
    ``features.register(MyFeature)``.

    Called once at configure time, after the built-in components are registered.
    A target or backend class is a subclass of ``pytest_mlonmcu.core.components.Target``
    or ``pytest_mlonmcu.core.components.Backend`` with a unique ``name``; the keys it reads
    from the run configuration are declared in its ``config_keys``.
    """


@pytest.hookspec
def pytest_mlonmcu_configure_run(config: RunConfig, case: Case) -> None:
    """Adjust one run's configuration before it starts (every implementation is called).

    ``config`` is the run's ``RunConfig`` (``config.set("tflmi.arena_size", 65536)``),
    ``case`` the ``Case`` (model, backend, target, features).
    """


@pytest.hookspec
def pytest_mlonmcu_add_metrics(run: Run) -> dict[str, Any] | None:
    """Return extra metrics for a finished run (merged into ``run.metrics`` and the reports;
    every implementation is called)."""
