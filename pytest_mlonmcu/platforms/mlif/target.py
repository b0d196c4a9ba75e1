"""The bare-metal platform: harness + backend sources -> ELF -> simulator run.

``CompiledTarget`` holds everything targets share: generating the sample data,
compiling the harness (cached) and the backend's sources, linking, reading ROM/RAM
from the ELF, running the program under a timeout, parsing the harness protocol
and turning failures into errors that carry the output tail and the command line
to reproduce. A concrete target supplies its toolchain, support files, linker
script and simulator command (and, if the program cannot read a counter, how the
counts are obtained from outside).
"""

from __future__ import annotations

import functools
import os
import re
import shlex
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from ...core import proc
from ...core.artifacts import Artifact, Program, RunOutput
from ...core.cache import file_digest
from ...core.components import Target
from ...core.elf import elf_sizes, symbol_addresses
from ...core.errors import CompileError, RunError
from ...core.protocol import HarnessReport, parse_harness_output
from .objects import Unit, compile_units
from .toolchain import CommandLog, Toolchain

if TYPE_CHECKING:
    from ...core.samples import SampleSet

HARNESS_DIR = Path(str(resources.files("pytest_mlonmcu") / "harness"))
COMMON_DIR = HARNESS_DIR / "common"
TAIL_LINES = 40


@functools.cache
def harness_digest() -> str:
    """Digest of the harness tree (C sources, headers, linker scripts), once per process."""
    return file_digest(HARNESS_DIR)


# valgrind's own lines ("==PID== ..."): its banner and summary would fill a failure's tail.
_VALGRIND_LINE = re.compile(r"^==\d+== ")


