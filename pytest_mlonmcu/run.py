"""One run of the matrix: a model on a backend and a target, through the stages.

    run = mlonmcu_run            # fixture
    run.process()                # all stages; or run.process(until=Stage.COMPILE)
    run.metrics["invoke_instructions"], run.outputs, run.artifacts_dir

Every artifact stays under ``<out>/<test id>/`` (model, generated code, build dir,
program, run log, metrics.json) so a run can be reproduced by hand.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .backends import BACKENDS
from .core.artifacts import Artifact, Program, RunOutput
from .core.cache import Cache, atomic_write_text
from .core.case import Case
from .core.components import Backend, Target
from .core.config import RunConfig
from .core.errors import MlonmcuError, RunError, UnsupportedModelError, naming_model
from .core.records import portable
from .core.samples import SampleSet
from .core.stages import Stage
from .models.model import Model, ModelResolver
from .models.support import Gap, tflm_node_note
from .reference import reference_arena, reference_outputs
from .targets import TARGETS
from .validation import ValidationMode, ValidationResult, validate

if TYPE_CHECKING:
    import pluggy

DEFAULT_SAMPLES = 2


@dataclass
class StageRecord:
    seconds: float
    status: str = "ok"  # "ok" or "failed"


@dataclass
class Run:
    case: Case
    config: RunConfig
    resolver: ModelResolver
    cache: Cache
    artifacts_dir: Path
    hook: pluggy.HookRelay | None = None
    default_until: Stage = Stage.POSTPROCESS

    metrics: dict[str, Any] = field(default_factory=dict)
    stages: dict[str, StageRecord] = field(default_factory=dict)
    model: Model | None = None
    samples: SampleSet | None = None
    artifact: Artifact | None = None
    program: Program | None = None
    output: RunOutput | None = None
    reference: list[list[np.ndarray]] | None = None
    validation: ValidationResult | None = None
    done: Stage | None = None
    # Feature profile: one row per operator (operator_rows), in the record's "operators".
    operators: list[dict[str, Any]] = field(default_factory=list)
    _unsupported: list[Gap] | None = None  # the backend's gaps for the model, once checked

    def __post_init__(self) -> None:
        self.backend: Backend = BACKENDS.get(self.case.backend)(
            self.config.scoped(self.case.backend), self.cache, self.case.features
        )
        self.target: Target = TARGETS.get(self.case.target)(
            self.config.scoped(self.case.target), self.cache, self.case.features
        )

    # -- public API ---------------------------------------------------------------
    @property
    def id(self) -> str:
        return self.case.id

    @property
    def outputs(self) -> list[list[np.ndarray]]:
        """Outputs per sample and output index, typed like the model's outputs."""
        if self.output is None or self.model is None:
            return []
        infos = self.model.metadata.outputs
        return [
            [
                np.frombuffer(raw, dtype=infos[i].dtype).reshape(infos[i].shape)
                for i, raw in enumerate(sample)
            ]
            for sample in self.output.outputs
        ]

    def skip_reason(self) -> str | None:
        if not self.backend.supports(type(self.target)):
            families = ", ".join(sorted(self.backend.families or []))
            return (
                f"backend {self.backend.name} does not support target {self.target.name} "
                f"(family {self.target.family}; supported: {families})"
            )
        return self.backend.unavailable_reason() or self.target.unavailable_reason()

    def process(self, until: Stage | str | None = None, *, validate_outputs: bool = True) -> Run:
        """Run the stages up to and including ``until`` (default: the session's --mlonmcu-until).

        Raises the stage's error (ModelError, BuildError, CompileError, RunError) or a
        ValidationError when the outputs differ from the reference; metrics measured
        until then stay readable and are written to metrics.json either way.
        """
        last = Stage.parse(until) if until is not None else self.default_until
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        try:
            for stage in Stage:
                if stage > last:
                    break
                if self.done is not None and stage <= self.done:
                    continue
                start = time.perf_counter()
                try:
                    getattr(self, f"_stage_{stage.label}")()
                except BaseException:
                    self.stages[stage.label] = StageRecord(time.perf_counter() - start, "failed")
                    raise
                self.stages[stage.label] = StageRecord(time.perf_counter() - start)
                self.done = stage
        finally:
            self.write_metrics()
        if validate_outputs and self.validation is not None:
            self.validation.raise_if_failed()
        return self

    def can_measure_latency(self) -> bool:
        """True when the run's invoke can be timed in this process (host runners)."""
        return self.artifact is not None and self.artifact.kind == "host_runner"

    def measure_latency(self, benchmark: Any) -> float | None:
        """Wall time of one invoke through pytest-benchmark's ``benchmark`` fixture.

        Host runs only (a simulator's wall time says nothing about the device); the
        run's metrics ride along in ``benchmark.extra_info``. Returns milliseconds.
        """
        benchmark.extra_info.update({"mlonmcu_id": self.id, **self.metrics})
        if self.artifact is None or self.artifact.kind != "host_runner" or self.samples is None:
            return None
        # Every host runner module offers interpreter_with_inputs(runner, inputs) -> .invoke()
        runner = importlib.import_module(self.artifact.runner["module"])
        interp = runner.interpreter_with_inputs(self.artifact.runner, self.samples.inputs[0])
        benchmark(interp.invoke)
        stats = getattr(getattr(benchmark, "stats", None), "stats", None)
        if stats is None:  # benchmarking disabled (e.g. under xdist): no figure
            return None
        latency = stats.mean * 1000.0
        self.metrics["latency_ms"] = round(latency, 4)
        self.write_metrics()
        return latency

    def write_metrics(self) -> None:
        data = {
            "id": self.id,
            "model": self.case.model,
            "backend": self.case.backend,
            "target": self.case.target,
            "features": list(self.case.features),
            "stages": {
                k: {"seconds": round(v.seconds, 4), "status": v.status}
                for k, v in self.stages.items()
            },
            "metrics": self.metrics,
            "config": self.config.as_dict(),
        }
        text = json.dumps(portable(data), indent=2, allow_nan=False)
        atomic_write_text(self.artifacts_dir / "metrics.json", text)

    # -- stages -------------------------------------------------------------------
    def _stage_load(self) -> None:
        self.model = self.resolver.resolve(self.case.model)
        meta = self.model.metadata  # parses: a bad file fails here, naming itself
        shutil.copy2(self.model.path, self.artifacts_dir / "model.tflite")
        cfg = self.config.scoped("run")
        count = cfg.get_int("samples", DEFAULT_SAMPLES, minimum=1)
        inputs = self.model.sample_inputs(count, seed=cfg.get_int("seed", 0))
        self.samples = SampleSet(inputs, invoke_runs=cfg.get_int("invoke_runs", 1, minimum=1))
        self.samples.save(self.artifacts_dir / "inputs.npz")
        self.metrics.update(
            {"macs": meta.macs, "param_bytes": meta.param_bytes, "model_ops": len(meta.ops)}
        )

    def _stage_tune(self) -> None:
        if self._gaps():
            return  # the build stage refuses the model, naming every gap
        self.backend.tune(self.model, self.target, self._stage_dir("tune"))

    @contextlib.contextmanager
    def _naming_tflm_node(self) -> Iterator[None]:
        """A failure in which TFLM names a failing node gets a line saying which operator of
        the model that is and whose limit it is."""
        try:
            yield
        except MlonmcuError as exc:
            note = tflm_node_note(str(exc), self.model.metadata) if self.model else None
            if note:
                exc.args = (f"{exc.args[0]}\n{note}", *exc.args[1:])
            raise

    def _gaps(self) -> list[Gap]:
        """What of the model the backend cannot build (from the metadata; nothing built)."""
        assert self.model is not None
        if self._unsupported is None:
            self._unsupported = self.backend.unsupported(self.model.metadata, self.target)
        return self._unsupported

    def _stage_dir(self, name: str) -> Path:
        path = self.artifacts_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _stage_build(self) -> None:
        if self._gaps():
            with naming_model(self.model.path):
                raise UnsupportedModelError(self.backend.name, self._gaps())
        self.artifact = self.backend.build(self.model, self.target, self._stage_dir("build"))
        self.metrics.update(self.artifact.metrics)

    def _stage_compile(self) -> None:
        self.program = self.target.compile(self.artifact, self.samples, self._stage_dir("compile"))
        self.metrics.update(self.program.metrics)

    def _stage_run(self) -> None:
        with self._naming_tflm_node():
            self.output = self.target.run(self.program, self._stage_dir("run"))
        self.metrics.update(self.output.metrics)
        if self.output.op_counts:
            self._profile_rows()

    def _profile_rows(self) -> None:
        """Feature profile: each operator's instructions (its bracket's count minus an empty
        bracket's), the bracket's cost and what the invoke spent outside every bracket."""
        assert self.output is not None and self.model is not None
        if self.output.op_bracket is None or None in self.output.op_counts.values():
            raise RunError(
                f"feature profile: target {self.target.name} reported no per-operator counts "
                f"(is its instruction counting off, e.g. {self.target.name}.count=false?)"
            )
        bracket = self.output.op_bracket
        labels = self.artifact.operators if self.artifact is not None else []
        self.operators = operator_rows(self.output.op_counts, bracket, self.model.metadata, labels)
        raw = sum(self.output.op_counts.values())
        self.metrics["profile_bracket_instructions"] = bracket
        self.metrics["profile_brackets"] = len(self.output.op_counts)
        invoke = self.metrics.get("invoke_instructions")
        if isinstance(invoke, int):
            self.metrics["profile_outside_instructions"] = invoke - raw
        header = [
            "index",
            "operator",
            "output_shape",
            "macs",
            "instructions",
            "instructions_per_mac",
        ]
        lines = [",".join(header)]
        for row in self.operators:
            shape = "x".join(map(str, row["output_shape"]))
            lines.append(",".join(str(row[k]) if k != "output_shape" else shape for k in header))
        atomic_write_text(self.artifacts_dir / "run" / "operators.csv", "\n".join(lines) + "\n")

    def _stage_postprocess(self) -> None:
        mode_text = self.config.scoped("validation").get("mode") or self.backend.validation_mode(
            self.model.metadata
        )
        mode = ValidationMode.parse(mode_text)
        if self.config.scoped("validation").get_bool("enabled", True):
            arena = reference_arena(self.model, self.cache)
            with self._naming_tflm_node():
                self.reference = reference_outputs(self.model, self.samples, self.cache, arena)
            self.validation = validate(self.reference, self.output.outputs, mode)
            self.metrics.update(self.validation.metrics())
        if self.hook is not None:
            for extra in self.hook.pytest_mlonmcu_add_metrics(run=self):
                if extra:
                    self.metrics.update(extra)


def operator_rows(
    counts: dict[int, int], bracket: int, meta: Any, labels: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Rows of feature profile, one per bracket of the backend: the model's operators (or
    ``labels``: what each bracket is, e.g. TVM's fused kernels). Each row: index, operator,
    output shape, MACs, instructions (its bracket's count minus an empty bracket's; 0 for an
    operator without code, e.g. a RESHAPE that only renames a buffer), instructions per MAC."""
    if not labels:
        labels = [
            {"operator": name, "output_shape": meta.op_output_shapes[i], "macs": meta.op_macs[i]}
            for i, name in enumerate(meta.ops)
        ]
    rows = []
    for index, label in enumerate(labels):
        macs = label.get("macs") or 0
        instructions = counts[index] - bracket if index in counts else 0
        rows.append(
            {
                "index": index,
                "operator": label["operator"],
                "output_shape": list(label["output_shape"]),
                "macs": macs,
                "instructions": instructions,
                "instructions_per_mac": round(instructions / macs, 3) if macs else None,
            }
        )
    return rows
