"""What tvmaot and tvmaotplus share: options from config and features, the cached
compilation in a subprocess, and the artifact (kernels + executor + runtime shim)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from ...core import proc
from ...core.artifacts import Artifact
from ...core.cache import Cache, hash_key
from ...core.components import Backend
from ...core.config import ComponentConfig
from ...core.errors import BuildError, naming_model
from ...models.support import Gap, libm_float_validation, merged, operator_gaps, type_gaps
from . import (
    RUNTIME_DIR,
    importer_operators,
    source_digest,
    tvm_include_dirs,
    tvm_unavailable_reason,
    tvm_version,
)
from .compile import EXIT_ERROR
from .options import TvmOptions
from .tuning import tune_cached

PROFILE = "profile"

if TYPE_CHECKING:
    from ...core.components import Target
    from ...models.metadata import ModelMetadata
    from ...models.model import Model

# Bump when the generated code changes in a way the source digest cannot see.
BUILD_FORMAT = 1
FLOAT_VALIDATION = "topk=1"

# Feature names (features/tvm_features.py registers them).
LAYOUT_NCHW = "layout_nchw"
SCHEDULE_NONE = "schedule_none"
AUTOTUNE = "autotune"


def cached_compile(
    backend: str, cache: Cache, model: Model, opts: TvmOptions, work_dir: Path
) -> dict:
    """Compile in a subprocess once per (model, options, TVM, our sources); copy the result
    into ``work_dir`` and return its metrics (with TVM's phase times)."""
    key = hash_key(
        "tvm-build", BUILD_FORMAT, model.sha256, opts.as_dict(), tvm_version(), source_digest()
    )

    def produce(tmp: Path) -> None:
        run_compile(backend, model.path, opts, tmp / "out")

    with naming_model(model.path):
        entry = cache.get_or_create("tvm-build", key, produce) / "out"
    work_dir.mkdir(parents=True, exist_ok=True)
    for f in entry.iterdir():
        shutil.copy2(f, work_dir / f.name)
    manifest = json.loads((work_dir / "manifest.json").read_text())
    metrics = dict(manifest["metrics"])
    for stage, seconds in manifest["timings"].items():
        metrics[f"tvm_{stage}_seconds"] = seconds
    return metrics


def run_compile(
    name: str, model: Path, options: TvmOptions, out: Path, module: str = "compile"
) -> dict:
    """Run ``python -m pytest_mlonmcu.backends.tvm.<module>``; BuildError with TVM's message."""
    cmd = [sys.executable, "-m", f"{__package__}.{module}", str(model), str(out), options.to_json()]
    try:
        result = proc.run(cmd, timeout=proc.limit("build"), what=f"{name}: the TVM compilation")
    except proc.ChildTimeout as exc:
        raise BuildError(str(exc)) from None
    if result.returncode == EXIT_ERROR and (out / "error.json").is_file():
        err = json.loads((out / "error.json").read_text())
        raise BuildError(f"{name}: {err['message']}")
    if result.returncode != 0:
        how = (
            f"signal {-result.returncode}" if result.returncode < 0 else f"exit {result.returncode}"
        )
        tail = "\n".join(result.stderr.strip().splitlines()[-25:])
        raise BuildError(f"{name}: the TVM compilation failed ({how}):\n{tail}")
    return json.loads((out / "manifest.json").read_text())


# Operators that call other subgraphs: TVM's importer lowers them into Relax functions that
# only the VM (tvmrt) runs.
CONTROL_FLOW = frozenset({"IF", "WHILE", "CALL", "CALL_ONCE"})
QUANTIZED_TYPES = frozenset({"int8", "uint8", "int16"})


class TvmAotBase(Backend):
    """A static C executor over TVM-generated kernels (see backends/tvm/executor.py)."""

    framework = "tvm"
    arena: ClassVar[bool] = False
    control_flow: ClassVar[bool] = False  # runs IF/WHILE/CALL_ONCE (the VM does)
    features = frozenset({LAYOUT_NCHW, SCHEDULE_NONE, AUTOTUNE, PROFILE})
    config_keys = {
        "int8": "true (integer path, bit-exact with TFLM; false: TVM's float path)",
        "unroll": "8 (unroll factor of the innermost reduction loop; feature autotune searches it)",
        "schedule": "inline (or none: kernels as legalized, with workspaces)",
        "inline_pad": "true (padding read inside the conv kernel; false: a padded copy, more RAM)",
        "tune_trials": "5 (candidates measured on the target with feature autotune)",
    }

    def __init__(
        self, config: ComponentConfig, cache: Cache, features: tuple[str, ...] = ()
    ) -> None:
        super().__init__(config, cache, features)
        # The float path differs from TFLM by tens of quantization steps (facts: up to 37
        # on aww, 84 measured on resnet): compare the top class only.
        self.validation = "exact" if self.options().int8 else FLOAT_VALIDATION

    def validation_mode(self, metadata: ModelMetadata) -> str:
        # A float32 model's expf/tanhf are TVM's own, not the C library's: a few places off.
        if self.validation == "exact":
            return libm_float_validation(metadata) or self.validation
        return self.validation

    def unsupported(self, metadata: ModelMetadata, target: Target) -> list[Gap]:
        operators = importer_operators()
        if operators is None:
            return []
        converted, quantized = operators
        if not self.control_flow:
            converted = converted - CONTROL_FLOW
        gaps = operator_gaps(
            metadata,
            converted,
            "TVM's TFLite importer does not convert it",
            custom_cause="TVM's TFLite importer converts no custom operators",
        )
        executor = f"{self.name}'s static executor runs no control flow"
        gaps = [
            Gap(g.item, executor, g.indices, g.types)
            if g.item.removeprefix("operator ") in CONTROL_FLOW
            else g
            for g in gaps
        ]

        def quantized_problem(name: str, types: tuple[str, ...]) -> str | None:
            if "int16" in types and name != "FULLY_CONNECTED":  # int16.py converts that one
                return "the TVM backends take int16 activations in FULLY_CONNECTED only"
            if name in converted and name not in quantized and QUANTIZED_TYPES & set(types):
                return "TVM's TFLite importer does not convert it on quantized tensors"
            return None

        return merged(gaps + type_gaps(metadata, quantized_problem))

    def unavailable_reason(self) -> str | None:
        reason = tvm_unavailable_reason()
        return f"backend {self.name}: {reason}" if reason else None

    def options(self) -> TvmOptions:
        schedule = self.config.get_choice("schedule", ["inline", "none"], "inline")
        if SCHEDULE_NONE in self.features:
            schedule = "none"
        return TvmOptions(
            int8=self.config.get_bool("int8", True),
            arena=self.arena,
            layout="NCHW" if LAYOUT_NCHW in self.features else "NHWC",
            schedule=schedule,
            inline_pad=self.config.get_bool("inline_pad", True),
            unroll=getattr(self, "_tuned_unroll", None)
            or self.config.get_int("unroll", 8, minimum=1),
        )

    # -- tuning (feature autotune) --------------------------------------------------------
    def tune(self, model: Model, target: Target, work_dir: Path) -> None:
        if AUTOTUNE not in self.features:
            return
        self._tuned_unroll = tune_cached(self, model, target, work_dir)

    # -- build ------------------------------------------------------------------------------
    def build(self, model: Model, target: Target, work_dir: Path) -> Artifact:
        artifact = self.build_with(self.options(), model, work_dir)
        if AUTOTUNE in self.features:
            artifact.metrics["tvm_tuned_unroll"] = self.options().unroll
        if PROFILE in self.features:  # a row per kernel call (TVM fuses TFLite's operators)
            manifest = json.loads((work_dir / "manifest.json").read_text())
            artifact.defines["CGEN_PROFILE"] = "1"
            artifact.profiled = True
            artifact.operators = [{**k, "macs": 0} for k in manifest.get("kernel_steps", [])]
        return artifact

    def build_with(self, opts: TvmOptions, model: Model, work_dir: Path) -> Artifact:
        """The artifact for ``opts`` (cached by content hash: model, options, TVM, compiler)."""
        metrics = cached_compile(self.name, self.cache, model, opts, work_dir)
        return Artifact(
            backend=self.name,
            directory=work_dir,
            sources=[
                work_dir / "kernels.c",
                work_dir / "executor.c",
                RUNTIME_DIR / "tvmaot_shim.c",
            ],
            include_dirs=[RUNTIME_DIR, *tvm_include_dirs()],
            metrics=metrics,
        )
