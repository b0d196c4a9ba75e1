"""cgen: a static C code generator for int8 TFLite models (not TFLite Micro).

generate() reads a .tflite, checks every operator and tensor type, lowers each
operator to a call of the project's own kernels (kernels/*.c) with all
constants precomputed, plans one static arena, and writes `cgen_model.c`
implementing the mlif.h interface. The needed kernel sources are copied next to
it, so the output directory is self-contained apart from mlif.h (in the harness).
"""

from __future__ import annotations

import json
import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...core.cache import atomic_write_text
from ...core.ctext import c_comment_text
from ...core.errors import BuildError, UsageError
from . import cemit
from .cemit import CodeBuilder
from .lowering import ALIAS_OPS, ELEMENTWISE_OPS, check_supported, lower
from .model import Graph, Operator, Tensor, read_model
from .ops.context import LOWERINGS, LoweringContext, types_text
from .params import HEADER_FILE, params_header
from .planner import BufferRequest, check_plan, plan_memory

KERNEL_DIR = Path(__file__).parent / "kernels"
MLIF_INCLUDE_DIR = Path(__file__).resolve().parents[2] / "harness" / "common"
MODEL_FILE = "cgen_model.c"
VARIANTS = ("optimized", "reference")
ARENA_ALIGNMENT = 4
_IO_TYPES = {"INT8": "int8_t", "INT16": "int16_t", "FLOAT32": "float", "INT32": "int32_t"}
# Kernel sources that call functions defined in other kernel sources.
_KERNEL_DEPS = {
    "cgen_conv.c": ("cgen_requant.c",),
    "cgen_depthwise.c": ("cgen_requant.c",),
    "cgen_softmax.c": ("cgen_fixedpoint.c",),
    "cgen_activation.c": ("cgen_fixedpoint.c",),
}


@dataclass
class CgenOutput:
    sources: list[Path]  # .c files to compile (generated + kernels)
    include_dirs: list[Path]
    arena_bytes: int  # size of the static activation arena chosen by the planner
    arena_lower_bound: int  # peak of simultaneously live tensor bytes (so the gap is visible)
    ops: list[str]  # builtin op names in model order
    weights_bytes: int  # const bytes emitted (weights, biases, quant constants)


