"""The benchmark matrix: models x backends x targets (x features) -> test cases (core/case.py),
and back from a test id to its case."""

from __future__ import annotations

import hashlib

import pytest

from .backends import BACKENDS
from .core.case import Case, model_label, safe_name
from .features import FEATURES, check_features
from .settings import SessionSettings
from .targets import TARGETS


def _unique_labels(models: list[str]) -> dict[str, str]:
    labels = {m: model_label(m) for m in models}
    counts: dict[str, int] = {}
    for label in labels.values():
        counts[label] = counts.get(label, 0) + 1
    for m, label in labels.items():
        if counts[label] > 1:
            labels[m] = f"{label}_{hashlib.sha1(m.encode()).hexdigest()[:6]}"
    return labels


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


def expand(settings: SessionSettings, marker: pytest.Mark | None = None) -> list[Case]:
    models = _narrow(settings.models, settings.models_explicit, _marker_list(marker, "models"))
    targets = _narrow(settings.targets, settings.targets_explicit, _marker_list(marker, "targets"))
    backends = _narrow(
        settings.backends or BACKENDS.names(),
        settings.backends_explicit,
        _marker_list(marker, "backends"),
    )
    features = _marker_list(marker, "features")
    features = tuple(settings.features if features is None else features)
    labels = _unique_labels(models)
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
                label = labels[model] if labels[model] != model_label(model) else ""
                cases.append(Case(model, backend, target, features, label))
    return cases


def case_from_id(param_id: str) -> Case | None:
    """The Case that a test id ``<model label>-<backend>-<target>[-<feature>...]`` names.

    For the controller, which never sees a crashed worker's item: the model is known by
    its label only, and other parameters of the test end up in the label (before) or are
    dropped (after). None when no known backend and target follow each other.
    """
    backends = {safe_name(n): n for n in BACKENDS.names()}
    targets = {safe_name(n): n for n in TARGETS.names()}
    features = {safe_name(n): n for n in FEATURES.names()}
    parts = param_id.split("-")
    for i in range(1, len(parts) - 1):
        if parts[i] in backends and parts[i + 1] in targets:
            label = "-".join(parts[:i])
            chosen = []
            for part in parts[i + 2 :]:
                if part not in features:
                    break
                chosen.append(features[part])
            return Case(label, backends[parts[i]], targets[parts[i + 1]], tuple(chosen), label)
    return None
