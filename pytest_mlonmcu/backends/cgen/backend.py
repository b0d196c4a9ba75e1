"""cgen: the project's static C code generator (int8 and float32 kernels, as TFLM computes).

Not TFLite Micro and not the TFLM compiler: Python reads the .tflite and emits C99
that calls the project's own kernels (see backends/cgen/).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ...core.artifacts import Artifact
from ...core.components import Backend
from ...core.errors import naming_model
from ...models.support import Gap, libm_float_validation, merged, operator_gaps, type_gaps

if TYPE_CHECKING:
    from ...core.components import Target
    from ...models.metadata import ModelMetadata
    from ...models.model import Model


class CgenBackend(Backend):
    name = "cgen"
    framework = "cgen"
    description = "static C code generation with the project's kernels (int8, int16 FC, float32; bit-exact with TFLM)"
    validation = "exact"
    features = frozenset({"profile"})
    config_keys = {"variant": "optimized (or reference: plain kernels for comparison)"}

    def validation_mode(self, metadata: ModelMetadata) -> str:
        # float32 arithmetic is reproduced exactly; expf, tanhf... are the target's C library's
        return libm_float_validation(metadata) or self.validation

    def unsupported(self, metadata: ModelMetadata, target: Target) -> list[Gap]:
        from .lowering import LOWERINGS
        from .ops.context import types_text

        def type_problem(name: str, types: tuple[str, ...]) -> str | None:
            entry = LOWERINGS.get(name)
            if entry is None or entry.types is None or set(types) <= entry.types:
                return None
            bad = ", ".join(sorted(set(types) - entry.types))
            return f"cgen's {name} takes {types_text(entry.types)} tensors, not {bad}"

        gaps = operator_gaps(
            metadata,
            LOWERINGS,
            "cgen has no kernel for it",
            custom_cause="cgen runs no custom operators",
        )
        gaps += type_gaps(metadata, type_problem)
        if metadata.subgraphs > 1:
            gaps.append(
                Gap(f"{metadata.subgraphs} subgraphs", "cgen lowers one subgraph (no control flow)")
            )
        return merged(gaps)

    def build(self, model: Model, target: Target, work_dir: Path) -> Artifact:
        from .generator import generate

        variant = self.config.get_choice("variant", ["optimized", "reference"], "optimized")
        with naming_model(model.path):
            out = generate(model.data, work_dir, variant=variant, origin=str(model.path))
        profiled = "profile" in self.features
        return Artifact(
            backend=self.name,
            directory=work_dir,
            sources=list(out.sources),
            include_dirs=list(out.include_dirs),
            defines={"CGEN_PROFILE": "1"} if profiled else {},
            profiled=profiled,
            metrics={
                "arena_bytes": out.arena_bytes,
                "arena_lower_bound_bytes": out.arena_lower_bound,
                "weights_bytes": out.weights_bytes,
            },
        )
