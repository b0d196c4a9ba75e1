"""docs/architecture.md, "Add a target": ``host_native``, one file registered by a hook.

The bare-metal platform (``platforms/mlif``) compiles the backend's C sources with the shared
harness; a target says which compiler and flags, which ``mlif_target.h`` implementation to
link, and how to run the program. This one runs it natively on the x86-64 host: wall time
only, as the host has no exact instruction counter without callgrind.
"""

from pathlib import Path

from pytest_mlonmcu.core.artifacts import Program
from pytest_mlonmcu.platforms.mlif.target import HARNESS_DIR, CompiledTarget
from pytest_mlonmcu.platforms.mlif.toolchain import Toolchain


class HostNative(CompiledTarget):
    name = "host_native"
    description = "the x86-64 host, run natively (wall time only)"
    family = "x86"  # backends declare the families they generate code for
    config_keys = {"optimize": "2", "timeout": "60"}  # <target>.KEY=VALUE, checked strictly
    required_tools = {"gcc": "gcc"}  # a missing tool skips the run with its name
    program_name = "program"

    def toolchain(self) -> Toolchain:
        return Toolchain(prefix="", cflags=self.opt_flags(), libs=["-lm"])

    def support_sources(self) -> list[Path]:
        return [HARNESS_DIR / "host" / "target_host.c"]  # mlif_target.h on Linux

    def run_command(self, program: Program, work_dir: Path) -> list[str]:
        return [str(program.path)]


def pytest_mlonmcu_register(targets):
    targets.register(HostNative)
