"""TVM compilation of one model, run in its own process (TVM is imported only here).

    python -m pytest_mlonmcu.backends.tvm.compile MODEL.tflite OUT_DIR OPTIONS_JSON

writes ``OUT_DIR/kernels.c`` (TVM's C codegen), ``executor.c`` (the static executor),
``main.relax`` (the flat Relax main, for reading) and ``manifest.json`` (metrics and
timings). On failure it writes ``error.json`` (``{"stage", "op", "message", "detail"}``)
and exits with status 3. A separate process keeps TVM's import time, memory and any
crash out of the pytest worker.
"""

from __future__ import annotations

import json
import re
import sys
import time
import traceback
from pathlib import Path

from ...core.ctext import c_identifier_bytes
from .options import TvmOptions

EXIT_ERROR = 3
_TENSOR_NAME_SLOT = 10  # vtable slot of Tensor.name in the TFLite schema


class CompileFailure(Exception):
    def __init__(self, stage: str, message: str, op: str = "", detail: str = "") -> None:
        super().__init__(message)
        self.stage, self.op, self.message, self.detail = stage, op, message, detail


# -- condensing TVM's errors --------------------------------------------------------------
_NOT_SUPPORTED = re.compile(r"operators? (?:are|is) not supported[^:]*:\s*'?([A-Z0-9_, ']+)", re.I)
_OP_NAME = re.compile(r"\b(relax\.[a-z0-9_.]+)")


def _last_line(exc: BaseException) -> str:
    lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
    return lines[-1].strip() if lines else type(exc).__name__


def condense_import_error(exc: BaseException) -> CompileFailure:
    text = str(exc)
    m = _NOT_SUPPORTED.search(text)
    if m:
        ops = ", ".join(o.strip(" '") for o in m.group(1).split(",") if o.strip(" '"))
        return CompileFailure(
            "import", f"operator {ops} is not supported by TVM's TFLite importer", ops, text
        )
    name, index = _converting(exc)
    if not name:
        op = re.search(r"\b([A-Z][A-Z0-9_]{2,})\b", text)
        name = op.group(1) if op else ""
    where = f" on {name}" + (f" (operator index {index})" if index is not None else "")
    cause = _last_line(exc)
    if type(exc).__module__ == "builtins" and cause != type(exc).__name__:  # KeyError: 57
        cause = f"{type(exc).__name__}: {cause}"
    return CompileFailure(
        "import", f"TVM's TFLite importer failed{where if name else ''}: {cause}", name, text
    )


def _converting(exc: BaseException) -> tuple[str, int | None]:
    """The operator the importer was converting when ``exc`` was raised (its loop's locals)."""
    tb = exc.__traceback__
    found: tuple[str, int | None] = ("", None)
    while tb is not None:
        local = tb.tb_frame.f_locals
        if tb.tb_frame.f_code.co_name == "convert_op_to_relax" and "op_code_str" in local:
            found = (str(local["op_code_str"]), local.get("op_idx"))
        tb = tb.tb_next
    return found


def condense_lower_error(exc: BaseException, stage: str) -> CompileFailure:
    text = str(exc)
    m = _OP_NAME.search(text)
    op = m.group(1) if m else ""
    what = f"operator {op} cannot be lowered" if op else "lowering failed"
    return CompileFailure(stage, f"TVM: {what}: {_last_line(exc)}", op, text)


# -- the pipeline ---------------------------------------------------------------------------
def identifier_names(data: bytes) -> bytes:
    """The model with every tensor name made a C identifier, in place (same lengths).

    TVM's C codegen pastes the name of a model input into kernels.c as a parameter name:
    a name like ``*/ x; /*`` or ``a:0`` must not reach it as it is."""
    import tflite

    buf = bytearray(data)
    model = tflite.Model.GetRootAsModel(buf, 0)
    for s in range(model.SubgraphsLength()):
        sg = model.Subgraphs(s)
        for i in range(sg.TensorsLength()):
            tab = sg.Tensors(i)._tab
            field = tab.Offset(_TENSOR_NAME_SLOT)
            if not field:
                continue
            start = tab.Pos + field
            start += int.from_bytes(buf[start : start + 4], "little")  # the string's uoffset
            length = int.from_bytes(buf[start : start + 4], "little")
            buf[start + 4 : start + 4 + length] = c_identifier_bytes(
                buf[start + 4 : start + 4 + length]
            )
    return bytes(buf)


