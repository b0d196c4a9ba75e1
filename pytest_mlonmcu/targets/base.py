"""Target base class: where a program is compiled for and run."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from ..artifacts import Artifact, Program, RunOutput
from ..cache import Cache
from ..config import ComponentConfig

if TYPE_CHECKING:
    from ..samples import SampleSet


class Target:
    """One place to run a model (a simulator, the host, a board).

    A subclass names its toolchain, flags, simulator and how it counts. It is
    created per run with its scoped configuration (``<name>.<key>`` settings).
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    # "riscv", "arm" or "x86": backends and features check compatibility with it.
    family: ClassVar[str] = ""
    # Documented config keys and their defaults (shown by --mlonmcu-list).
    config_keys: ClassVar[dict[str, str]] = {}
    # Executables this target needs, with the Debian package that has them.
    required_tools: ClassVar[dict[str, str]] = {}

    def __init__(
        self, config: ComponentConfig, cache: Cache, features: tuple[str, ...] = ()
    ) -> None:
        self.config = config
        self.cache = cache
        # Features of the run (e.g. "cmsisnn"); validated by the feature registry.
        self.features = tuple(features)

    # -- availability -----------------------------------------------------------
    def unavailable_reason(self) -> str | None:
        """Why this target cannot run here (a skip reason), or None."""
        missing = {t: p for t, p in self.required_tools.items() if shutil.which(t) is None}
        if missing:
            pkgs = " ".join(sorted(set(missing.values())))
            return (
                f"target {self.name}: missing {', '.join(sorted(missing))} "
                f"(install with: apt-get install {pkgs})"
            )
        return None

    # -- stages -----------------------------------------------------------------
    def compile(self, artifact: Artifact, samples: SampleSet, work_dir: Path) -> Program:
        raise NotImplementedError

    def run(self, program: Program, work_dir: Path) -> RunOutput:
        raise NotImplementedError

    def timeout(self) -> float:
        return self.config.get_timeout("timeout", 120.0)

    def identity(self) -> dict[str, str]:
        """What makes this target's builds differ (for cache keys and reports)."""
        return {"target": self.name}
