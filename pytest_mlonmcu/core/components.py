"""The base classes of the components: ``Target``, ``Backend`` and ``Feature``.

A backend turns a model into an artifact for a target; a target turns an artifact into a
program and runs it; a feature is an option of a run that a backend or target implements.
Each concrete component lives in its own file and is registered by name (core/registry.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from .artifacts import Artifact, Program, RunOutput
from .cache import Cache
from .config import ComponentConfig

if TYPE_CHECKING:
    from ..models.metadata import ModelMetadata
    from ..models.model import Model
    from ..models.support import Gap
    from .samples import SampleSet


class Component:
    """What targets and backends share: created per run with the run's scoped configuration
    (``<name>.<key>`` settings), the cache and the run's features."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    # Documented config keys and their defaults (shown by --mlonmcu-list).
    config_keys: ClassVar[dict[str, str]] = {}

    def __init__(
        self, config: ComponentConfig, cache: Cache, features: tuple[str, ...] = ()
    ) -> None:
        self.config = config
        self.cache = cache
        # Features of the run (e.g. "cmsisnn"); validated by the feature registry.
        self.features = tuple(features)


class Target(Component):
    """One place to run a model (a simulator, the host, a board).

    A subclass names its toolchain, flags, simulator and how it counts.
    """

    # "riscv", "arm" or "x86": backends and features check compatibility with it.
    family: ClassVar[str] = ""
    # The program reads an exact instruction counter itself (feature profile brackets with it).
    in_program_counter: ClassVar[bool] = False
    # Or an outside counter reports each bracket edge (mlif_profile_point; the QEMU plugin).
    profile_points: ClassVar[bool] = False
    # Executables this target needs, with the Debian package that has them.
    required_tools: ClassVar[dict[str, str]] = {}

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


class Backend(Component):
    """One way to deploy a model (an interpreter, a code generator, a compiler)."""

    framework: ClassVar[str] = ""
    # Target families this backend can produce artifacts for; None = every family.
    families: ClassVar[frozenset[str] | None] = None
    # Default validation against the TFLM reference: "exact", "atol=N", "ulp=N" or "topk=K".
    validation: ClassVar[str] = "exact"
    # Features (e.g. "cmsisnn") this backend understands.
    features: ClassVar[frozenset[str]] = frozenset()
    # Families where the backend runs in Python on the host instead of a compiled program
    # (tflmi: the tflite-micro wheel on x86); features that change the program skip there.
    python_runner_families: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def supports(cls, target_cls: type[Target]) -> bool:
        return cls.families is None or target_cls.family in cls.families

    def unavailable_reason(self) -> str | None:
        """Why this backend cannot be used here (a skip reason), or None."""
        return None

    def unsupported(self, metadata: ModelMetadata, target: Target) -> list[Gap]:
        """What of the model this backend cannot build on ``target`` (checked before the
        build stage runs; none: build it)."""
        return []

    def validation_mode(self, metadata: ModelMetadata) -> str:
        """The default validation of this backend's runs of a model (``validation``)."""
        return self.validation

    def tune(self, model: Model, target: Target, work_dir: Path) -> None:
        """The tune stage: search settings for ``model`` on ``target`` (default: nothing)."""

    def build(self, model: Model, target: Target, work_dir: Path) -> Artifact:
        raise NotImplementedError


class Feature:
    """An option of a run (e.g. ``cmsisnn``) with a compatibility check."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    # Config keys (``<feature>.<key>``) its implementation reads, like a backend's.
    config_keys: ClassVar[dict[str, str]] = {}

    @classmethod
    def incompatibility(cls, backend: type[Backend], target: type[Target]) -> str | None:
        """Why this feature cannot apply to ``backend`` on ``target``, or None."""
        return None
