"""Runs a model compiled by tvmrt in the Relax VM of the TVM runtime, in its own process.

    python -m pytest_mlonmcu.backends.tvm.rt_runner setup BUILD_DIR 0
        create the VM only (callgrind counts mlif_tvmrt_setup: the VM's initialisation);
        prints MLIF setup/done
    python -m pytest_mlonmcu.backends.tvm.rt_runner run BUILD_DIR 0 INPUTS.npz [RUNS]
        run every sample and print the harness protocol (protocol.py); each invoke goes
        through mlif_tvmrt_invoke (callgrind counts it: the VM's whole "main")

The command line has the shape of tflmi_runner's (host_x86 runs both the same way; the
second argument, tflmi's arena, is unused). BUILD_DIR holds ``model.so`` (relax.build,
LLVM) and the extension module ``mlif_tvmrt`` (runtime/mlif_tvmrt.c).
"""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path

import numpy as np

SETUP_FUNCTION = "mlif_tvmrt_setup"
INVOKE_FUNCTION = "mlif_tvmrt_invoke"
MODEL_LIB = "model.so"
HELPER = "mlif_tvmrt"  # runtime/mlif_tvmrt.c, an extension module

KDL_CPU = 1
POOLED_ALLOCATOR = 2  # relax.VirtualMachine.POOLED_ALLOCATOR


def _helper(build: Path):
    """The extension module built from runtime/mlif_tvmrt.c (in BUILD_DIR)."""
    import importlib.util

    path = next(build.glob(f"{HELPER}*.so"))
    spec = importlib.util.spec_from_file_location(HELPER, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load_runtime() -> None:
    """libtvm_runtime (the Relax VM) into this process, without ``import tvm``: that would
    also load the compiler library, which costs seconds natively and minutes under
    callgrind."""
    import importlib.util

    spec = importlib.util.find_spec("tvm")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("apache-tvm is not installed")
    lib = Path(list(spec.submodule_search_locations)[0]) / "lib" / "libtvm_runtime.so"
    ctypes.CDLL(str(lib), ctypes.RTLD_GLOBAL)


class RelaxRunner:
    """The compiled model in a Relax VM on the CPU (what relax.VirtualMachine does)."""

    def __init__(self, build: Path, measured_setup: bool = False) -> None:
        import tvm_ffi

        _load_runtime()
        self.helper = _helper(build)
        self.tvm_ffi = tvm_ffi
        self.vm = tvm_ffi.load_module(str(build / MODEL_LIB))["vm_load_executable"]()
        # vm_initialization(device type, device id, allocator) for the CPU, pooled allocator
        init_args = (KDL_CPU, 0, POOLED_ALLOCATOR)
        if measured_setup:
            self.helper.setup(self.vm["vm_initialization"].__chandle__(), init_args)
        else:
            self.vm["vm_initialization"](*init_args)
        self.main = self.vm["main"]
        self.inputs: list = []
        self._result = None
        self._outputs: list[np.ndarray] | None = None
        self._sink = tvm_ffi.convert(self._keep_outputs)

    def _keep_outputs(self, result) -> None:
        outs = [result] if isinstance(result, self.tvm_ffi.Tensor) else list(result)
        self._outputs = [np.from_dlpack(o).copy() for o in outs]

    def set_inputs(self, arrays: list[np.ndarray]) -> None:
        self._arrays = [np.ascontiguousarray(a) for a in arrays]  # keep the memory alive
        self.inputs = [self.tvm_ffi.from_dlpack(a) for a in self._arrays]

    def invoke_measured(self) -> None:
        """One measured inference; ``outputs()`` then returns its outputs (copied by the
        sink after the measured call, so the VM's pool gets the result's memory back)."""
        self._outputs = None
        handles = tuple(t.__chandle__() for t in self.inputs)
        self.helper.invoke(self.main.__chandle__(), handles, self._sink.__chandle__())

    def invoke(self) -> None:
        """One inference through Python (the wall-time measurement calls this)."""
        self._result = self.main(*self.inputs)
        self._outputs = None

    def outputs(self) -> list[np.ndarray]:
        """The outputs of the last invoke."""
        if self._outputs is None:
            if self._result is None:
                raise RuntimeError("no invoke has run (run.invoke_runs must be at least 1)")
            self._keep_outputs(self._result)
        return self._outputs


def interpreter_with_inputs(runner: dict, inputs: list[np.ndarray]) -> RelaxRunner:
    """A runner in this process with one sample set; ``.invoke()`` runs one inference
    (for wall-time measurement, like tflmi_runner.interpreter_with_inputs)."""
    r = RelaxRunner(Path(runner["model"]))
    r.set_inputs(inputs)
    return r


def run(build: Path, inputs_path: Path, invoke_runs: int = 1) -> None:
    from pytest_mlonmcu.core.samples import SampleSet

    r = RelaxRunner(build)
    out = sys.stdout
    out.write("MLIF setup 0 -\n")
    for s, sample in enumerate(SampleSet.load(inputs_path)):
        r.set_inputs(sample)
        for k in range(invoke_runs):
            r.invoke_measured()
            out.write(f"MLIF invoke {s} {k} 0 -\n")
        for i, arr in enumerate(r.outputs()):  # of the last measured invoke
            out.write(f"MLIF output {s} {i} {np.ascontiguousarray(arr).tobytes().hex()}\n")
    out.write("MLIF done 0\n")
    out.flush()


def main(argv: list[str]) -> int:
    mode, build = argv[0], Path(argv[1])
    if mode == "setup":
        RelaxRunner(build, measured_setup=True)
        print("MLIF setup 0 -\nMLIF done 0")
    elif mode == "run":
        runs = int(argv[4]) if len(argv) > 4 else 1
        run(build, Path(argv[3]), runs)
    else:
        print(f"unknown mode {mode!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
