"""tvmrt: the model in the TVM runtime's Relax VM on the host, counted by callgrind."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tvm_helpers import MLPERF_DIR, mlperf_or_skip, tvm_or_skip

# Only the stages: run.measure_latency is tflmi-specific today (see the TVM README notes).
TEST_FILE = """
def test_run(mlonmcu_run):
    mlonmcu_run.process()
"""


@pytest.mark.slow  # builds the TVM runtime for the host (~80 s cold)
def test_tvmrt_toycar_is_exact_and_counted(tmp_path: Path) -> None:
    tvm_or_skip()
    mlperf_or_skip("toycar")
    if shutil.which("valgrind") is None:
        pytest.skip("valgrind not installed")
    (tmp_path / "test_rt.py").write_text(TEST_FILE)
    out_json = tmp_path / "r.json"
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        str(tmp_path / "test_rt.py"),
        "-p",
        "no:cacheprovider",
        "-q",
        f"--rootdir={tmp_path}",
        f"--mlonmcu-models-dir={MLPERF_DIR}",
        "--mlonmcu-model=toycar",
        "--mlonmcu-backend=tvmrt",
        "--mlonmcu-target=host_x86",
        f"--mlonmcu-json={out_json}",
        f"--mlonmcu-out={tmp_path / 'out'}",
        "--mlonmcu-config=run.invoke_runs=2",
        "--mlonmcu-config=run.samples=1",
    ]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    (rec,) = json.loads(out_json.read_text())["runs"]
    m = rec["metrics"]
    assert m["validation_passed"] is True and m["validation_max_abs_diff"] == 0
    # The VM's main: about 2 M instructions for toycar's 264 k MACs on x86 (LLVM build).
    assert 500_000 < m["invoke_instructions"] < 20_000_000
    assert m["setup_instructions"] > 0
    # One sample invoked twice: two measured calls of that sample, its outputs printed once
    # (those of the second invoke, which validation compared with the reference).
    (log,) = (tmp_path / "out").glob("*/*/run/run.log")
    lines = [ln for ln in log.read_text().splitlines() if ln.startswith("MLIF ")]
    assert [ln for ln in lines if ln.startswith(("MLIF invoke", "MLIF output"))][:2] == [
        "MLIF invoke 0 0 0 -",
        "MLIF invoke 0 1 0 -",
    ]
    assert sum(ln.startswith("MLIF output 0 ") for ln in lines) == 1
    assert len(list(log.parent.glob("callgrind.out.*.*"))) == 2  # one dump per invoke
    # Deterministic: the second invoke of the same sample costs about the same.
    second = 2 * m["invoke_instructions_mean"] - m["invoke_instructions"]
    assert m["invoke_instructions_max"] == max(m["invoke_instructions"], second)
    assert abs(second - m["invoke_instructions"]) < 0.05 * m["invoke_instructions"]


def test_tvmrt_only_on_the_host() -> None:
    from pytest_mlonmcu.backends.tvm.rt import TvmRtBackend
    from pytest_mlonmcu.targets.host_x86 import HostX86
    from pytest_mlonmcu.targets.riscv_qemu import RiscvQemu

    assert TvmRtBackend.supports(HostX86)
    assert not TvmRtBackend.supports(RiscvQemu)