def tail(text: str, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` lines of a program's output, without valgrind's own lines (the
    program's and TFLM's messages are what tells the cause)."""
    kept = [ln for ln in text.strip().splitlines() if not _VALGRIND_LINE.match(ln)]
    return "\n".join(kept[-lines:])


class CompiledTarget(Target):
    """A target that runs programs built from C sources with a GCC toolchain."""

    # The name of the executable produced by link().
    program_name = "program.elf"

    # -- what a concrete target provides ------------------------------------------
    def toolchain(self) -> Toolchain:
        raise NotImplementedError

    def build_identity(self) -> dict:
        """``identity()`` plus everything else that changes a program built for this target:
        the toolchain (flags and compiler versions) and the harness sources (cache keys of
        results measured by running programs)."""
        return {
            **self.identity(),
            "toolchain": self.toolchain().identity(),
            "harness": harness_digest(),
        }

    def support_sources(self) -> list[Path]:
        """Startup code and mlif_target.h implementation of this target."""
        raise NotImplementedError

    def support_include_dirs(self) -> list[Path]:
        return []

    def link_flags(self, work_dir: Path) -> list[str]:
        """Linker script and memory layout flags (may write files into work_dir)."""
        return []

    def run_command(self, program: Program, work_dir: Path) -> list[str]:
        raise NotImplementedError

    def collect_counts(
        self, report: HarnessReport, program: Program, work_dir: Path, counts_prefix: list[int]
    ) -> None:
        """Fill instruction counts the program could not read itself (plugins, callgrind).

        ``counts_prefix`` holds counts measured in an earlier process of the same run.
        """

    def run_env(self) -> dict[str, str] | None:
        return None

    # -- compile ------------------------------------------------------------------
    def opt_flags(self) -> list[str]:
        return [f"-O{self.config.get('optimize', '2')}"]

    def compile(self, artifact: Artifact, samples: SampleSet, work_dir: Path) -> Program:
        if artifact.kind != "c_sources":
            raise CompileError(
                f"target {self.name} cannot run a {artifact.kind!r} artifact of backend {artifact.backend}"
            )
        tc = self.toolchain()
        log = CommandLog()
        work_dir.mkdir(parents=True, exist_ok=True)
        obj_dir = work_dir / "obj"
        data_c = work_dir / "mlif_data.c"
        samples.write_c(data_c)

        harness_includes = [COMMON_DIR, *self.support_include_dirs()]
        harness = [COMMON_DIR / "main.c", *self.support_sources()]
        includes = [*harness_includes, *artifact.include_dirs]
        # Feature profile: main.c with the per-operator brackets (another cached object).
        main_defines = {"MLIF_PROFILE": "1"} if artifact.profiled else {}
        units = [
            Unit(
                src, src.stem + ".o", harness_includes, main_defines if src.name == "main.c" else {}
            )
            for src in harness
        ]
        units.append(Unit(data_c, "mlif_data.o", [COMMON_DIR]))
        units += [
            Unit(
                src, f"{src.parent.name}__{src.stem}.o", includes, artifact.defines,
                artifact.extra_cflags,
            )
            for src in artifact.sources
        ]  # fmt: skip
        try:
            objs = compile_units(self.cache, tc, units, obj_dir, log)
        except CompileError:
            log.write_script(work_dir / "compile_commands.sh")
            raise
        elf = work_dir / self.program_name
        driver = tc.cxx if artifact.needs_cxx and tc.cxx_driver == "g++" else tc.cc
        cmd = [driver, *tc.cflags, *self.link_flags(work_dir), *tc.ldflags]
        cmd += [f"-Wl,-Map={work_dir / 'program.map'}", "-o", str(elf)]
        cmd += [str(o) for o in objs] + [str(lib) for lib in artifact.libraries] + tc.libs
        try:
            log.run(cmd, what="linking")
        finally:
            log.write_script(work_dir / "compile_commands.sh")
        sizes = elf_sizes(elf)
        return Program(
            target=self.name,
            path=elf,
            work_dir=work_dir,
            metrics=sizes.as_metrics(),
            commands=log.commands,
            symbols=symbol_addresses(
                elf, ["mlif_mark_begin", "mlif_mark_end", "main", "mlif_profile_point"]
            ),
            artifact=artifact,
        )

    # -- run ----------------------------------------------------------------------
    def run(self, program: Program, work_dir: Path) -> RunOutput:
        return self.run_and_parse(self.run_command(program, work_dir), program, work_dir)

    def run_and_parse(
        self,
        cmd: list[str],
        program: Program,
        work_dir: Path,
        counts_prefix: list[int] | None = None,
    ) -> RunOutput:
        log_path = work_dir / "run.log"
        output, seconds = run_with_timeout(
            cmd, work_dir, self.timeout(), log_path, self.run_env(), f"{self.name}.timeout"
        )
        report = parse_harness_output(output)
        self.check_report(report, output, cmd)
        self.collect_counts(report, program, work_dir, counts_prefix or [])
        return self.run_output(report, cmd, log_path, seconds)

    def check_report(self, report: HarnessReport, output: str, cmd: list[str]) -> None:
        if report.errors:
            raise RunError(
                self.failure("the harness reported: " + "; ".join(report.errors), output, cmd)
            )
        if report.setup_rc not in (None, 0):
            raise RunError(
                self.failure(f"mlif_model_init() returned {report.setup_rc}", output, cmd)
            )
        bad = [r for r in report.invokes if r.rc != 0]
        if bad:
            raise RunError(self.failure(f"mlif_model_invoke() returned {bad[0].rc}", output, cmd))
        if not report.complete:
            raise RunError(
                self.failure("the program ended without reporting completion", output, cmd)
            )
        if report.done_rc != 0:
            raise RunError(
                self.failure(f"the program exited with status {report.done_rc}", output, cmd)
            )

    def failure(self, what: str, output: str, cmd: list[str]) -> str:
        return f"{self.name}: {what}\n--- output tail ---\n{tail(output)}\n--- reproduce ---\n{shlex.join(cmd)}"

    def run_output(
        self, report: HarnessReport, cmd: list[str], log_path: Path, seconds: float
    ) -> RunOutput:
        metrics: dict = {"simulation_seconds": round(seconds, 4), **report.metrics}
        if report.setup_instructions is not None:
            metrics["setup_instructions"] = report.setup_instructions
        counts = [r.instructions for r in report.invokes if r.instructions is not None]
        if counts:
            metrics["invoke_instructions"] = counts[0]
            if len(counts) > 1:
                metrics["invoke_instructions_mean"] = round(sum(counts) / len(counts), 1)
                metrics["invoke_instructions_max"] = max(counts)
        if report.stack_bytes is not None:
            metrics["stack_bytes"] = report.stack_bytes
        first = report.op_counts.get((0, 0), {})
        return RunOutput(report.output_list(), metrics, log_path, cmd, first, report.op_bracket)


def run_with_timeout(
    cmd: list[str],
    cwd: Path,
    timeout: float,
    log_path: Path,
    env: dict[str, str] | None = None,
    setting: str = "<target>.timeout",
) -> tuple[str, float]:
    """Run ``cmd``, killing its whole process group after ``timeout`` seconds.

    stdout and stderr go to ``log_path`` (kept in the artifacts) and are returned with the
    run time. A timeout raises RunError with the output tail and the command to reproduce.
    """
    try:
        result = proc.run(
            cmd, timeout=timeout, what="the program", setting=setting, cwd=cwd,
            env={**os.environ, **env} if env else None, log_path=log_path,
        )  # fmt: skip
    except proc.ChildTimeout as exc:
        raise RunError(
            f"timeout: the program did not finish within {timeout:g} s (set {setting})\n"
            f"--- output tail ---\n{tail(exc.output)}\n--- reproduce ---\n{shlex.join(cmd)}"
        ) from None
    if result.returncode < 0:
        raise RunError(
            f"the simulator was killed by signal {-result.returncode}\n"
            f"--- output tail ---\n{tail(result.stdout)}\n--- reproduce ---\n{shlex.join(cmd)}"
        )
    return result.stdout, result.seconds
