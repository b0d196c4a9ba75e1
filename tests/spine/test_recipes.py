"""docs/architecture.md's recipes work as written: a new target and a new backend, each one
file (tests/spine/data/recipe_*.py) registered through the hooks, join the matrix and run."""

from __future__ import annotations

import shutil

import pytest

from .conftest import BENCH_TEST, TOYCAR, use_data

RECIPES = 'pytest_plugins = ["recipe_target", "recipe_backend"]\n'
MAXPOOLS = ("maxpool_2x2_s2", "maxpool_3x3_s2_same")


@pytest.fixture
def recipes(pytester: pytest.Pytester) -> None:
    use_data(pytester, "recipe_target.py")
    use_data(pytester, "recipe_backend.py")
    pytester.makeconftest(RECIPES)
    pytester.makepyfile(test_m=BENCH_TEST)


def test_a_new_target_runs_a_backend_validated(recipes, run_plugin) -> None:
    session = run_plugin(TOYCAR, "--mlonmcu-backend=cgen", "--mlonmcu-target=host_native")
    session.result.assert_outcomes(passed=1)
    record = session.record("zoo_toycar-cgen-host_native")
    assert record["target"] == "host_native"
    metrics = record["metrics"]
    assert metrics["validation_passed"] is True
    assert metrics["validation_mode"] == "exact"
    assert metrics["rom_bytes"] > 0
    # Natively run, with no counter: wall time, and no made-up instruction counts.
    assert metrics["simulation_seconds"] > 0
    assert "invoke_instructions" not in metrics


@pytest.mark.skipif(shutil.which("riscv64-unknown-elf-gcc") is None, reason="no RISC-V gcc")
def test_a_new_backend_is_exact_on_every_target_and_refuses_by_name(
    recipes, run_plugin, pytester: pytest.Pytester, op_models: dict[str, bytes]
) -> None:
    paths = []
    for name in MAXPOOLS:
        path = pytester.path / f"{name}.tflite"
        path.write_bytes(op_models[name])
        paths.append(str(path))
    session = run_plugin(
        f"--mlonmcu-model={','.join(paths)},zoo:toycar", "--mlonmcu-backend=maxpool_c",
        "--mlonmcu-target=host_native,riscv_qemu",
    )  # fmt: skip
    session.result.assert_outcomes(passed=4, failed=2)
    for name in MAXPOOLS:
        native = session.record(f"{name}-maxpool_c-host_native")["metrics"]
        rv32 = session.record(f"{name}-maxpool_c-riscv_qemu")["metrics"]
        assert native["validation_passed"] is True and rv32["validation_passed"] is True
        assert native["validation_mode"] == "exact"
        assert rv32["invoke_instructions"] > 0  # riscv_qemu counts exactly (instret)
    refused = session.record("zoo_toycar-maxpool_c-riscv_qemu")
    assert refused["outcome"] == "failed"
    assert list(refused["stages"]) == ["load", "tune", "build"]  # refused at the build stage
    assert refused["reason"].endswith(
        "maxpool_c: operator FULLY_CONNECTED (operator index 0) is not supported"
    )