class _Buffers:
    """Which tensors share bytes (aliases, in-place ops) and their lifetimes."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.parent = list(range(len(graph.tensors)))

    def find(self, t: int) -> int:
        while self.parent[t] != t:
            self.parent[t] = self.parent[self.parent[t]]
            t = self.parent[t]
        return t

    def union(self, keep: int, other: int) -> None:
        self.parent[self.find(other)] = self.find(keep)

    def lifetimes(self) -> dict[int, tuple[int, int]]:
        """[first, last] operator step of every buffer (by root tensor)."""
        graph, n_ops = self.graph, len(self.graph.operators)
        span: dict[int, list[int]] = {}

        def touch(t: int, step: int) -> None:
            r = self.find(t)
            s = span.setdefault(r, [step, step])
            s[0], s[1] = min(s[0], step), max(s[1], step)

        for t in graph.inputs:
            touch(t, 0)
        for op in graph.operators:
            for t in op.inputs + op.outputs:
                if t >= 0 and not graph.tensors[t].is_const:
                    touch(t, op.index)
        for t in graph.outputs:
            touch(t, n_ops)  # outputs stay valid after invoke
        return {r: (s[0], s[1]) for r, s in span.items()}


def _propagate_constants(graph: Graph) -> None:
    """A reshape of a constant is a constant (same bytes, new shape)."""
    for op in graph.operators:
        if op.name in ALIAS_OPS:
            src, dst = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
            if src.is_const and not dst.is_const:
                dst.data = src.data.reshape(dst.shape)


def _check_types(graph: Graph) -> None:
    """Reject a tensor type no kernel of its operators takes, early and naming both (the
    lowerings check the combinations: e.g. QUANTIZE's float32 is its input only)."""
    for op in graph.operators:
        types = LOWERINGS[op.name].types if op.name in LOWERINGS else None
        if types is None:
            continue
        for t in [i for i in op.inputs if i >= 0] + op.outputs:
            tensor = graph.tensors[t]
            if tensor.is_const or tensor.dtype.lower() in types:
                continue
            raise BuildError(
                f"cgen: tensor '{tensor.name}' ({op.name}, operator index {op.index}) is "
                f"{tensor.dtype}; cgen's {op.name} takes {types_text(types)} tensors"
            )


def _merge_buffers(graph: Graph) -> _Buffers:
    """Aliases for reshapes; in-place outputs for elementwise ops whose input dies."""
    bufs = _Buffers(graph)
    model_io = set(graph.inputs) | set(graph.outputs)
    for op in graph.operators:
        if op.name in ALIAS_OPS and not graph.tensors[op.inputs[0]].is_const:
            src, dst = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
            if src.nbytes != dst.nbytes:
                raise BuildError(f"cgen: {op.name} (operator index {op.index}) changes the size")
            bufs.union(op.inputs[0], op.outputs[0])
    for op in graph.operators:
        if op.name not in ELEMENTWISE_OPS:
            continue
        out = graph.tensors[op.outputs[0]]
        if op.outputs[0] in model_io:
            continue
        lifetimes = bufs.lifetimes()
        for i in op.inputs:
            t = graph.tensors[i]
            if t.is_const or t.shape != out.shape or t.nbytes != out.nbytes:
                continue
            if any(bufs.find(i) == bufs.find(x) for x in graph.outputs):
                continue
            if lifetimes[bufs.find(i)][1] == op.index:
                bufs.union(i, op.outputs[0])
                break
    return bufs


class _Emitter:
    """Turns the lowered statements and the memory plan into the model C file."""

    def __init__(self, graph: Graph, bufs: _Buffers, offsets: dict[int, int], code: CodeBuilder):
        self.graph, self.bufs, self.offsets, self.code = graph, bufs, offsets, code
        self.const_names: dict[int, str] = {}

    def pointer(self, kind: str, index: int) -> str:
        t = self.graph.tensors[index]
        ctype = _IO_TYPES.get(t.dtype)
        if ctype is None:
            raise BuildError(f"cgen: tensor '{t.name}' of type {t.dtype} cannot be passed")
        qual = "const " if kind == "IN" else ""
        if t.is_const:
            if kind != "IN":
                raise BuildError(f"cgen: constant tensor '{t.name}' is written by an operator")
            if index not in self.const_names:
                self.code.current_op = -1
                self.const_names[index] = self.code.array(f"tensor{index}", np.asarray(t.data))
            return self.const_names[index]
        offset = self.offsets[self.bufs.find(index)]
        if ctype == "int8_t":
            return f"({qual}int8_t *)(cg_arena.bytes + {offset})"
        return f"({qual}{ctype} *)(void *)(cg_arena.bytes + {offset})"

    def io_table(self, tensors: list[int]) -> tuple[list[str], list[int]]:
        ptrs, sizes = [], []
        for t in tensors:
            tensor = self.graph.tensors[t]
            if tensor.is_const:
                ptrs.append(f"(void *){self.pointer('IN', t)}")
            else:
                ptrs.append(f"(void *)(cg_arena.bytes + {self.offsets[self.bufs.find(t)]})")
            sizes.append(tensor.nbytes)
        return ptrs, sizes

    def model_c(self, arena_bytes: int, ops: list[Operator]) -> str:
        body = []
        for index, statement in self.code.statements:
            body.append(f"/* {index}: {c_comment_text(self.graph.operators[index].name)} */")
            body.append(f"CGEN_OP_BEGIN({index});")
            body.append(cemit.resolve(statement, self.pointer))
            body.append(f"CGEN_OP_END({index});")
        in_ptrs, in_sizes = self.io_table(self.graph.inputs)
        out_ptrs, out_sizes = self.io_table(self.graph.outputs)
        summary = textwrap.wrap(c_comment_text(", ".join(op.name for op in ops), limit=100_000), 90)
        lines = [
            "/* Generated by pytest-mlonmcu's cgen backend: do not edit.",
            f" * {len(ops)} operators: " + "\n *   ".join(summary),
            " */",
            "#include <stddef.h>",
            "#include <stdint.h>",
            "",
            '#include "cgen_kernels.h"',
            f'#include "{HEADER_FILE}"',
            '#include "mlif.h"',
            "",
            "/* Optional per-operator hooks (e.g. instruction counts): -DCGEN_PROFILE and",
            " * provide void cgen_profile_op(int op_index, int end). */",
            "#ifdef CGEN_PROFILE",
            "void cgen_profile_op(int op_index, int end);",
            "#define CGEN_OP_BEGIN(i) cgen_profile_op((i), 0)",
            "#define CGEN_OP_END(i) cgen_profile_op((i), 1)",
            "#else",
            "#define CGEN_OP_BEGIN(i) ((void)0)",
            "#define CGEN_OP_END(i) ((void)0)",
            "#endif",
            "",
            "/* All activations live in one arena; offsets come from the memory planner. */",
            f"static union {{ int32_t align; int8_t bytes[{max(arena_bytes, 4)}]; }} cg_arena;",
            "",
            *self.code.consts,
            "",
            *self.code.params,
            "",
            f"static void *const cg_inputs[{max(len(in_ptrs), 1)}] = {{{', '.join(in_ptrs) or 'NULL'}}};",
            f"static const size_t cg_input_bytes[{max(len(in_sizes), 1)}] = "
            f"{{{', '.join(map(str, in_sizes)) or '0'}}};",
            f"static void *const cg_outputs[{max(len(out_ptrs), 1)}] = "
            f"{{{', '.join(out_ptrs) or 'NULL'}}};",
            f"static const size_t cg_output_bytes[{max(len(out_sizes), 1)}] = "
            f"{{{', '.join(map(str, out_sizes)) or '0'}}};",
            "",
            "int mlif_model_init(void) { return 0; /* everything is precomputed */ }",
            "",
            "int mlif_model_invoke(void) {",
            *(f"  {s}" for s in body),
            "  return 0;",
            "}",
            "",
            f"size_t mlif_model_num_inputs(void) {{ return {len(in_ptrs)}; }}",
            f"size_t mlif_model_num_outputs(void) {{ return {len(out_ptrs)}; }}",
            "",
            "void *mlif_model_input(size_t index) {",
            f"  return index < {len(in_ptrs)} ? cg_inputs[index] : NULL;",
            "}",
            "",
            "size_t mlif_model_input_bytes(size_t index) {",
            f"  return index < {len(in_ptrs)} ? cg_input_bytes[index] : 0;",
            "}",
            "",
            "const void *mlif_model_output(size_t index) {",
            f"  return index < {len(out_ptrs)} ? cg_outputs[index] : NULL;",
            "}",
            "",
            "size_t mlif_model_output_bytes(size_t index) {",
            f"  return index < {len(out_ptrs)} ? cg_output_bytes[index] : 0;",
            "}",
            "",
        ]
        return "\n".join(lines)


def _io_description(graph: Graph, tensors: list[int]) -> list[dict]:
    out = []
    for t in tensors:
        tensor: Tensor = graph.tensors[t]
        out.append(
            {
                "name": tensor.name,
                "shape": list(tensor.shape),
                "dtype": tensor.dtype.lower(),
                "bytes": tensor.nbytes,
            }
        )
    return out


def generate(
    model_bytes: bytes, out_dir: Path, *, variant: str = "optimized", origin: str = "model"
) -> CgenOutput:
    """Generate C for an int8 TFLite model into out_dir (kernels are copied there).

    ``origin`` (the model file) names the model in errors about its contents."""
    if variant not in VARIANTS:
        raise UsageError(f"cgen: unknown variant '{variant}' (choose from {', '.join(VARIANTS)})")
    graph = read_model(model_bytes, origin)
    check_supported(graph)
    _propagate_constants(graph)
    _check_types(graph)
    ctx = LoweringContext(graph, CodeBuilder(), optimized=variant == "optimized")
    for op in graph.operators:
        lower(ctx, op)

    bufs = _merge_buffers(graph)
    lifetimes = bufs.lifetimes()
    requests = [
        BufferRequest(key=root, size=graph.tensors[root].nbytes, start=s, end=e)
        for root, (s, e) in sorted(lifetimes.items())
        if not graph.tensors[root].is_const
    ]
    plan = plan_memory(requests, alignment=ARENA_ALIGNMENT)
    check_plan(requests, plan)

    code = ctx.code
    emitter = _Emitter(graph, bufs, plan.offsets, code)
    source = emitter.model_c(plan.arena_bytes, graph.operators)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    kernel_files = sorted(
        code.kernel_files | {d for k in code.kernel_files for d in _KERNEL_DEPS.get(k, ())}
    )
    for name in ["cgen_kernels.h", *kernel_files]:
        shutil.copyfile(KERNEL_DIR / name, out_dir / name)
    # The struct layouts come from params.py, so the kernels compile against what it emits.
    atomic_write_text(out_dir / HEADER_FILE, params_header())
    atomic_write_text(out_dir / MODEL_FILE, source)
    info = {
        "variant": variant,
        "arena_bytes": plan.arena_bytes,
        "arena_lower_bound": plan.lower_bound,
        "weights_bytes": code.const_bytes,
        "ops": [op.name for op in graph.operators],
        "kernels": kernel_files,
        "inputs": _io_description(graph, graph.inputs),
        "outputs": _io_description(graph, graph.outputs),
        "buffers": [
            {
                "tensor": graph.tensors[r.key].name,
                "offset": plan.offsets[r.key],
                "bytes": r.size,
                "first_op": r.start,
                "last_op": r.end,
            }
            for r in requests
        ],
    }
    atomic_write_text(out_dir / "cgen_model.json", json.dumps(info, indent=1) + "\n")
    return CgenOutput(
        sources=[out_dir / MODEL_FILE, *(out_dir / k for k in kernel_files)],
        include_dirs=[out_dir, MLIF_INCLUDE_DIR],
        arena_bytes=plan.arena_bytes,
        arena_lower_bound=plan.lower_bound,
        ops=[op.name for op in graph.operators],
        weights_bytes=code.const_bytes,
    )
