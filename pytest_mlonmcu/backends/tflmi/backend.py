"""tflmi: the TensorFlow Lite Micro interpreter (framework tflm).

On host_x86 this is the real interpreter of the ``tflite-micro`` wheel, run in a
subprocess; callgrind counts its AllocateTensors and Invoke exactly. The arena is
the smallest with which AllocateTensors succeeds (found by search, cached), or
``tflmi.arena_size``.

On the bare-metal targets (riscv and arm families) it is TFLM built from source for the
target (``library.py``, one cached library per target variant and feature set) and a
program made of ``backends/tflmi/tflmi_glue.cc`` (mlif.h: init = interpreter construction +
AllocateTensors, invoke = Invoke), the model as a const array in ROM and a static arena. The
arena is the smallest that works on that target: a probe build of the same program finds it by
bisection in one simulator run (cached per model, target and library), or ``tflmi.arena_size``.
Feature ``cmsisnn`` links the library variant with TFLM's CMSIS-NN kernels.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import shlex
import shutil
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ...core import proc
from ...core.artifacts import Artifact
from ...core.cache import atomic_write_text, hash_key
from ...core.components import Backend
from ...core.config import ComponentConfig
from ...core.ctext import c_comment_text
from ...core.errors import BuildError, RunError, UnsupportedOperatorError, naming_model
from ...core.samples import SampleSet
from ...install.tflm import source_tree
from ...models.support import Gap, libm_float_validation, merged, operator_gaps, type_gaps
from ...platforms.mlif.target import COMMON_DIR
from . import runner as tflmi_runner
from .library import (
    TflmLibrary,
    compile_with_library,
    ensure_tflm_library,
    resolver_operators,
    spec_for_target,
)

if TYPE_CHECKING:
    from ...core.components import Target
    from ...models.metadata import ModelMetadata
    from ...models.model import Model
    from ...platforms.mlif.target import CompiledTarget

log = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).resolve().parent  # the glue sources beside this file
TEMPLATES = (
    "tflmi_glue.cc",
    "tflmi_glue.h",
    "tflmi_main.cc",
    "tflmi_probe.cc",
    "tflm_debug_log.cc",
)
OPS_HEADER = "tflmi_ops.h"  # generated: the resolver's operators
MODEL_HEADER = "tflmi_model.h"  # generated: arena size
MODEL_DATA = "tflmi_model_data.cc"  # generated: the model array
# Upper end of the probe's heap block; it takes the largest block malloc gives below this.
PROBE_MAX_BYTES = 16 << 20
# The host arena search takes well under a second per model; a hang is a broken model.


# TFLM's kernels dropped uint8 arithmetic: only these take uint8 tensors (moving bytes).
UINT8_OPERATORS = ("QUANTIZE", "DEQUANTIZE", "RESHAPE", "SQUEEZE", "REVERSE_V2")


def _tflm_type_problem(name: str, types: tuple[str, ...]) -> str | None:
    if "uint8" in types and name not in UINT8_OPERATORS:
        return f"TFLM takes uint8 only in {', '.join(UINT8_OPERATORS)}"
    return None


class TflmiBackend(Backend):
    name = "tflmi"
    framework = "tflm"
    description = (
        "TFLite Micro interpreter (tflite-micro wheel on the host; TFLM built from source on "
        "bare-metal targets)"
    )
    families = frozenset({"x86", "riscv", "arm"})
    validation = "exact"
    config_keys = {
        "arena_size": "auto (smallest that works on the target)",
        "debug_log": "true (TFLM's messages through the harness; false: no vsnprintf)",
    }
    features = frozenset({"cmsisnn", "profile"})
    python_runner_families = frozenset({"x86"})  # the tflite-micro wheel
    # Features that change the TFLM library itself (a library variant each).
    library_features = frozenset({"cmsisnn"})

    def unavailable_reason(self) -> str | None:
        # The wheel runs host_x86 and makes the reference outputs for every target.
        try:
            import tflite_micro  # noqa: F401
        except ImportError:
            return (
                "backend tflmi: the tflite-micro wheel is not installed (pip install tflite-micro)"
            )
        return None

    # -- host: the wheel ---------------------------------------------------------------------
    def arena_size(self, model: Model) -> int:
        """The wheel's (64-bit host) smallest arena, or ``tflmi.arena_size``."""
        configured = self.config.get_int("arena_size", minimum=1)
        if configured:
            return configured
        runner = Path(tflmi_runner.__file__)  # our search code is an input too
        key = hash_key("tflmi-arena", model.sha256, wheel_version(), runner)

        def produce(tmp: Path) -> None:
            cmd = [sys.executable, "-m", tflmi_runner.PROGRAM, "arena", str(model.path)]
            result = proc.run(cmd, timeout=proc.limit("host"), what="tflmi: the arena search")
            if result.returncode == tflmi_runner.EXIT_ALLOCATION_ERROR:
                raise allocation_error(result.stdout)
            if result.returncode != 0:
                raise BuildError(
                    f"tflmi: the TFLM interpreter cannot load the model ({exit_status(result)}):\n"
                    f"{result.stderr.strip()[-2000:]}"
                )
            atomic_write_text(tmp / "arena", result.stdout.strip())

        with naming_model(model.path):
            entry = self.cache.get_or_create("tflmi-arena", key, produce)
        return int((entry / "arena").read_text())

    def build(self, model: Model, target: Target, work_dir: Path) -> Artifact:
        with naming_model(model.path):
            if target.family == "x86":
                return self._build_wheel(model, work_dir)
            return self._build_compiled(model, target, work_dir)  # type: ignore[arg-type]

    def _build_wheel(self, model: Model, work_dir: Path) -> Artifact:
        arena = self.arena_size(model)
        work_dir.mkdir(parents=True, exist_ok=True)
        return Artifact(
            backend=self.name,
            directory=work_dir,
            kind="host_runner",
            metrics={"arena_bytes": arena},
            runner={
                "module": tflmi_runner.PROGRAM,  # python -m, and imported for wall time
                "model": str(model.path),
                "arena": arena,
                "setup_function": tflmi_runner.ALLOCATE_FUNCTION,
                "invoke_function": tflmi_runner.INVOKE_FUNCTION,
            },
        )

    # -- bare-metal targets: TFLM from source -------------------------------------------------
    def tflm_config(self) -> ComponentConfig:
        """The ``tflm.*`` settings (tflm.source) of this run."""
        return ComponentConfig("tflm", self.config._config)  # same run, sibling scope

    def library(self, target: CompiledTarget, methods: Sequence[str] | None = None) -> TflmLibrary:
        """The target's TFLM library; with ``methods``, only the kernels they reach."""
        spec = spec_for_target(target, [f for f in self.features if f in self.library_features])
        # Progress goes to the log (shown for failing tests); `python -m pytest_mlonmcu install
        # tflm --target NAME` builds the whole library with the progress on the terminal.
        return ensure_tflm_library(
            spec, self.tflm_config(), self.cache, progress=log.info, methods=methods
        )

    def validation_mode(self, metadata: ModelMetadata) -> str:
        # float32 arithmetic is reproduced exactly; expf, tanhf... are the target's C library's
        return libm_float_validation(metadata) or self.validation

    def unsupported(self, metadata: ModelMetadata, target: Target) -> list[Gap]:
        gaps = type_gaps(metadata, _tflm_type_problem)
        if target.family not in self.python_runner_families:  # the wheel: TFLM says at load
            ops = resolver_operators(source_tree(self.tflm_config(), self.cache, log.info))
            gaps += operator_gaps(
                metadata,
                ops.builtin,
                "not in TFLM's MicroMutableOpResolver (no Add method registers it)",
                custom=ops.custom,
                custom_cause="a custom operator that TFLM's MicroMutableOpResolver does not provide",
            )
        return merged(gaps)

    def check_operators(self, model: Model) -> list[str]:
        """The resolver methods for the model's operators; unknown ones fail the build."""
        ops = resolver_operators(source_tree(self.tflm_config(), self.cache, log.info))
        methods: list[str] = []
        for index, op in enumerate(model.metadata.ops):
            if op.startswith("CUSTOM:"):
                method = ops.custom.get(op.removeprefix("CUSTOM:"))
                why = "a custom operator that TFLM's MicroMutableOpResolver does not provide"
            else:
                method = ops.builtin.get(op)
                why = "not in TFLM's MicroMutableOpResolver (no Add method registers it)"
            if method is None:
                err = UnsupportedOperatorError(op, index, self.name)
                err.args = (f"{err.args[0]}: {why}",)
                raise err
            if method not in methods:
                methods.append(method)
        return methods

    def _build_compiled(self, model: Model, target: CompiledTarget, work_dir: Path) -> Artifact:
        methods = self.check_operators(model)  # before the (long) library build
        lib = self.library(target, methods)
        work_dir.mkdir(parents=True, exist_ok=True)
        for name in TEMPLATES:
            shutil.copy2(TEMPLATE_DIR / name, work_dir / name)  # a self-contained build dir
        atomic_write_text(work_dir / OPS_HEADER, ops_header(model, methods))
        write_model_data(model, work_dir / MODEL_DATA)
        # The part that needs TFLM's headers is slow to compile (~10 s): once per operator set
        # and library, with the library's flags, so targets sharing the library share it too.
        glue, glue_cmd = compile_with_library(
            lib,
            work_dir / "tflmi_glue.cc",
            [work_dir / "tflmi_glue.h", work_dir / OPS_HEADER, COMMON_DIR / "mlif.h"],
            self.cache,
            extra_defines={"MLIF_TFLM_PROFILE": "1"} if "profile" in self.features else None,
        )
        atomic_write_text(
            work_dir / "tflmi_glue_command.sh", "#!/bin/sh\n" + shlex.join(glue_cmd) + "\n"
        )
        configured = self.config.get_int("arena_size", minimum=1)
        if configured:
            arena, how = configured, "configured"
        else:
            arena, how = self.probe_arena(model, target, lib, glue, work_dir)
        atomic_write_text(work_dir / MODEL_HEADER, model_header(model, arena))
        artifact = self.program(lib, glue, work_dir, "tflmi_main.cc")
        artifact.metrics.update(
            {
                "arena_bytes": arena,
                # "minimum" (the probe's search), "padded" (the search crashed inside TFLM:
                # one allocation's size plus room) or "configured" (tflmi.arena_size)
                "tflm_arena_from": how,
                "tflm_library_cached": lib.cached,
                "tflm_library_build_seconds": lib.build_seconds,
                "tflm_library": lib.key,
            }
        )
        return artifact

    def program(self, lib: TflmLibrary, glue: Path, src_dir: Path, main: str) -> Artifact:
        """A tflmi program: ``main`` (tflmi_main.cc or the probe), DebugLog, the model data."""
        debug_log = self.config.get_bool("debug_log", True)
        return Artifact(
            backend=self.name,
            directory=src_dir,
            sources=[src_dir / main, src_dir / "tflm_debug_log.cc", src_dir / MODEL_DATA],
            include_dirs=[src_dir, *lib.include_dirs],
            defines={**lib.defines, "MLIF_TFLM_DEBUG_LOG": "1" if debug_log else "0"},
            libraries=[glue, lib.archive],
            # Same C++ dialect as the library (no RTTI/exceptions, no unwind tables).
            extra_cflags=[*lib.cxxflags, "-fno-unwind-tables", "-fno-asynchronous-unwind-tables"],
            profiled="profile" in self.features,  # the glue's profiler calls the harness
        )

    def probe_arena(
        self, model: Model, target: CompiledTarget, lib: TflmLibrary, glue: Path, work_dir: Path
    ) -> tuple[int, str]:
        """The smallest arena AllocateTensors accepts on ``target`` (one probe run, cached),
        and how it was found: "minimum", or "padded" where the search crashed inside TFLM."""
        templates = [TEMPLATE_DIR / n for n in TEMPLATES]
        key = hash_key(
            "tflmi-target-arena-v2", model.sha256, target.build_identity(), lib.key, *templates
        )

        def produce(tmp: Path) -> None:
            probe_dir = work_dir / "arena_probe"
            if probe_dir.exists():
                shutil.rmtree(probe_dir)
            src = probe_dir / "src"
            src.mkdir(parents=True)
            for stage in ("run", "run-nosearch"):  # targets expect their stage dirs to exist
                (probe_dir / stage).mkdir()
            for f in work_dir.iterdir():
                if f.is_file():
                    shutil.copy2(f, src / f.name)
            atomic_write_text(src / MODEL_HEADER, model_header(model, 0))
            zeros = [np.zeros(t.shape, dtype=t.dtype) for t in model.metadata.inputs]

            def run_probe(search: bool) -> dict:
                artifact = self.program(lib, glue, src, "tflmi_probe.cc")
                artifact.defines["MLIF_TFLM_PROBE_SEARCH"] = "1" if search else "0"
                suffix = "" if search else "-nosearch"  # the crashed search's logs stay
                program = target.compile(
                    artifact, SampleSet([zeros]), probe_dir / f"compile{suffix}"
                )
                return target.run(program, probe_dir / f"run{suffix}").metrics

            how = "minimum"
            try:
                found = run_probe(search=True).get("tflm_arena_min")
            except RunError as exc:
                # TFLM crashes at some arenas below the minimum (tflmi_probe.cc): without the
                # search, what one allocation used plus room for Prepare's temporary tensors.
                try:
                    used = run_probe(search=False).get("tflm_arena_used")
                except RunError:
                    used = None
                if not used:
                    raise BuildError(
                        f"tflmi: the arena probe failed on {target.name} (set tflmi.arena_size "
                        f"to skip it):\n{exc}"
                    ) from exc
                found, how = _padded_arena(int(used)), "padded"
                log.warning(
                    "tflmi: the arena search crashed inside TFLM on %s (%s); arena %d bytes: "
                    "%d used plus room for temporary tensors",
                    target.name,
                    str(exc).splitlines()[0],
                    found,
                    used,
                )
            if not found:
                raise BuildError(f"tflmi: the arena probe on {target.name} reported no arena size")
            atomic_write_text(tmp / "arena", str(found))
            atomic_write_text(tmp / "how", how)

        entry = self.cache.get_or_create("tflmi-target-arena", key, produce)
        return int((entry / "arena").read_text()), (entry / "how").read_text()


