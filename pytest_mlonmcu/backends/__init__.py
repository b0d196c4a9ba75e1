"""Backends (frameworks that turn a model into target code), behind a registry."""

from __future__ import annotations

from ..registry import Registry
from .base import Backend

BACKENDS: Registry[Backend] = Registry("backend")


def register_builtin_backends() -> None:
    from .cgen_backend import CgenBackend
    from .tflmi import TflmiBackend

    for cls in (TflmiBackend, CgenBackend):
        BACKENDS.register(cls, replace=True)
    # TVM backends: their modules import no TVM; without apache-tvm they report
    # unavailable_reason() (a skip) instead of failing.
    from .tvmaot import TvmAotBackend
    from .tvmaotplus import TvmAotPlusBackend
    from .tvmrt import TvmRtBackend

    for cls in (TvmAotBackend, TvmAotPlusBackend, TvmRtBackend):
        BACKENDS.register(cls, replace=True)
