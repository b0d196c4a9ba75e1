"""The static executor: Relax ``main`` (a flat list of kernel calls) -> C implementing mlif.h.

``main`` after lowering.flatten_relax is a sequence of ``R.builtin.alloc_tensor``, calls of
PrimFuncs in destination-passing style, aliases (``lv = alloc``) and reshapes (views).
``read_graph`` turns it into tensors, constants and steps; ``emit_executor`` writes one C
function per mlif.h entry point that calls the kernels in order on static memory:

- ``arena=False`` (tvmaot): one static buffer per tensor, no reuse;
- ``arena=True`` (tvmaotplus): one arena, offsets from planner.plan over the lifetimes.

No malloc and no TVM runtime: the kernels' only runtime needs (workspaces, error
reporting) are served by runtime/tvmaot_shim.c from ``tvmaot_workspace_pool``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from tvm import ir, relax

from ...core.ctext import c_comment_text
from .planner import Interval, align, best_plan, lower_bound

PREFIX = "tvmaot"  # of every symbol of the executor and of runtime/tvmaot_shim.c

C_TYPES = {
    "int8": "int8_t",
    "uint8": "uint8_t",
    "int16": "int16_t",
    "uint16": "uint16_t",
    "int32": "int32_t",
    "uint32": "uint32_t",
    "int64": "int64_t",
    "uint64": "uint64_t",
    "float32": "float",
    "float64": "double",
    "bool": "bool",
}


class ExecutorError(Exception):
    """``main`` holds something the static executor cannot express."""


@dataclass
class Tensor:
    id: int
    name: str
    dtype: str
    shape: tuple[int, ...]
    role: str = "intermediate"  # "input", "output" or "intermediate"
    base: int = -1  # the tensor whose memory a view uses (itself when not a view)

    @property
    def nbytes(self) -> int:
        return (
            math.prod(self.shape)
            * np.dtype(self.dtype if self.dtype != "bool" else "bool").itemsize
        )


@dataclass
class Const:
    id: int
    value: np.ndarray


@dataclass
class Step:
    kernel: str  # Relax GlobalVar name of the PrimFunc
    args: list[tuple[str, int]]  # ("t", tensor id) or ("c", const id)


@dataclass
class Graph:
    tensors: list[Tensor] = field(default_factory=list)
    consts: list[Const] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    inputs: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)

    def add_tensor(self, name: str, ty, role: str = "intermediate", base: int | None = None) -> int:
        shape = tuple(int(d) for d in ty.shape)
        tid = len(self.tensors)
        self.tensors.append(
            Tensor(tid, name, str(ty.dtype), shape, role, tid if base is None else base)
        )
        return tid

    def base_tensors(self) -> list[Tensor]:
        return [t for t in self.tensors if t.base == t.id]


def _const_array(expr) -> np.ndarray:
    data = getattr(expr, "data", None)
    if data is None:
        data = expr.value
    return np.ascontiguousarray(data.numpy())


def read_graph(main: relax.Function) -> Graph:
    g = Graph()
    ids: dict = {}  # relax Var -> tensor id
    const_ids: list[tuple[object, int]] = []

    def tensor_of(expr) -> int:
        for var, tid in ids.items():
            if var.same_as(expr):
                return tid
        raise ExecutorError(f"unknown tensor {expr}")

    const_vars: list[tuple[object, int]] = []  # Vars bound to a view of a constant

    def const_alias(var) -> int | None:
        for v, cid in const_vars:
            if v.same_as(var):
                return cid
        return None

    def const_of(expr) -> int:
        for c, cid in const_ids:
            if c.same_as(expr):
                return cid
        cid = len(g.consts)
        g.consts.append(Const(cid, _const_array(expr)))
        const_ids.append((expr, cid))
        return cid

    tuples: list[tuple[object, list[int]]] = []  # Vars bound to a tuple of tensors (SPLIT)

    def tuple_of(expr) -> list[int]:
        for var, tids in tuples:
            if var.same_as(expr):
                return tids
        raise ExecutorError(f"unknown tuple {expr}")

    for p in main.params:
        tid = g.add_tensor(p.name, p.ty, "input")
        ids[p] = tid
        g.inputs.append(tid)

    body = main.body
    for block in body.blocks:
        for binding in block.bindings:
            var, value = binding.var, binding.value
            if isinstance(value, relax.Var):
                alias = const_alias(value)
                if alias is not None:
                    const_vars.append((var, alias))
                else:
                    ids[var] = tensor_of(value)
                continue
            if isinstance(value, relax.Tuple):  # a kernel's several outputs (SPLIT)
                tuples.append((var, [tensor_of(f) for f in value.fields]))
                continue
            if isinstance(value, relax.TupleGetItem):
                ids[var] = tuple_of(value.tuple_value)[value.index]
                continue
            if not isinstance(value, relax.Call):
                raise ExecutorError(f"unsupported binding {var.name} = {type(value).__name__}")
            op = value.op
            if isinstance(op, ir.GlobalVar):
                args: list[tuple[str, int]] = []
                for a in value.args:
                    if isinstance(a, relax.Var) and const_alias(a) is not None:
                        args.append(("c", const_alias(a)))
                    elif isinstance(a, relax.Var):
                        args.append(("t", tensor_of(a)))
                    elif isinstance(a, ir.expr.Constant):
                        args.append(("c", const_of(a)))
                    else:
                        raise ExecutorError(
                            f"unsupported argument {type(a).__name__} of {op.name_hint}"
                        )
                g.steps.append(Step(op.name_hint, args))
            elif op.name == "relax.builtin.alloc_tensor":
                ids[var] = g.add_tensor(var.name, var.ty)
            elif op.name in ("relax.reshape", "relax.memory.view") and isinstance(
                value.args[0], ir.expr.Constant
            ):
                # A view of a constant (e.g. a weight after ConvertLayout): the same bytes.
                const_vars.append((var, const_of(value.args[0])))
            elif op.name in ("relax.reshape", "relax.memory.view"):
                src = tensor_of(value.args[0])
                ids[var] = g.add_tensor(var.name, var.ty, base=g.tensors[src].base)
            else:
                raise ExecutorError(f"unsupported operation {op.name} in main")

    result = body.body
    fields = list(result.fields) if isinstance(result, relax.Tuple) else [result]
    if len(fields) == 1 and any(v.same_as(fields[0]) for v, _ in tuples):
        out_ids = tuple_of(fields[0])  # the model's outputs, bound as one tuple (SPLIT)
    else:
        out_ids = []
        for f in fields:
            if not isinstance(f, relax.Var):
                raise ExecutorError(f"unsupported output {type(f).__name__}")
            out_ids.append(tensor_of(f))
    for tid in out_ids:
        g.outputs.append(tid)
        base = g.tensors[g.tensors[tid].base]
        if base.role == "intermediate":
            base.role = "output"
    return g


def lifetimes(g: Graph) -> list[Interval]:
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for i, step in enumerate(g.steps):
        for kind, tid in step.args:
            if kind != "t":
                continue
            b = g.tensors[tid].base
            first.setdefault(b, i)
            last[b] = i
    end = len(g.steps)
    out = []
    for t in g.base_tensors():
        lo = -1 if t.role == "input" else first.get(t.id, end)
        hi = end if t.role == "output" else last.get(t.id, lo)
        out.append(Interval(t.id, t.nbytes, lo, hi))
    return out


# -- C emission ----------------------------------------------------------------------------
def _c_literal(v, dtype: str) -> str:
    if dtype in ("float32", "float64"):
        f = float(v)
        if math.isnan(f):
            return "NAN"
        if math.isinf(f):
            return "INFINITY" if f > 0 else "-INFINITY"
        return f.hex() + ("f" if dtype == "float32" else "")
    if dtype == "bool":
        return "1" if v else "0"
    i = int(v)
    if dtype == "int64":
        return f"INT64_C({i})"
    if dtype == "uint64":
        return f"UINT64_C({i})"
    if dtype == "int32" and i == -(2**31):
        return "(-2147483647 - 1)"
    if dtype in ("uint32",):
        return f"{i}u"
    return str(i)


def _array_body(values: np.ndarray, dtype: str, per_line: int = 16) -> str:
    flat = values.reshape(-1)
    lines = []
    for i in range(0, len(flat), per_line):
        lines.append("  " + ", ".join(_c_literal(v, dtype) for v in flat[i : i + per_line]) + ",")
    return "\n".join(lines)


@dataclass
class ExecutorSource:
    source: str
    arena_bytes: int  # tvmaotplus: the arena; tvmaot: the sum of all tensor buffers
    arena_lower_bound: int
    weights_bytes: int
    tensor_bytes: int  # sum of all tensor buffers (what tvmaot uses)
    io_bytes: int
    steps: int
    workspace_bytes: int  # the largest workspace of one kernel
    # Feature profile: per kernel call, its kernel (C name) and output shape (last argument).
    kernel_steps: list[dict] = field(default_factory=list)


def emit_executor(
    g: Graph,
    kernel_names: dict[str, str],
    kernel_params: dict[str, list[str]],
    *,
    arena: bool,
    workspaces: dict[str, int],
) -> ExecutorSource:
    """The C source of the executor. ``workspaces``: bytes per kernel (C name) that it
    allocates through TVMBackendAllocWorkspace; in an arena they are planned like tensors
    that live during one step."""
    p = PREFIX
    out: list[str] = []
    w = out.append
    w("/* Generated by pytest-mlonmcu (backends/tvm/executor.py): static executor, do not edit. */")
    w("#include <math.h>")
    w("#include <stdbool.h>")
    w("#include <stddef.h>")
    w("#include <stdint.h>")
    w("")
    w('#include "mlif.h"')
    w('#include "tvmaot_shim.h"')
    w("")
    w("/* Feature profile: -DCGEN_PROFILE brackets every kernel call (the harness counts). */")
    w("#ifdef CGEN_PROFILE")
    w("void cgen_profile_op(int op_index, int end);")
    w("#define MLIF_STEP_BEGIN(i) cgen_profile_op((i), 0)")
    w("#define MLIF_STEP_END(i) cgen_profile_op((i), 1)")
    w("#else")
    w("#define MLIF_STEP_BEGIN(i) ((void)0)")
    w("#define MLIF_STEP_END(i) ((void)0)")
    w("#endif")
    w("")
    used = sorted({s.kernel for s in g.steps})
    for name in used:
        params = ", ".join(f"{C_TYPES[d]}*" for d in kernel_params[kernel_names[name]])
        w(f"int32_t {kernel_names[name]}({params});")
    w("")

    weights = 0
    for c in g.consts:
        dtype = str(c.value.dtype)
        if dtype not in C_TYPES:
            raise ExecutorError(f"constant of dtype {dtype}")
        n = max(c.value.size, 1)
        weights += n * c.value.dtype.itemsize
        w(f"static const {C_TYPES[dtype]} {p}_c{c.id}[{n}] __attribute__((aligned(16))) = {{")
        w(_array_body(c.value.reshape(-1) if c.value.size else np.zeros(1, c.value.dtype), dtype))
        w("};")
    w("")

    bases = g.base_tensors()
    ivs = lifetimes(g)
    step_ws = {i: workspaces.get(kernel_names[s.kernel], 0) for i, s in enumerate(g.steps)}
    ws_max = max(step_ws.values(), default=0)
    tensor_bytes = sum(align(t.nbytes) for t in bases)
    where: dict[int, str] = {}
    ws_where: dict[int, str] = {}
    if arena:
        # A workspace is a buffer that lives during its step (keys below 0).
        ws_ivs = [Interval(-1 - i, n, i, i) for i, n in step_ws.items() if n]
        bound = lower_bound(ivs + ws_ivs)
        offsets, size = best_plan(ivs + ws_ivs)
        w(
            f"/* {len(bases)} tensors and {len(ws_ivs)} workspaces in one arena (lower bound {bound} bytes) */"
        )
        w(f"static uint8_t {p}_arena[{max(size, 16)}] __attribute__((aligned(16)));")
        for t in bases:
            where[t.id] = f"({p}_arena + {offsets[t.id]})"
        for iv in ws_ivs:
            ws_where[-1 - iv.key] = f"{p}_arena + {offsets[iv.key]}"
        arena_bytes = size
    else:
        bound = lower_bound(ivs)
        for t in bases:
            w(
                f"static {C_TYPES[t.dtype]} {p}_t{t.id}[{max(math.prod(t.shape), 1)}] "
                f"__attribute__((aligned(16))); /* {c_comment_text(t.name)} {t.role} */"
            )
            where[t.id] = f"{p}_t{t.id}"
        if ws_max:
            w(f"static uint8_t {p}_workspace[{ws_max}] __attribute__((aligned(16)));")
            for i, n in step_ws.items():
                if n:
                    ws_where[i] = f"{p}_workspace"
        arena_bytes = tensor_bytes + ws_max
    w("")

    def ptr(kind: str, i: int, ctype: str) -> str:
        if kind == "c":
            return f"({ctype}*){p}_c{i}"
        return f"({ctype}*){where[g.tensors[i].base]}"

    w("int mlif_model_init(void) {")
    w(f"  {p}_error = 0;")
    w("  return 0;")
    w("}")
    w("")
    w("int mlif_model_invoke(void) {")
    for i, step in enumerate(g.steps):
        cname = kernel_names[step.kernel]
        types = kernel_params[cname]
        if len(types) != len(step.args):
            raise ExecutorError(
                f"{step.kernel}: {len(step.args)} arguments for {len(types)} parameters"
            )
        if i in ws_where:
            w(f"  {p}_workspace_begin({ws_where[i]}, {step_ws[i]});")
        args = ", ".join(ptr(k, a, C_TYPES[d]) for (k, a), d in zip(step.args, types))
        w(f"  MLIF_STEP_BEGIN({i});")
        w(f"  if ({cname}({args}) != 0) return -1;")
        w(f"  MLIF_STEP_END({i});")
    w(f"  return {p}_error ? -1 : 0;")
    w("}")
    w("")

    def table(role_ids: list[int], what: str, const: bool) -> None:
        q = "const " if const else ""
        w(f"size_t mlif_model_num_{what}s(void) {{ return {len(role_ids)}; }}")
        w("")
        w(f"{q}void *mlif_model_{what}(size_t index) {{")
        w("  switch (index) {")
        for k, tid in enumerate(role_ids):
            w(f"    case {k}: return {where[g.tensors[tid].base]};")
        w("    default: return NULL;")
        w("  }")
        w("}")
        w("")
        w(f"size_t mlif_model_{what}_bytes(size_t index) {{")
        w("  switch (index) {")
        for k, tid in enumerate(role_ids):
            w(f"    case {k}: return {g.tensors[tid].nbytes};")
        w("    default: return 0;")
        w("  }")
        w("}")
        w("")

    table(g.inputs, "input", False)
    table(g.outputs, "output", True)
    io = sum(g.tensors[t].nbytes for t in g.inputs + g.outputs)
    kernel_steps = []
    for step in g.steps:
        kind, last = step.args[-1] if step.args else ("c", -1)
        shape = list(g.tensors[last].shape) if kind == "t" else []
        kernel_steps.append({"operator": kernel_names[step.kernel], "output_shape": shape})
    return ExecutorSource(
        "\n".join(out) + "\n", arena_bytes, bound, weights, tensor_bytes, io, len(g.steps),
        ws_max, kernel_steps,
    )  # fmt: skip
