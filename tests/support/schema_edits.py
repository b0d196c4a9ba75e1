"""Whole-model edits of a .tflite through TFLite's own generated schema (object API).

The schema module is loaded from TensorFlow's installed file by path: it needs only
flatbuffers, so no TensorFlow import (seconds) for a test that edits a model.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any


def schema() -> ModuleType:
    name = "tflite_schema_object_api"
    if name in sys.modules:
        return sys.modules[name]
    import pytest

    tf = importlib.util.find_spec("tensorflow")
    if tf is None or not tf.submodule_search_locations:
        pytest.skip("TensorFlow (for its TFLite schema module) is not installed")
    path = f"{tf.submodule_search_locations[0]}/lite/python/schema_py_generated.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    sys.modules[name] = module
    return module


def edited(data: bytes, edit: Callable[[Any, ModuleType], None]) -> bytes:
    """``data`` with ``edit(model, schema)`` applied to its object tree, packed again."""
    import flatbuffers

    fb = schema()
    model = fb.ModelT.InitFromObj(fb.Model.GetRootAsModel(data, 0))
    edit(model, fb)
    builder = flatbuffers.Builder(len(data) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def builtin_code(fb: ModuleType, name: str) -> int:
    return getattr(fb.BuiltinOperator, name)
