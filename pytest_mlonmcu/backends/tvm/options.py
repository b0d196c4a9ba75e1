"""What a TVM compilation depends on, as plain data (no TVM import: used by the backends)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class TvmOptions:
    int8: bool = True  # the integer path (intpath.py); False: TVM's float path as imported
    arena: bool = False  # one planned arena (tvmaotplus) instead of a buffer per tensor
    layout: str = "NHWC"  # or "NCHW" (relax.transform.ConvertLayout)
    schedule: str = "inline"  # schedules.SCHEDULES
    runtime: str = "aot"  # "aot": C kernels + static executor; "vm": Relax VM library (LLVM)
    inline_pad: bool = True  # padding inside the conv kernel (no padded copy in RAM)
    unroll: int = 8  # unroll factor of the innermost reduction loop (schedule "inline")

    def as_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TvmOptions:
        return cls(**json.loads(text))
