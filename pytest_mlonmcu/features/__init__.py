"""Features: options of a run that backends or targets implement (e.g. ``cmsisnn``).

A feature is a name with a compatibility check; the backend or target that
implements it reads ``self.features``. Asking for a feature where it cannot apply
is a usage error that says why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from ..errors import UsageError
from ..registry import Registry

if TYPE_CHECKING:
    from ..backends.base import Backend
    from ..targets.base import Target


class Feature:
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    # Config keys (``<feature>.<key>``) its implementation reads, like a backend's.
    config_keys: ClassVar[dict[str, str]] = {}

    @classmethod
    def incompatibility(cls, backend: type[Backend], target: type[Target]) -> str | None:
        """Why this feature cannot apply to ``backend`` on ``target``, or None."""
        return None


FEATURES: Registry[Feature] = Registry("feature")


def check_features(features: tuple[str, ...], backend: type[Backend], target: type[Target]) -> None:
    for name in features:
        reason = FEATURES.get(name).incompatibility(backend, target)
        if reason:
            raise UsageError(f"feature {name} with {backend.name} on {target.name}: {reason}")


def register_builtin_features() -> None:
    """Built-in features register here (one module per feature)."""
    from .cmsisnn import CmsisNN
    from .tvm_features import Autotune, LayoutNchw, ScheduleNone

    for cls in (CmsisNN, LayoutNchw, ScheduleNone, Autotune):
        FEATURES.register(cls, replace=True)
