"""Backend base class: turns a model into an artifact for a target."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from ..artifacts import Artifact
from ..cache import Cache
from ..config import ComponentConfig

if TYPE_CHECKING:
    from ..models.model import Model
    from ..targets.base import Target


class Backend:
    """One way to deploy a model (an interpreter, a code generator, a compiler)."""

    name: ClassVar[str] = ""
    framework: ClassVar[str] = ""
    description: ClassVar[str] = ""
    # Target families this backend can produce artifacts for; None = every family.
    families: ClassVar[frozenset[str] | None] = None
    # Default validation against the TFLM reference: "exact", "atol=N" or "topk=K".
    validation: ClassVar[str] = "exact"
    config_keys: ClassVar[dict[str, str]] = {}
    # Features (e.g. "cmsisnn") this backend understands.
    features: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self, config: ComponentConfig, cache: Cache, features: tuple[str, ...] = ()
    ) -> None:
        self.config = config
        self.cache = cache
        # Features of the run (e.g. "cmsisnn"); validated by the feature registry.
        self.features = tuple(features)

    @classmethod
    def supports(cls, target_cls: type[Target]) -> bool:
        return cls.families is None or target_cls.family in cls.families

    def unavailable_reason(self) -> str | None:
        """Why this backend cannot be used here (a skip reason), or None."""
        return None

    def build(self, model: Model, target: Target, work_dir: Path) -> Artifact:
        raise NotImplementedError
