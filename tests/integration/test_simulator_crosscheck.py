"""The same program counts the same instructions on ETISS and on QEMU (-icount)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MLPERF = Path(
    os.environ.get("MLONMCU_MODELS_DIR") or REPO.parent / "shared" / "models" / "mlperf_tiny"
)


def run_benchmarks(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "r.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(REPO / "benchmarks" / "test_mlperf_tiny.py"),
            "-p",
            "no:cacheprovider",
            "-q",
            f"--mlonmcu-out={tmp_path / 'out'}",
            f"--mlonmcu-json={out}",
            *args,
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return {r["id"]: r for r in json.loads(out.read_text())["runs"]}


@pytest.mark.skipif(not MLPERF.is_dir(), reason=f"MLPerf Tiny models not found at {MLPERF}")
def test_cgen_counts_equal_on_etiss_and_riscv_qemu(tmp_path):
    runs = run_benchmarks(
        tmp_path,
        f"--mlonmcu-models-dir={MLPERF}",
        "--mlonmcu-model=toycar,aww",
        "--mlonmcu-backend=cgen",
        "--mlonmcu-target=etiss,riscv_qemu",
    )
    for model in ("toycar", "aww"):
        etiss = runs[f"{model}-cgen-etiss"]["metrics"]
        qemu = runs[f"{model}-cgen-riscv_qemu"]["metrics"]
        assert etiss["validation_passed"] and qemu["validation_passed"]
        assert etiss["invoke_instructions"] == qemu["invoke_instructions"] > 0
        assert etiss["setup_instructions"] == qemu["setup_instructions"]
