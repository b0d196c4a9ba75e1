"""The benchmark matrix: models x backends x targets (x features) -> test cases."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from .backends import BACKENDS
from .features import check_features
from .settings import Settings
from .targets import TARGETS


@dataclass(frozen=True)
class Case:
    model: str
    backend: str
    target: str
    features: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        model = Path(self.model).stem if self.model.endswith(".tflite") else self.model
        model = model.replace("zoo:", "zoo_")
        return "-".join([model, self.backend, self.target, *self.features])


def _marker_list(marker: pytest.Mark | None, key: str) -> list[str] | None:
    if marker is None or key not in marker.kwargs:
        return None
    value = marker.kwargs[key]
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    return list(value)


def _narrow(selected: list[str], explicit: bool, wanted: list[str] | None) -> list[str]:
    """A marker narrows an explicit selection; without one it replaces the default."""
    if wanted is None:
        return selected
    if explicit:
        return [s for s in selected if s in wanted]
    return wanted


def expand(settings: Settings, marker: pytest.Mark | None = None) -> list[Case]:
    models = _narrow(settings.models, settings.models_explicit, _marker_list(marker, "models"))
    targets = _narrow(settings.targets, settings.targets_explicit, _marker_list(marker, "targets"))
    backends = _narrow(
        settings.backends or BACKENDS.names(),
        settings.backends_explicit,
        _marker_list(marker, "backends"),
    )
    features = _marker_list(marker, "features")
    features = tuple(settings.features if features is None else features)
    cases = []
    for target in targets:
        target_cls = TARGETS.get(target)
        for backend in backends:
            backend_cls = BACKENDS.get(backend)
            # An explicit backend that cannot serve the target is still shown (and skipped
            # with the reason); a default one is left out of the matrix.
            if not backend_cls.supports(target_cls) and not settings.backends_explicit:
                continue
            check_features(features, backend_cls, target_cls)
            for model in models:
                cases.append(Case(model, backend, target, features))
    return cases