def refuse_inexact_resize(model) -> None:
    """RESIZE_NEAREST_NEIGHBOR with align_corners: TVM picks other source pixels than TFLM
    (measured: 84 of 189 values differ on a 4x5 -> 7x9 resize; cause not traced)."""
    from tflite.BuiltinOperator import BuiltinOperator
    from tflite.ResizeNearestNeighborOptions import ResizeNearestNeighborOptions

    graph = model.Subgraphs(0)
    for index in range(graph.OperatorsLength()):
        op = graph.Operators(index)
        code = model.OperatorCodes(op.OpcodeIndex())
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if builtin != BuiltinOperator.RESIZE_NEAREST_NEIGHBOR or op.BuiltinOptions() is None:
            continue
        options = ResizeNearestNeighborOptions()
        options.Init(op.BuiltinOptions().Bytes, op.BuiltinOptions().Pos)
        if options.AlignCorners():
            raise CompileFailure(
                "import",
                f"operator RESIZE_NEAREST_NEIGHBOR (index {index}) with align_corners: TVM "
                "picks other source pixels than TFLM there (not bit-exact)",
                "RESIZE_NEAREST_NEIGHBOR",
            )


def import_model(data: bytes):
    import tflite
    from tvm.relax.frontend.tflite import from_tflite, tflite_frontend

    from . import LOOKUP_TABLE_OPS, QUANTIZED_MOVES, converters

    converter = tflite_frontend.OperatorConverter
    quantized = converter._SUPPORTED_QUANTIZED_OPS | QUANTIZED_MOVES | LOOKUP_TABLE_OPS
    converter._SUPPORTED_QUANTIZED_OPS = quantized
    converters.install(converter)
    refuse_inexact_resize(tflite.Model.GetRootAsModel(data, 0))
    data = identifier_names(data)
    try:
        return from_tflite(tflite.Model.GetRootAsModel(data, 0))
    except Exception as exc:  # noqa: BLE001 - every importer failure becomes a BuildError
        raise condense_import_error(exc) from exc


def prepare(data: bytes, opts: TvmOptions, timings: dict[str, float], info: dict):
    """Imported and rewritten Relax module (before fusion)."""
    from tvm import relax

    from . import intpath

    t = time.perf_counter()
    mod = import_model(data)
    timings["import"] = time.perf_counter() - t
    t = time.perf_counter()
    if opts.int8:
        try:
            mod, counts = intpath.to_integer(mod)
        except Exception as exc:  # noqa: BLE001
            raise condense_lower_error(exc, "integer") from exc
        info["integer_ops"] = counts
    if opts.layout == "NCHW":
        desired = {"relax.nn.conv2d": ["NCHW", "OIHW"]}
        mod = relax.transform.ConvertLayout(desired)(mod)
    timings["rewrite"] = time.perf_counter() - t
    return mod


