"""Repository-level settings for the project's own tests and benchmarks.

On the development machines the MLPerf Tiny models and the vendored sources sit
in ../shared next to the repository; users' machines get them elsewhere (models
dir option, upstream downloads). Environment defaults only: options still win.
"""

import os
from pathlib import Path

_SHARED = Path(__file__).resolve().parent.parent / "shared"
if (_SHARED / "models" / "mlperf_tiny").is_dir():
    os.environ.setdefault("MLONMCU_MODELS_DIR", str(_SHARED / "models" / "mlperf_tiny"))
if (_SHARED / "vendor").is_dir():
    os.environ.setdefault("MLONMCU_VENDOR_DIR", str(_SHARED / "vendor"))
