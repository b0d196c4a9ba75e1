"""tvmrt: the real TVM runtime (Relax VM) on the host, model built with the LLVM target.

The model is imported and rewritten as for tvmaot (``tvmrt.int8``), then built with
``relax.build`` for LLVM into a shared library; a subprocess (backends/tvm/rt_runner.py)
runs it in a ``relax.VirtualMachine``. On host_x86 callgrind counts the VM's
initialisation and each ``main`` call exactly (through the exported wrappers of
backends/tvm/runtime/mlif_tvmrt.c: the wheel's runtime is stripped).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ...core.artifacts import Artifact
from . import rt_runner_info
from .backend import LAYOUT_NCHW, TvmAotBase, cached_compile
from .options import TvmOptions

if TYPE_CHECKING:
    from ...core.components import Target
    from ...models.model import Model


class TvmRtBackend(TvmAotBase):
    name = "tvmrt"
    description = "Apache TVM 0.27 runtime (Relax VM), LLVM build, on the host (callgrind counts)"
    families = frozenset({"x86"})
    features = frozenset({LAYOUT_NCHW})
    control_flow = True  # Relax's VM runs the importer's functions for IF/WHILE
    config_keys = {"int8": "true (integer path; false: TVM's float path)"}

    def options(self) -> TvmOptions:
        return TvmOptions(
            int8=self.config.get_bool("int8", True),
            runtime="vm",
            layout="NCHW" if LAYOUT_NCHW in self.features else "NHWC",
        )

    def tune(self, model: Model, target: Target, work_dir: Path) -> None:
        return None

    def build(self, model: Model, target: Target, work_dir: Path) -> Artifact:
        opts = self.options()
        metrics = cached_compile(self.name, self.cache, model, opts, work_dir)
        return Artifact(
            backend=self.name,
            directory=work_dir,
            kind="host_runner",
            metrics=metrics,
            runner={**rt_runner_info(), "model": str(work_dir), "arena": 0},
        )
