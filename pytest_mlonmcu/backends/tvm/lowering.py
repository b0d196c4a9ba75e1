"""Relax -> a flat list of kernel calls, and the kernels -> plain C with TVM's C codegen.

After the "zero" pipeline (legalize, fold constants, fuse; see ``fuse``) the passes
LegalizeOps ... CallTIRRewrite leave ``main`` as a list of allocations and
destination-passing calls of PrimFuncs, which executor.py turns into C (with its own
memory planning: planner.py packs tighter than StaticPlanBlockMemory's storage reuse).
Each PrimFunc is scheduled (schedules.py), then "unpacked": its buffer
parameters become plain pointers, so TVM's C codegen emits an ordinary C function
(``int32_t k(int8_t* a, ...)``) instead of the tvm-ffi packed convention that checks every
DLTensor argument at run time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import tvm
from tvm import ir, relax, tirx
from tvm.tirx.buffer import is_buffer_var

from ...core.ctext import c_identifier

C_TARGET = {"kind": "c"}
KERNEL_PREFIX = "tvmaot_k"


def fuse(mod: tvm.IRModule, fold_constants: bool = True, inline_pad: bool = True) -> tvm.IRModule:
    """relax.get_pipeline("zero") (legalize, fold, fuse), optionally without FoldConstant.

    The integer path builds its constants itself; folding would also widen its int32
    multipliers to int64 (``astype(const)``), which costs a 64x64 multiply per element.
    """
    mod = tvm.transform.Sequential(
        [
            relax.transform.LegalizeOps({"relax.nn.pad": _legalize_pad}),
            relax.transform.AnnotateTIROpPattern(),
        ]
    )(mod)
    # FuseOps would fuse a padding into the *producer's* kernel as an epilogue, where the
    # schedule cannot place it (its border is written by no iteration of the producer):
    # opaque pads stay alone, then fold_pads moves each into its consumer.
    for gv, f in list(mod.functions.items()):
        if isinstance(f, tirx.PrimFunc) and _is_pad(gv):
            mod[gv] = f.with_attr("op_pattern", OPAQUE_PATTERN)
    passes = [relax.transform.FoldConstant()] if fold_constants else []
    passes.append(relax.transform.FuseOps())
    mod = tvm.transform.Sequential(passes)(mod)
    if inline_pad:
        mod = fold_pads(mod)
    return relax.transform.FuseTIR()(mod)


def _pad_te(data, pad_before: list[int], pad_after: list[int], value: float):
    """topi.nn.pad with the in-bounds test marked ``likely``: once the padding is inlined
    into a convolution, LoopPartition splits off the border so that the interior
    iterations run without the test (TFLM tests once per filter tap, not per MAC)."""
    from tvm import te

    shape = [int(d) + b + a for d, b, a in zip(data.shape, pad_before, pad_after)]
    fill = tirx.const(value, data.dtype)

    def element(*idx):
        conds, src = [], []
        for i, (b, a, d) in enumerate(zip(pad_before, pad_after, data.shape)):
            if b or a:
                conds += [idx[i] >= b, idx[i] < b + int(d)]
                src.append(idx[i] - b)
            else:
                src.append(idx[i])
        if not conds:
            return data(*src)
        return tirx.if_then_else(tirx.likely(tirx.all(*conds)), data(*src), fill)

    return te.compute(shape, element, name="PadInput")


def _legalize_pad(bb: relax.BlockBuilder, call: relax.Call) -> relax.Expr:
    if call.attrs.pad_mode != "constant":
        from tvm.relax.transform.legalize_ops.nn import _nn_pad

        return _nn_pad(bb, call)
    widths = [int(w) for w in call.attrs.pad_width]
    value = float(call.attrs.pad_value) if call.attrs.pad_value is not None else 0.0
    return bb.call_te(
        _pad_te, call.args[0], widths[::2], widths[1::2], value, primfunc_name_hint="pad"
    )


OPAQUE_PATTERN = 8  # relay/relax OpPatternKind::kOpaque


def _is_pad(gv: ir.GlobalVar) -> bool:
    # Legalization names the PrimFunc of R.nn.pad after the op: pad, pad1, ...
    return gv.name_hint.startswith("pad")


def _uses(func: relax.Function) -> dict:
    """How often each Var is an argument (or the result) in ``func``."""
    counts: dict = {}

    def visit(expr) -> None:
        if isinstance(expr, relax.Var):
            counts[expr] = counts.get(expr, 0) + 1
        elif isinstance(expr, relax.Call):
            for a in expr.args:
                visit(a)
        elif isinstance(expr, relax.Tuple):
            for f in expr.fields:
                visit(f)
        elif isinstance(expr, relax.TupleGetItem):
            visit(expr.tuple_value)

    for block in func.body.blocks:
        for b in block.bindings:
            visit(b.value)
    visit(func.body.body)
    return counts


def fold_pads(mod: tvm.IRModule) -> tvm.IRModule:
    """Move each padding (``R.nn.pad`` of the integer path) into the fused kernel that
    consumes it, so FuseTIR puts both into one PrimFunc and the schedule inlines the
    padding into the convolution's reads: no padded copy in RAM, no copy loop.

    FuseOps never fuses an injective producer into a reduction's group; this does it
    for a pad (a ``call_tir`` of a PrimFunc named ``pad*`` by legalization) whose result
    is used once, as the first argument of a fused (``Primitive``) function.
    """
    main = mod["main"]
    uses = _uses(main)
    pads: dict = {}  # pad result Var -> (pad GlobalVar, pad input, out type)
    for block in main.body.blocks:
        for b in block.bindings:
            v = b.value
            if (
                isinstance(v, relax.Call)
                and isinstance(v.op, ir.Op)
                and v.op.name == "relax.call_tir"
                and _is_pad(v.args[0])
                and uses.get(b.var, 0) == 1
            ):
                pads[b.var] = (v.args[0], v.args[1].fields[0], v)
    if not pads:
        return mod
    new_blocks = []
    folded = set()
    merged: dict[tuple[str, str], ir.GlobalVar] = {}
    bb = relax.BlockBuilder(mod)  # gives the new functions typed GlobalVars
    for block in main.body.blocks:
        bindings = []
        for b in block.bindings:
            v = b.value
            if b.var in pads:
                bindings.append(b)  # dropped below if its consumer takes it
                continue
            if (
                isinstance(v, relax.Call)
                and isinstance(v.op, ir.GlobalVar)
                and len(v.args)
                and isinstance(v.args[0], relax.Var)
                and v.args[0] in pads
                and isinstance(mod[v.op], relax.Function)
            ):
                pad_var = v.args[0]
                pad_gv, pad_in, pad_call = pads[pad_var]
                folded.add(pad_var)
                key = (v.op.name_hint, pad_gv.name_hint)
                if key in merged:
                    call = bb.normalize(relax.Call(merged[key], [pad_in, *v.args[1:]]))
                    bindings.append(relax.VarBinding(b.var, call))
                    continue
                group = mod[v.op]
                inner = group.params[0]
                new_param = relax.Var(f"{inner.name}_unpadded", pad_in.ty)
                first = relax.VarBinding(
                    inner,
                    relax.Call(
                        pad_call.op,
                        [pad_gv, relax.Tuple([new_param])],
                        pad_call.attrs,
                        pad_call.ty_args if hasattr(pad_call, "ty_args") else None,
                    ),
                )
                body = group.body
                blocks = list(body.blocks)
                blocks[0] = relax.DataflowBlock([first, *blocks[0].bindings])
                new_group = relax.Function(
                    [new_param, *group.params[1:]],
                    relax.SeqExpr(blocks, body.body),
                    group.ret_ty,
                    group.is_pure,
                    group.attrs,
                )
                gv = bb.add_func(new_group, f"{v.op.name_hint}_{pad_gv.name_hint}")
                merged[key] = gv
                call = bb.normalize(relax.Call(gv, [pad_in, *v.args[1:]]))
                bindings.append(relax.VarBinding(b.var, call))
                continue
            bindings.append(b)
        bindings = [b for b in bindings if b.var not in folded]
        cls = relax.DataflowBlock if isinstance(block, relax.DataflowBlock) else relax.BindingBlock
        new_blocks.append(cls(bindings))
    mod = bb.get()
    mod["main"] = relax.Function(
        main.params,
        relax.SeqExpr(new_blocks, main.body.body),
        main.ret_ty,
        main.is_pure,
        main.attrs,
    )
    return relax.transform.DeadCodeElimination()(mod)


def flatten_relax(
    mod: tvm.IRModule,
    fold_constants: bool = True,
    inline_pad: bool = True,
) -> tvm.IRModule:
    """The static-executor form of ``mod`` (see the module docstring)."""
    mod = fuse(mod, fold_constants, inline_pad)
    passes = [
        relax.transform.LegalizeOps(),
        relax.transform.RewriteDataflowReshape(),
        relax.transform.ToNonDataflow(),
        relax.transform.RemovePurityChecking(),
        relax.transform.CallTIRRewrite(),
    ]
    return tvm.transform.Sequential(passes)(mod)


def prim_funcs(mod: tvm.IRModule) -> dict[str, tirx.PrimFunc]:
    return {gv.name_hint: f for gv, f in mod.functions.items() if isinstance(f, tirx.PrimFunc)}


def unpack(func: tirx.PrimFunc) -> tirx.PrimFunc:
    """Buffer parameters -> pointer parameters bound by DeclBuffer (a plain C signature)."""
    params, decls = [], []
    for p in func.params:
        if not is_buffer_var(p):
            params.append(p)
            continue
        ptr = tirx.Var(p.name, ir.PointerType(ir.PrimType(p.dtype)))
        params.append(ptr)
        decls.append(tirx.DeclBuffer(p, data=ptr))
    if "global_symbol" in func.attrs:
        func = func.without_attr("global_symbol")
    # int32 return: the codegen's workspace checks "return -1"; the executor checks it.
    # (The final "return 0" is added after LowerTVMBuiltin, behind the workspace frees.)
    body = tirx.SeqStmt([*decls, func.body])
    return tirx.PrimFunc(params, body, ret_type=ir.PrimType("int32"), attrs=func.attrs)


def _with_device(func: tirx.PrimFunc) -> tirx.PrimFunc:
    """What MakePackedAPI attaches to exported functions: LowerTVMBuiltin needs the device
    of a workspace allocation. Added after the pipeline, which hoists allocations."""
    zero = tirx.IntImm("int32", 0)
    body = tirx.AttrStmt(zero, "device_id", zero, func.body)
    body = tirx.AttrStmt(zero, "device_type", tirx.IntImm("int32", 1), body)
    return func.with_body(body)


def build_c(mod: tvm.IRModule, target: dict) -> str:
    """tvm.tirx.build for a C host target, with the device attributes of _with_device."""
    from tvm.tirx.build import codegen_build

    tgt = tvm.target.Target(target)
    tgt = tgt.with_host(tgt)
    mod = tvm.tirx.transform.BindTarget(tgt)(mod)
    pipeline, finalize_host, _ = tvm.tirx.get_default_tir_pipeline(tgt)
    mod = pipeline(mod)
    mod = tvm.IRModule({gv: _with_device(f) for gv, f in mod.functions.items()}, attrs=mod.attrs)
    mod = finalize_host()(mod)
    ok = tirx.Return(tirx.IntImm("int32", 0))
    mod = tvm.IRModule(
        {gv: f.with_body(tirx.SeqStmt([f.body, ok])) for gv, f in mod.functions.items()},
        attrs=mod.attrs,
    )
    return codegen_build(mod, tgt).inspect_source()


@dataclass
class Kernels:
    """The C source of all kernels and the C name of each Relax-level PrimFunc."""

    source: str
    names: dict[str, str]  # Relax GlobalVar name -> C function name
    params: dict[str, list[str]]  # C function name -> dtype of each pointer parameter
    workspaces: dict[str, int] = field(default_factory=dict)  # C name -> workspace bytes

    @property
    def workspace_bytes(self) -> int:
        """Pool size: kernels run one after the other and free all they allocate."""
        return max(self.workspaces.values(), default=0)


def c_name(index: int, name: str) -> str:
    # Short, unique and never a libc/libm symbol (a fused function may be called "exp").
    short = c_identifier(name)[:40].rstrip("_")
    return f"{KERNEL_PREFIX}{index}_{short}"


def build_kernels(
    funcs: dict[str, tirx.PrimFunc],
    schedule: Callable[[tirx.PrimFunc], tirx.PrimFunc] | None = None,
    target: dict | None = None,
) -> Kernels:
    """Schedule, unpack and compile ``funcs`` to one C source with TVM's C codegen."""
    names: dict[str, str] = {}
    params: dict[str, list[str]] = {}
    module: dict[str, tirx.PrimFunc] = {}
    for i, (name, func) in enumerate(sorted(funcs.items())):
        if schedule is not None:
            func = schedule(func)
        cname = c_name(i, name)
        names[name] = cname
        params[cname] = [str(p.dtype) for p in func.params]
        module[cname] = unpack(func)
    if len(module) == 1:
        # A lone function would be the module's "entry" and need the packed convention.
        module[f"{KERNEL_PREFIX}_unused"] = _noop()
    mod = tvm.IRModule({tvm.ir.GlobalVar(n): f for n, f in module.items()})
    with tvm.transform.PassContext(opt_level=3):
        source = build_c(mod, target or C_TARGET)
    return Kernels(source, names, params, workspace_sizes(source))


_FUNC_START = re.compile(r"^TVM_DLL \w+ (\w+)\(.*\) \{$", re.M)
_ALLOC = re.compile(r"TVMBackendAllocWorkspace\([^,]+,[^,]+,\s*\(uint64_t\)(\d+)")


def workspace_sizes(source: str) -> dict[str, int]:
    """Workspace bytes per kernel: the sum of its allocations (16-byte aligned).

    A sum, not a peak: an upper bound that holds for any order of alloc/free in the body.
    """
    starts = [(m.start(), m.group(1)) for m in _FUNC_START.finditer(source)]
    sizes: dict[str, int] = {}
    for k, (pos, name) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else len(source)
        total = sum((int(n) + 15) // 16 * 16 for n in _ALLOC.findall(source, pos, end))
        if total:
            sizes[name] = total
    return sizes


def _noop() -> tirx.PrimFunc:
    ptr = tirx.Var("p", ir.PointerType(ir.PrimType("int8")))
    return tirx.PrimFunc(
        [ptr], tirx.Evaluate(tirx.IntImm("int32", 0)), ret_type=ir.PrimType("int32")
    )
