"""Features of the TVM backends (tvmaot, tvmaotplus; layout_nchw also tvmrt).

- ``layout_nchw``: ``relax.transform.ConvertLayout`` to NCHW/OIHW before lowering
  (the default keeps TFLite's NHWC/HWIO);
- ``schedule_none``: the kernels as Relax legalizes them, without the project's
  ``inline`` schedule (every fused stage a loop over a full intermediate in a workspace);
- ``autotune``: a Tune stage with MetaSchedule, measured on the host, and the build
  with the tuned kernels (trial budget ``<backend>.tune_trials``; the tuning database is
  cached by content hash).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..backends import BACKENDS
from ..core.components import Feature

if TYPE_CHECKING:
    from ..core.components import Backend, Target


class _TvmFeature(Feature):
    @classmethod
    def incompatibility(cls, backend: type[Backend], target: type[Target]) -> str | None:
        if cls.name in backend.features:
            return None
        users = ", ".join(b.name for b in BACKENDS if cls.name in b.features) or "none"
        return f"{cls.name} is an option of the TVM backends ({users}), not of {backend.name}"


class LayoutNchw(_TvmFeature):
    name = "layout_nchw"
    description = "TVM: convolutions in NCHW/OIHW (relax.transform.ConvertLayout) instead of NHWC"


class ScheduleNone(_TvmFeature):
    name = "schedule_none"
    description = "TVM: kernels without the inline schedule (intermediates in workspaces)"


class Autotune(_TvmFeature):
    name = "autotune"
    description = "TVM: MetaSchedule tuning on the host (Tune stage, cached), tuned kernels"
