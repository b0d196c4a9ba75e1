"""A case of the matrix: one model on one backend and one target (with features).

Its id (``aww-tflmi-host_x86[-feature...]``) names its test and its artifacts folder, so it is
safe as a file name: each part holds only ``[A-Za-z0-9_.-]`` and never starts with ``.``; a
model given by path is named by its file's stem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Case:
    model: str
    backend: str
    target: str
    features: tuple[str, ...] = ()
    # Set by expand() when two model paths share a stem, to keep ids (and artifact dirs) unique.
    model_label: str = ""

    @property
    def id(self) -> str:
        parts = [self.model_label or model_label(self.model), self.backend, self.target]
        return "-".join(safe_name(p) for p in [*parts, *self.features])


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def safe_name(text: str, unsafe: re.Pattern[str] = _UNSAFE) -> str:
    """``text`` as one file name: each ``unsafe`` character becomes ``_``, no leading ``.``."""
    name = unsafe.sub("_", text)
    return "_" + name if name.startswith(".") or not name else name


def is_model_path(model: str) -> bool:
    """How ModelResolver tells a path (``x.tflite``, ``dir/x``) from a name (``aww``)."""
    return model.endswith(".tflite") or ("/" in model and not model.startswith("zoo:"))


def model_label(model: str) -> str:
    """The model's part of case ids: a path's stem, ``zoo:aww`` -> ``zoo_aww``, a name."""
    label = Path(model).stem if is_model_path(model) else model.replace("zoo:", "zoo_")
    return safe_name(label)
