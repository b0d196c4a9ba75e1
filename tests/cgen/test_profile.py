"""Feature profile: instructions per operator, bracketed with the target's own counter."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MLPERF_DIR = Path(
    os.environ.get("MLONMCU_MODELS_DIR") or REPO.parent / "shared" / "models" / "mlperf_tiny"
)
pytestmark = [
    pytest.mark.skipif(
        not (shutil.which("riscv64-unknown-elf-gcc") and shutil.which("qemu-system-riscv32")),
        reason="the RISC-V toolchain or qemu-system-riscv32 is not installed",
    ),
    pytest.mark.skipif(not MLPERF_DIR.is_dir(), reason=f"no MLPerf Tiny models at {MLPERF_DIR}"),
]


def session(
    tmp_path: Path, name: str, *args: str, backend: str = "cgen"
) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable, "-m", "pytest", str(REPO / "benchmarks"), "-v", "-p", "no:cacheprovider",
        f"--rootdir={tmp_path}", f"--mlonmcu-models-dir={MLPERF_DIR}",
        "--mlonmcu-model=toycar,aww", f"--mlonmcu-backend={backend}",
        f"--mlonmcu-json={tmp_path / name}.json", f"--mlonmcu-out={tmp_path / name}",
        "--mlonmcu-history=off", *args,
    ]  # fmt: skip
    return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=900)


def runs(tmp_path: Path, name: str) -> dict[str, dict]:
    return {r["id"]: r for r in json.loads((tmp_path / f"{name}.json").read_text())["runs"]}


# What the rows of an operator-by-operator profile leave out of the plain program's invoke:
# cgen: mlif_model_invoke's entry and exit; tflmi: the interpreter's loop around the operators;
# tvmaotplus: the executor's entry, exit and workspace set-up.
UNBRACKETED = {"cgen": 40, "tflmi": 400, "tvmaotplus": 100}
TVM_MISSING = importlib.util.find_spec("tvm") is None


def assert_accounted(record: dict, unprofiled: dict, backend: str) -> None:
    """Every instruction of the profiled invoke is in an operator's row, in a bracket (an
    empty bracket's count, measured like the rows) or outside every bracket; against the
    program without brackets, only the code around the operators (UNBRACKETED) is in no row."""
    m = record["metrics"]
    total = sum(r["instructions"] for r in record["operators"])
    brackets = m["profile_brackets"] * m["profile_bracket_instructions"]
    assert total == m["invoke_instructions"] - brackets - m["profile_outside_instructions"]
    assert 0 < m["profile_bracket_instructions"] <= 40
    assert 0 <= unprofiled["invoke_instructions"] - total <= UNBRACKETED[backend]


@pytest.mark.parametrize(
    "backend",
    [
        "cgen",
        pytest.param("tflmi", marks=pytest.mark.slow),  # builds TFLM for rv32
        pytest.param("tvmaotplus", marks=pytest.mark.skipif(TVM_MISSING, reason="no apache-tvm")),
    ],
)
def test_operator_rows_account_for_every_invoke_instruction(tmp_path, backend):
    profiled = session(
        tmp_path, "profiled", "--mlonmcu-target=riscv_qemu,etiss", "--mlonmcu-feature=profile",
        backend=backend,
    )  # fmt: skip
    assert profiled.returncode == 0, profiled.stdout[-3000:]
    plain = session(tmp_path, "plain", "--mlonmcu-target=riscv_qemu", backend=backend)
    assert plain.returncode == 0, plain.stdout[-3000:]
    for model in ("toycar", "aww"):
        record = runs(tmp_path, "profiled")[f"{model}-{backend}-riscv_qemu-profile"]
        rows, m = record["operators"], record["metrics"]
        if backend == "tvmaotplus":  # a row per kernel call: TVM fuses TFLite's operators
            assert [r["index"] for r in rows] == list(range(m["tvm_kernel_calls"]))
            assert all(r["operator"].startswith("tvmaot_") and r["instructions"] > 0 for r in rows)
            rows = []  # the rest is about operator rows
        else:
            assert [r["index"] for r in rows] == list(range(m["model_ops"]))
        for r in rows:  # an operator without code (a RESHAPE renames a buffer) costs nothing
            assert r["instructions"] > 0 or r["operator"] == "RESHAPE", r
            if r["macs"]:
                assert r["instructions_per_mac"] == round(r["instructions"] / r["macs"], 3)
        rows = record["operators"]
        unprofiled = runs(tmp_path, "plain")[f"{model}-{backend}-riscv_qemu"]["metrics"]
        assert_accounted(record, unprofiled, backend)
        # Both RISC-V targets count every operator alike.
        etiss = runs(tmp_path, "profiled")[f"{model}-{backend}-etiss-profile"]["operators"]
        assert etiss == rows
        # The run's CSV and the model's stacked bar plot.
        run_dir = Path(record["artifacts"])
        with (run_dir / "run" / "operators.csv").open() as f:
            table = list(csv.DictReader(f))
        assert [int(r["instructions"]) for r in table] == [r["instructions"] for r in rows]
        assert (tmp_path / "profiled" / f"operators-{model}.png").stat().st_size > 0
    # The -v table.
    assert "mlonmcu operators" in profiled.stdout
    assert f"aww-{backend}-riscv_qemu-profile:" in profiled.stdout


@pytest.mark.parametrize(
    "backend, message",
    [
        (
            "tvmrt",
            "feature profile with tvmrt on host_x86: per-operator counts are not implemented "
            "for backend tvmrt yet (backends with them: cgen, tflmi, tvmaot, tvmaotplus)",
        ),
        (
            "tflmi",
            "feature profile with tflmi on host_x86: backend tflmi runs in Python on target "
            "host_x86 (the tflite-micro wheel), which has no per-operator hook",
        ),
    ],
)
def test_profile_where_it_is_not_implemented_is_a_usage_error(tmp_path, backend, message):
    result = session(
        tmp_path, "t", "--mlonmcu-target=host_x86", "--mlonmcu-feature=profile", backend=backend
    )
    assert result.returncode != 0
    assert message in result.stdout + result.stderr


@pytest.mark.parametrize("backend", ["cgen", "tvmaotplus"])
@pytest.mark.parametrize("target", ["cortexm_qemu", "host_x86"])
def test_an_outside_counter_reports_each_bracket_edge(tmp_path, target, backend):
    """Where the program cannot read a counter, the rows come from the bracket edges
    (mlif_profile_point) counted outside: on cortexm_qemu the TCG plugin reports each; on
    host_x86 callgrind dumps before each and collects the empty bracket in
    cgen_profile_calibrate, the dumps' triggers telling edges from measured calls."""
    if backend == "tvmaotplus" and TVM_MISSING:
        pytest.skip("no apache-tvm")
    if target == "host_x86" and not shutil.which("valgrind"):
        pytest.skip("valgrind is not installed")
    profiled = session(
        tmp_path, "p", f"--mlonmcu-target={target}", "--mlonmcu-feature=profile", backend=backend
    )
    assert profiled.returncode == 0, profiled.stdout[-3000:]
    plain = session(tmp_path, "q", f"--mlonmcu-target={target}", backend=backend)
    assert plain.returncode == 0, plain.stdout[-3000:]
    for model in ("toycar", "aww"):
        record = runs(tmp_path, "p")[f"{model}-{backend}-{target}-profile"]
        unprofiled = runs(tmp_path, "q")[f"{model}-{backend}-{target}"]["metrics"]
        assert_accounted(record, unprofiled, backend)
        # The brackets are outside the setup: its count is the plain program's.
        assert record["metrics"]["setup_instructions"] == unprofiled["setup_instructions"]
