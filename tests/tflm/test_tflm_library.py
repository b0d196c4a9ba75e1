"""The TFLM library build (backends/tflmi/library.py) on the source tree (install/tflm.py):
sources, variants, cache, errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tflm_helpers import VENDOR_DIR

from pytest_mlonmcu.backends.tflmi import library
from pytest_mlonmcu.core.cache import Cache
from pytest_mlonmcu.core.config import RunConfig
from pytest_mlonmcu.install import tflm
from pytest_mlonmcu.install.sources import VENDOR_DIR_ENV
from pytest_mlonmcu.targets.cortexm_qemu import CortexMQemu, Stm32f4Qemu
from pytest_mlonmcu.targets.etiss import Etiss
from pytest_mlonmcu.targets.riscv_qemu import RiscvQemu

TARBALL = VENDOR_DIR / tflm.PIN.vendor_tarball


@pytest.fixture(scope="module")
def vendored(monkeypatch_module) -> Path:
    if not TARBALL.is_file():
        pytest.skip(f"no {TARBALL}")
    monkeypatch_module.delenv(tflm.ENV_SOURCE, raising=False)
    monkeypatch_module.setenv(VENDOR_DIR_ENV, str(VENDOR_DIR))
    return TARBALL


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def target(cls, **settings):
    config = RunConfig({f"{cls.name}.{k}": str(v) for k, v in settings.items()})
    return cls(config.scoped(cls.name), Cache())


def test_etiss_and_riscv_qemu_share_one_library(vendored):
    # Same ISA/ABI/optimisation flags and system headers: one rv32gc library for both.
    etiss = library.spec_for_target(target(Etiss))
    qemu = library.spec_for_target(target(RiscvQemu))
    assert (
        etiss.arch_flags == qemu.arch_flags == ("-march=rv32gc", "-mabi=ilp32d", "-misa-spec=2.2")
    )
    assert etiss.cflags() == qemu.cflags()
    assert etiss.cxxflags() == qemu.cxxflags()
    assert library.library_key(etiss) == library.library_key(qemu)


def test_variants_differ_by_isa_optimisation_and_features(vendored):
    m4 = library.spec_for_target(target(CortexMQemu))
    assert m4.arch_flags == ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16")
    # The STM32F405 is a Cortex-M4F too: same code, same library.
    assert library.library_key(m4) == library.library_key(
        library.spec_for_target(target(Stm32f4Qemu))
    )
    keys = {
        library.library_key(m4),
        library.library_key(library.spec_for_target(target(CortexMQemu), ["cmsisnn"])),
        library.library_key(library.spec_for_target(target(CortexMQemu, cpu="cortex-m7"))),
        library.library_key(library.spec_for_target(target(RiscvQemu))),
        library.library_key(library.spec_for_target(target(RiscvQemu, arch="rv32imc"))),
        library.library_key(library.spec_for_target(target(RiscvQemu, optimize="s"))),
    }
    assert len(keys) == 6
    cmsis = library.spec_for_target(target(CortexMQemu), ["cmsisnn"])
    assert cmsis.defines()["CMSIS_NN"] == ""


def test_source_list_is_tflms_own(vendored):
    tree = tflm.source_tree()
    files = library.library_sources(tree)
    # sources.inc's 161 files without debug_log.cc (DebugLog comes with each program).
    assert len(files) == 160
    assert library.DEBUG_LOG_SOURCE not in files
    assert "tensorflow/lite/micro/micro_interpreter.cc" in files
    assert all((tree.root / f).is_file() for f in files)
    cmsis = library.library_sources(tree, ["cmsisnn"])
    assert "tensorflow/lite/micro/kernels/cmsis_nn/conv.cc" in cmsis
    assert "tensorflow/lite/micro/kernels/conv.cc" not in cmsis
    assert "tensorflow/lite/micro/kernels/conv_common.cc" in cmsis
    assert any(f.endswith("arm_convolve_s8.c") for f in cmsis)
    assert not any(f.endswith("_f32.c") for f in cmsis)


def test_resolver_operators_come_from_the_header(vendored):
    ops = library.resolver_operators(tflm.source_tree())
    assert ops.builtin["CONV_2D"] == "AddConv2D"
    assert ops.builtin["DEPTHWISE_CONV_2D"] == "AddDepthwiseConv2D"
    assert ops.builtin["FULLY_CONNECTED"] == "AddFullyConnected"
    assert ops.custom["TFLite_Detection_PostProcess"] == "AddDetectionPostprocess"
    assert "SignalDelay" not in ops.custom  # the signal library is not built
    assert len(ops.builtin) > 90


@pytest.mark.slow  # compiles TFLM's interpreter and a kernel for rv32 (~90 s cold)
def test_a_models_library_is_built_once_from_shared_objects(vendored):
    # A model's library: the interpreter, the shared kernel helpers and its kernels only.
    spec = library.spec_for_target(target(RiscvQemu))
    first = library.ensure_tflm_library(spec, methods=["AddFullyConnected"])
    again = library.ensure_tflm_library(spec, methods=["AddFullyConnected"])
    assert again.cached, "the second request rebuilt the library"
    assert again.archive == first.archive and again.archive.is_file()
    assert (again.archive.parent / "build_commands.sh").is_file()
    kernels = set(again.metadata["kernels"])
    k = library.KERNELS_DIR
    assert {
        k + "fully_connected.cc",
        k + "fully_connected_common.cc",
        k + "kernel_util.cc",
    } <= kernels
    assert k + "conv.cc" not in kernels
    assert again.metadata["files"] < 160  # of TFLM's 160
    # One operator more: its kernel joins; every other object comes from the object cache.
    more = library.ensure_tflm_library(spec, methods=["AddFullyConnected", "AddTanh"])
    assert set(more.metadata["kernels"]) - kernels == {k + "tanh.cc"}
    assert more.metadata["compiled"] <= 1
    assert more.key == again.key  # one variant: the glue objects and arenas are shared


def test_kernel_selection_keeps_order_and_falls_back_to_every_kernel(vendored):
    tree = tflm.source_tree()
    files = library.library_sources(tree)
    chosen = library.kernel_selection(tree, files, ["AddConv2D", "AddSoftmax"])
    assert chosen == [f for f in files if f in set(chosen)]  # TFLM's order: the same link
    outside = [f for f in files if not f.startswith(library.KERNELS_DIR)]
    assert set(outside) <= set(chosen)
    # A method whose registration is unknown keeps every kernel (never a broken link).
    assert library.kernel_selection(tree, files, ["AddNoSuchThing"]) == files


def test_unreachable_upstream_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv(VENDOR_DIR_ENV, raising=False)
    monkeypatch.setenv(tflm.ENV_SOURCE, f"file://{tmp_path}/no-such-repo@{tflm.PIN.revision}")
    with pytest.raises(tflm.TflmInstallError) as err:
        tflm.source_tree(cache=Cache(tmp_path / "cache"))
    assert err.value.component == "tflm"
    text = str(err.value)
    assert "cannot get the TFLM source" in text and "no-such-repo" in text
    assert VENDOR_DIR_ENV in text  # says how to do without the code host


def test_a_directory_source_without_third_party_code_is_named(tmp_path, monkeypatch):
    micro = tmp_path / "tensorflow" / "lite" / "micro"
    micro.mkdir(parents=True)
    (micro / "micro_interpreter.h").write_text("")
    monkeypatch.setenv(tflm.ENV_SOURCE, str(tmp_path))
    with pytest.raises(tflm.TflmInstallError, match="third-party"):
        tflm.source_tree(cache=Cache(tmp_path / "cache"))


def test_default_without_vendor_dir_is_upstream(monkeypatch):
    monkeypatch.delenv(tflm.ENV_SOURCE, raising=False)
    monkeypatch.delenv(VENDOR_DIR_ENV, raising=False)
    plan = tflm.TflmInstaller(RunConfig().scoped("tflm")).plan()
    assert (plan.source.kind, plan.source.location, plan.source.revision) == (
        "git",
        tflm.PIN.upstream,
        tflm.PIN.revision,
    )
    assert os.environ.get(VENDOR_DIR_ENV) is None
