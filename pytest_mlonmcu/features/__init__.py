"""Features: options of a run that backends or targets implement (e.g. ``cmsisnn``).

A feature is a name with a compatibility check; the backend or target that
implements it reads ``self.features``. Asking for a feature where it cannot apply
is a usage error that says why.
"""

from __future__ import annotations

from ..core.components import Backend, Feature, Target
from ..core.errors import UsageError
from ..core.registry import Registry
from .cmsisnn import CmsisNN
from .profile import Profile
from .tvm_features import Autotune, LayoutNchw, ScheduleNone

FEATURES: Registry[Feature] = Registry("feature")


def check_features(features: tuple[str, ...], backend: type[Backend], target: type[Target]) -> None:
    for name in features:
        reason = FEATURES.get(name).incompatibility(backend, target)
        if reason:
            raise UsageError(f"feature {name} with {backend.name} on {target.name}: {reason}")


def register_builtin_features() -> None:
    """Built-in features register here (one module per feature)."""
    for cls in (CmsisNN, LayoutNchw, ScheduleNone, Autotune, Profile):
        FEATURES.register(cls, replace=True)
