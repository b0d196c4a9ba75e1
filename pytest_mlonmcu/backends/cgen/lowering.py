"""Lowering a graph: every operator checked and handed to its registered lowering (ops/)."""

from __future__ import annotations

from ...core.errors import BuildError, UnsupportedOperatorError
from . import ops  # noqa: F401 (importing the families registers their lowerings)
from .model import Graph, Operator
from .ops.context import AT_LEAST_1D, LOWERINGS, LoweringContext

# Operators that only reinterpret the shape: the output aliases the input bytes.
ALIAS_OPS = frozenset(name for name, entry in LOWERINGS.items() if entry.alias)
# Operators whose output element i depends only on input element i (may run in place).
ELEMENTWISE_OPS = frozenset(name for name, entry in LOWERINGS.items() if entry.elementwise)
# Option values that divide or step through a window: they must be positive.
_POSITIVE_OPTIONS = ("stride", "dilation", "filter")


def check_supported(graph: Graph) -> None:
    for op in graph.operators:
        if op.name not in LOWERINGS:
            raise UnsupportedOperatorError(op.name, op.index, "cgen")


def check_operands(ctx: LoweringContext, op: Operator) -> None:
    """What every kernel takes for granted: its operands exist and have elements, the
    ranks it handles, positive strides and windows. A model breaking this is malformed."""
    entry = LOWERINGS[op.name]
    where = f"cgen: {op.name} (operator index {op.index})"
    required = entry.inputs
    if len(op.inputs) < required or any(i < 0 for i in op.inputs[:required]):
        raise BuildError(f"{where} needs {required} input(s), it has {op.inputs}")
    if not op.outputs:
        raise BuildError(f"{where} has no output")
    if entry.every_input and any(i < 0 for i in op.inputs):
        raise BuildError(f"{where}: an input is missing ({op.inputs})")
    rank = entry.rank
    for i in [*op.inputs[:required], op.outputs[0]]:
        tensor = ctx.tensor(i)
        if tensor.is_const:
            continue
        if 0 in tensor.shape:
            raise BuildError(
                f"{where}: tensor '{tensor.name}' has no elements (shape {tensor.shape})"
            )
        if rank is not None and (
            len(tensor.shape) != rank if rank != AT_LEAST_1D else not tensor.shape
        ):
            raise BuildError(
                f"{where}: tensor '{tensor.name}' has rank {len(tensor.shape)} "
                f"(shape {tensor.shape}); the kernel needs {rank or 'at least 1'}"
            )
    for key in _POSITIVE_OPTIONS:
        values = op.options.get(key, ())
        if any(v < 1 for v in values):
            raise BuildError(f"{where}: {key} {tuple(values)} must be positive")


def lower(ctx: LoweringContext, op: Operator) -> None:
    """Check ``op``'s operands, then add its kernel call to ``ctx.code``."""
    ctx.code.current_op = op.index
    check_operands(ctx, op)
    entry = LOWERINGS[op.name]
    if entry.float_lower is not None and ctx.tensor(op.outputs[0]).dtype == "FLOAT32":
        entry.float_lower(ctx, op)
    else:
        entry.lower(ctx, op)
