"""Backend tflmi: the TFLite Micro interpreter (the wheel on the host, TFLM built from
source on the simulators). ``python -m pytest_mlonmcu.backends.tflmi`` is the wheel runner
(runner.py); the package is also the runner module a host_runner artifact names."""

from __future__ import annotations

from typing import Any


def interpreter_with_inputs(runner: dict, inputs: list) -> Any:
    """runner.interpreter_with_inputs (imported here only when asked: it loads the wheel)."""
    from .runner import interpreter_with_inputs as make

    return make(runner, inputs)
