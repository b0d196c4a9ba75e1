"""host_x86: native gcc on the x86-64 host; exact instructions via callgrind."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.artifacts import Artifact, Program, RunOutput
from ..core.errors import RunError
from ..core.protocol import HarnessReport, parse_harness_output
from ..platforms.mlif.target import HARNESS_DIR, CompiledTarget, run_with_timeout, tail
from ..platforms.mlif.toolchain import Toolchain
from .callgrind import (
    MEASURED_CALL,
    callgrind_command,
    callgrind_counts,
    callgrind_dumps,
    profile_command,
    profile_counts,
)

if TYPE_CHECKING:
    from ..core.samples import SampleSet


class HostX86(CompiledTarget):
    name = "host_x86"
    description = "native x86-64 host (gcc); exact instructions via callgrind, plus wall time"
    family = "x86"
    config_keys = {"optimize": "2", "timeout": "120", "callgrind": "true"}
    required_tools = {"gcc": "gcc", "valgrind": "valgrind"}
    program_name = "program"
    profile_points = True  # feature profile: callgrind dumps before each bracket edge

    def toolchain(self) -> Toolchain:
        return Toolchain(
            prefix="",
            cflags=[
                *self.opt_flags(),
                "-ffp-contract=off",
                "-ffunction-sections",
                "-fdata-sections",
            ],
            ldflags=["-Wl,--gc-sections"],
            libs=["-lm"],
        )

    def support_sources(self) -> list[Path]:
        return [HARNESS_DIR / "host" / "target_host.c"]

    def use_callgrind(self) -> bool:
        return self.config.get_bool("callgrind", True)

    # -- compiled programs ----------------------------------------------------------
    def compile(self, artifact: Artifact, samples: SampleSet, work_dir: Path) -> Program:
        if artifact.kind == "host_runner":
            work_dir.mkdir(parents=True, exist_ok=True)
            samples.save(work_dir / "inputs.npz")
            # The program is the runner with these samples, invoked as often as a compiled one.
            runner = {**artifact.runner, "invoke_runs": samples.invoke_runs}
            program_artifact = dataclasses.replace(artifact, runner=runner)
            return Program(self.name, work_dir / "inputs.npz", work_dir, artifact=program_artifact)
        return super().compile(artifact, samples, work_dir)

    def run_command(self, program: Program, work_dir: Path) -> list[str]:
        prefix = []
        if self.use_callgrind():
            if self.profiled(program):
                prefix = profile_command(work_dir)
            else:
                prefix = callgrind_command([MEASURED_CALL], work_dir)
        return [*prefix, str(program.path)]

    @staticmethod
    def profiled(program: Program) -> bool:
        return program.artifact is not None and program.artifact.profiled

    def collect_counts(
        self, report: HarnessReport, program: Program, work_dir: Path, counts_prefix: list[int]
    ) -> None:
        if not self.use_callgrind():
            return
        try:
            if self.profiled(program):
                regions, points = profile_counts(callgrind_dumps(work_dir))
                report.fill_counts(counts_prefix + regions)
                if report.op_counts:
                    report.fill_op_counts(points)
            else:
                report.fill_counts(counts_prefix + callgrind_counts(work_dir))
        except ValueError as exc:  # fewer dumps than measured calls or bracket edges
            log = work_dir / "run.log"
            output = log.read_text(errors="replace") if log.is_file() else ""
            raise RunError(
                f"{self.name}: callgrind: {exc}\n--- output tail ---\n{tail(output)}"
            ) from None

    # -- host runners (the tflite-micro wheel) ---------------------------------------
    def run(self, program: Program, work_dir: Path) -> RunOutput:
        if program.artifact is None or program.artifact.kind != "host_runner":
            return super().run(program, work_dir)
        runner = program.artifact.runner
        base = [sys.executable, "-m", runner["module"]]
        model, arena = runner["model"], str(runner["arena"])
        runs = str(runner.get("invoke_runs", 1))
        run_cmd = [*base, "run", model, arena, str(program.path), runs]
        if not self.use_callgrind():
            return self.run_and_parse(run_cmd, program, work_dir)
        # valgrind 3.19 honours only the first of several --toggle-collect names that start
        # alike (both are tflite::...): setup and invoke are counted in two runs.
        setup_dir = work_dir / "callgrind_setup"
        setup_dir.mkdir(exist_ok=True)
        setup_cmd = [
            *callgrind_command([runner["setup_function"]], setup_dir),
            *base,
            "setup",
            model,
            arena,
        ]
        setup_counts = self.run_setup(setup_cmd, setup_dir, runner["setup_function"])
        cmd = [*callgrind_command([runner["invoke_function"]], work_dir), *run_cmd]
        return self.run_and_parse(cmd, program, work_dir, counts_prefix=setup_counts)

    def run_setup(self, cmd: list[str], work_dir: Path, function: str) -> list[int]:
        """The runner's setup alone under callgrind: the count of its one call of ``function``.

        The runner reports like a harness (MLIF setup/done lines): a failing setup is a
        RunError with its status, TFLM's or Python's messages and the command."""
        output, _ = run_with_timeout(
            cmd, work_dir, self.timeout(), work_dir / "run.log", setting=f"{self.name}.timeout"
        )
        report = parse_harness_output(output)
        try:
            self.check_report(report, output, cmd)
        except RunError as exc:
            raise RunError(f"the setup run failed: {exc}") from None
        counts = callgrind_counts(work_dir)
        if len(counts) != 1:
            raise RunError(
                self.failure(
                    f"the setup run made {len(counts)} calls of {function}, expected 1",
                    output,
                    cmd,
                )
            )
        return counts
