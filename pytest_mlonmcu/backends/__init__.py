"""Backends (frameworks that turn a model into target code), behind a registry."""

from __future__ import annotations

from ..core.components import Backend
from ..core.registry import Registry
from .cgen.backend import CgenBackend
from .tflmi.backend import TflmiBackend

# TVM backends: their modules import no TVM; without apache-tvm they report
# unavailable_reason() (a skip) instead of failing.
from .tvm.aot import TvmAotBackend
from .tvm.aotplus import TvmAotPlusBackend
from .tvm.rt import TvmRtBackend

BACKENDS: Registry[Backend] = Registry("backend")


def register_builtin_backends() -> None:
    """Built-in backends register here (one package per backend)."""
    for cls in (TflmiBackend, CgenBackend, TvmAotBackend, TvmAotPlusBackend, TvmRtBackend):
        BACKENDS.register(cls, replace=True)
