"""tvmaotplus: tvmaot with one arena planned over tensor lifetimes (minimal RAM).

Same kernels and executor as tvmaot (backends/tvm/), but every tensor, inputs and
outputs included, lives at an offset in one static arena; offsets come from a greedy
planner over the lifetimes in the flat Relax main (backends/tvm/planner.py).
Metrics: ``arena_bytes`` (the arena) and ``workspace_bytes`` (the kernels' pool).
"""

from __future__ import annotations

from .backend import TvmAotBase


class TvmAotPlusBackend(TvmAotBase):
    name = "tvmaotplus"
    description = "tvmaot with one arena planned over tensor lifetimes (minimal RAM)"
    arena = True
