"""tflmi: the TensorFlow Lite Micro interpreter (framework tflm).

On host_x86 this is the real interpreter of the ``tflite-micro`` wheel, run in a
subprocess; callgrind counts its AllocateTensors and Invoke exactly. The arena is
the smallest with which AllocateTensors succeeds (found by search, cached), or
``tflmi.arena_size``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..artifacts import Artifact
from ..cache import atomic_write_text, hash_key
from ..errors import BuildError
from . import tflmi_runner
from .base import Backend

if TYPE_CHECKING:
    from ..models.model import Model
    from ..targets.base import Target


class TflmiBackend(Backend):
    name = "tflmi"
    framework = "tflm"
    description = "TFLite Micro interpreter (tflite-micro wheel on the host)"
    families = frozenset({"x86"})
    validation = "exact"
    config_keys = {"arena_size": "auto (smallest that works)"}

    def unavailable_reason(self) -> str | None:
        try:
            import tflite_micro  # noqa: F401
        except ImportError:
            return (
                "backend tflmi: the tflite-micro wheel is not installed (pip install tflite-micro)"
            )
        return None

    def arena_size(self, model: Model) -> int:
        configured = self.config.get_int("arena_size")
        if configured:
            return configured
        key = hash_key("tflmi-arena", model.sha256, wheel_version())

        def produce(tmp: Path) -> None:
            proc = subprocess.run(
                [sys.executable, "-m", tflmi_runner.__name__, "arena", str(model.path)],
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                raise BuildError(
                    f"tflmi: the TFLM interpreter cannot load {model.path.name}:\n"
                    f"{proc.stderr.strip()[-2000:]}"
                )
            atomic_write_text(tmp / "arena", proc.stdout.strip())

        return int((self.cache.get_or_create("tflmi-arena", key, produce) / "arena").read_text())

    def build(self, model: Model, target: Target, work_dir: Path) -> Artifact:
        arena = self.arena_size(model)
        work_dir.mkdir(parents=True, exist_ok=True)
        return Artifact(
            backend=self.name,
            directory=work_dir,
            kind="host_runner",
            metrics={"arena_bytes": arena},
            runner={
                "module": tflmi_runner.__name__,
                "model": str(model.path),
                "arena": arena,
                "setup_function": tflmi_runner.ALLOCATE_FUNCTION,
                "invoke_function": tflmi_runner.INVOKE_FUNCTION,
            },
        )


def wheel_version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("tflite-micro")
    except importlib.metadata.PackageNotFoundError:
        return "none"
