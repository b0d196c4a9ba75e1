"""Feature cmsisnn: TFLM's CMSIS-NN kernels on the Cortex-M targets, a usage error elsewhere."""

from __future__ import annotations

import pytest

from pytest_mlonmcu.backends.cgen.backend import CgenBackend
from pytest_mlonmcu.backends.tflmi.backend import TflmiBackend
from pytest_mlonmcu.features import FEATURES, register_builtin_features
from pytest_mlonmcu.targets.cortexm_qemu import CortexMQemu, Stm32f4Qemu
from pytest_mlonmcu.targets.etiss import Etiss
from pytest_mlonmcu.targets.host_x86 import HostX86
from pytest_mlonmcu.targets.riscv_qemu import RiscvQemu

ALL_MODELS = ["aww", "vww", "resnet", "toycar"]
# pytest.UsageError: exit code 4, or 2 when raised while collecting (the matrix expands there).
USAGE_ERROR = (2, 4)


def cmsisnn():
    register_builtin_features()
    return FEATURES.get("cmsisnn")


@pytest.mark.parametrize("target", [CortexMQemu, Stm32f4Qemu])
def test_applies_to_tflmi_on_cortex_m(target):
    assert cmsisnn().incompatibility(TflmiBackend, target) is None


@pytest.mark.parametrize("target", [Etiss, RiscvQemu, HostX86])
def test_not_arm_says_why(target):
    reason = cmsisnn().incompatibility(TflmiBackend, target)
    assert reason and "Cortex-M" in reason and target.name in reason


def test_other_backend_says_why():
    reason = cmsisnn().incompatibility(CgenBackend, CortexMQemu)
    assert reason and "cgen" in reason and "tflmi" in reason


def test_cmsisnn_on_riscv_qemu_is_a_usage_error(plugin):
    session = plugin(
        "--mlonmcu-backend=tflmi",
        "--mlonmcu-target=riscv_qemu",
        "--mlonmcu-feature=cmsisnn",
        "--mlonmcu-model=toycar",
    )
    assert session.ret in USAGE_ERROR, session.output
    assert "UsageError: feature cmsisnn with tflmi on riscv_qemu" in session.output
    assert "Cortex-M" in session.output
    assert not session.runs  # nothing ran


@pytest.fixture
def m4_pair(shared_session):
    """(reference kernels, CMSIS-NN kernels) sessions on cortexm_qemu (Cortex-M4F)."""
    args = ["--mlonmcu-backend=tflmi", "--mlonmcu-target=cortexm_qemu"]
    args.append(f"--mlonmcu-model={','.join(ALL_MODELS)}")
    return (
        shared_session("m4-reference", *args),
        shared_session("m4-cmsisnn", *args, "--mlonmcu-feature=cmsisnn"),
    )


@pytest.mark.slow
@pytest.mark.parametrize("model", ALL_MODELS)
def test_cmsisnn_exact_and_fewer_instructions(m4_pair, model):
    reference, cmsis = m4_pair
    ref = reference.passed(f"{model}-tflmi-cortexm_qemu")
    opt = cmsis.passed(f"{model}-tflmi-cortexm_qemu-cmsisnn")  # validated exact
    assert opt["validation_max_abs_diff"] == 0
    assert opt["tflm_library"] != ref["tflm_library"]
    assert opt["invoke_instructions"] < ref["invoke_instructions"]