def _padded_arena(used: int) -> int:
    """An arena for ``used`` bytes of tensors plus the temporary tensors Prepare allocates
    above them (a TfLiteTensor and its quantization each: 1 KiB, or 1/8 for larger models),
    rounded up to 16 bytes."""
    padded = used + max(1024, used // 8)
    return (padded + 15) // 16 * 16


def exit_status(result: proc.Completed) -> str:
    """How a child process ended, in words (a crash names its signal)."""
    if result.returncode < 0:
        try:
            return f"killed by signal {signal.Signals(-result.returncode).name}"
        except ValueError:
            return f"killed by signal {-result.returncode}"
    return f"exit status {result.returncode}"


def allocation_error(report: str) -> BuildError:
    """The wheel's AllocateTensors failure (tflmi_runner's JSON) as an error: a missing
    operator is an UnsupportedOperatorError with TFLM's own messages."""
    try:
        info = json.loads(report)
    except json.JSONDecodeError:
        return BuildError(f"tflmi: the arena search failed:\n{report.strip()[-2000:]}")
    if info.get("op"):
        err = UnsupportedOperatorError(info["op"], info["index"], "tflmi (tflite-micro wheel)")
        tflm_lines = info["error"].split("\n", 1)[-1]  # after the runner's own first line
        err.args = (f"{err.args[0]}; TFLM says:\n{tflm_lines}",)
        return err
    return BuildError(f"tflmi: the TFLM interpreter cannot allocate the model: {info['error']}")


def ops_header(model: Model, methods: list[str]) -> str:
    ops = " \\\n".join(f"  X({m})" for m in methods)
    return (
        "/* Generated by pytest-mlonmcu (backend tflmi): the operators of "
        f"{c_comment_text(model.name)}. */\n"
        "#ifndef TFLMI_OPS_H\n#define TFLMI_OPS_H\n\n"
        "/* One MicroMutableOpResolver method per operator of the model. */\n"
        f"#define MLIF_TFLM_OP_COUNT {len(methods)}\n"
        f"#define MLIF_TFLM_OPERATORS(X) \\\n{ops}\n\n"
        "#endif /* TFLMI_OPS_H */\n"
    )


def model_header(model: Model, arena: int) -> str:
    return (
        f"/* Generated by pytest-mlonmcu (backend tflmi) for {c_comment_text(model.name)}. */\n"
        "#ifndef TFLMI_MODEL_H\n#define TFLMI_MODEL_H\n\n"
        f"#define MLIF_TFLM_ARENA_SIZE {arena}\n"
        f"#define MLIF_TFLM_MODEL_BYTES {len(model.data)}\n"
        "/* The arena probe takes the largest heap block below this. */\n"
        f"#define MLIF_TFLM_PROBE_MAX {PROBE_MAX_BYTES}u\n\n"
        "#endif /* TFLMI_MODEL_H */\n"
    )


def write_model_data(model: Model, path: Path) -> None:
    """The .tflite as a const array (ROM), aligned 16 as TFLM wants its flatbuffer."""
    data = model.data
    rows = [",".join(str(b) for b in data[i : i + 32]) + "," for i in range(0, len(data), 32)]
    text = (
        f"/* Generated by pytest-mlonmcu: {c_comment_text(model.path.name)} ({len(data)} bytes, "
        f"sha256 {model.sha256[:16]}...). */\n"
        '#include "tflmi_glue.h"\n\n'
        f"alignas(16) const unsigned char mlif_tflm_model[{len(data)}] = {{\n"
        + "\n".join(rows)
        + "\n};\n"
    )
    atomic_write_text(path, text)


def wheel_version() -> str:
    try:
        return importlib.metadata.version("tflite-micro")
    except importlib.metadata.PackageNotFoundError:
        return "none"