def compile_vm(data: bytes, opts: TvmOptions, out: Path) -> dict:
    """tvmrt: ``relax.build`` for LLVM (the TVM runtime's Relax VM) and the measured-call
    helper library of rt_runner.py."""
    import tvm
    from tvm import relax

    from ...core import proc
    from . import RUNTIME_DIR, tvm_include_dirs

    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    info: dict = {}
    mod = prepare(data, opts, timings, info)
    t = time.perf_counter()
    try:
        ex = relax.build(mod, target=tvm.target.Target({"kind": "llvm"}))
    except Exception as exc:  # noqa: BLE001
        raise condense_lower_error(exc, "lower") from exc
    ex.export_library(str(out / "model.so"))
    timings["relax_build"] = time.perf_counter() - t
    import sysconfig

    import tvm_ffi.libinfo

    # The measured-call wrappers, as an extension module of this interpreter.
    ffi_lib = Path(tvm_ffi.libinfo.find_libtvm_ffi()).parent
    ext = out / f"mlif_tvmrt{sysconfig.get_config_var('EXT_SUFFIX')}"
    cmd = ["gcc", "-shared", "-fPIC", "-O1", "-fno-optimize-sibling-calls"]
    cmd += [f"-I{d}" for d in [*tvm_include_dirs(), sysconfig.get_paths()["include"]]]
    cmd += [str(RUNTIME_DIR / "mlif_tvmrt.c"), f"-L{ffi_lib}", "-ltvm_ffi", f"-Wl,-rpath,{ffi_lib}"]
    cmd += ["-o", str(ext)]
    try:
        result = proc.run(cmd, timeout=proc.limit("compile"), what="building the runner helper")
    except proc.ChildTimeout as exc:
        raise CompileFailure("helper", str(exc)) from None
    if result.returncode != 0:
        raise CompileFailure("helper", f"building the runner helper failed: {result.stderr[-500:]}")
    manifest = {
        "options": opts.as_dict(),
        "timings": {k: round(v, 4) for k, v in timings.items()},
        "metrics": {"tvm_build_seconds": round(sum(timings.values()), 3)},
        "info": info,
        "tvm_version": _tvm_version(),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def compile_model(data: bytes, opts: TvmOptions, out: Path) -> dict:
    from . import executor, lowering, schedules

    if opts.runtime == "vm":
        return compile_vm(data, opts, out)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    info: dict = {}
    mod = prepare(data, opts, timings, info)

    t = time.perf_counter()
    try:
        flat = lowering.flatten_relax(mod, fold_constants=not opts.int8, inline_pad=opts.inline_pad)
    except Exception as exc:  # noqa: BLE001
        raise condense_lower_error(exc, "lower") from exc
    timings["relax"] = time.perf_counter() - t
    main = flat["main"]
    (out / "main.relax").write_text(main.script(show_meta=False))

    try:
        graph = executor.read_graph(main)
    except executor.ExecutorError as exc:
        raise CompileFailure(
            "executor", f"static executor: {exc}", "", traceback.format_exc()
        ) from exc

    t = time.perf_counter()
    used = {s.kernel for s in graph.steps}
    funcs = {k: f for k, f in lowering.prim_funcs(flat).items() if k in used}
    try:
        kernels = lowering.build_kernels(funcs, schedules.get_schedule(opts.schedule, opts.unroll))
    except Exception as exc:  # noqa: BLE001
        raise condense_lower_error(exc, "codegen") from exc
    timings["kernels"] = time.perf_counter() - t
    (out / "kernels.c").write_text(kernels.source)

    t = time.perf_counter()
    try:
        src = executor.emit_executor(
            graph,
            kernels.names,
            kernels.params,
            arena=opts.arena,
            workspaces=kernels.workspaces,
        )
    except executor.ExecutorError as exc:
        raise CompileFailure(
            "executor", f"static executor: {exc}", "", traceback.format_exc()
        ) from exc
    timings["executor"] = time.perf_counter() - t
    (out / "executor.c").write_text(src.source)

    manifest = {
        "options": opts.as_dict(),
        "timings": {k: round(v, 4) for k, v in timings.items()},
        "metrics": {
            "arena_bytes": src.arena_bytes,
            "arena_lower_bound_bytes": src.arena_lower_bound,
            "workspace_bytes": src.workspace_bytes,
            "weights_bytes": src.weights_bytes,
            "tvm_kernels": len(kernels.names),
            "tvm_kernel_calls": src.steps,
            "tvm_build_seconds": round(sum(timings.values()), 3),
        },
        "info": info,
        "tvm_version": _tvm_version(),
        "kernel_steps": src.kernel_steps,  # feature profile's rows
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def _tvm_version() -> str:
    import tvm

    return str(tvm.__version__)


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    model, out, options = Path(argv[0]), Path(argv[1]), TvmOptions.from_json(argv[2])
    try:
        compile_model(model.read_bytes(), options, out)
    except CompileFailure as exc:
        out.mkdir(parents=True, exist_ok=True)
        (out / "error.json").write_text(
            json.dumps(
                {
                    "stage": exc.stage,
                    "op": exc.op,
                    "message": exc.message,
                    "detail": exc.detail[-6000:],
                }
            )
        )
        print(exc.message, file=sys.stderr)
        return EXIT_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
