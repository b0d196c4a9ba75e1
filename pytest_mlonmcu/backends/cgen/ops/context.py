"""What every operator lowering works with, and the table the lowerings register in.

A lowering is a function ``(LoweringContext, Operator) -> None`` that checks its operator,
computes every constant the kernel needs and adds the kernel call to the code being built;
``@lowers("CONV_2D", inputs=2, rank=4)`` registers it with what its operands must satisfy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from ....core.errors import BuildError
from ..cemit import CodeBuilder, in_ptr, out_ptr
from ..model import Graph, Operator, Tensor
from ..params import CStruct

AT_LEAST_1D = 0  # rank of a kernel that needs an axis or a last dimension, any rank above


@dataclass
class LoweringContext:
    """The graph being lowered, the C code collecting the calls, and the variant."""

    graph: Graph
    code: CodeBuilder
    optimized: bool  # False: the reference variant (plain kernels on TFLite's layouts)

    def tensor(self, index: int) -> Tensor:
        return self.graph.tensors[index]

    def int8_tensor(self, op: Operator, index: int, role: str, dtype: str = "INT8") -> Tensor:
        """A quantized activation tensor of ``dtype`` (INT8; INT16 where a kernel takes it)."""
        tensor = self.tensor(index)
        if tensor.dtype != dtype:
            raise BuildError(
                f"cgen: {op.name} (operator index {op.index}): {role} tensor '{tensor.name}' is "
                f"{tensor.dtype}; only {dtype.lower()} is supported here"
            )
        if tensor.scales.size == 0:
            raise BuildError(f"cgen: tensor '{tensor.name}' has no quantization parameters")
        return tensor

    def float_tensor(self, op: Operator, index: int, role: str) -> Tensor:
        tensor = self.tensor(index)
        if tensor.dtype != "FLOAT32":
            raise BuildError(
                f"cgen: {op.name} (operator index {op.index}): {role} tensor '{tensor.name}' is "
                f"{tensor.dtype}, the output float32 (mixed types are not supported)"
            )
        return tensor

    def const_tensor(self, op: Operator, index: int, role: str, dtypes: tuple[str, ...]) -> Tensor:
        tensor = self.tensor(index)
        if not tensor.is_const:
            raise BuildError(
                f"cgen: {op.name} (operator index {op.index}): {role} '{tensor.name}' must be "
                "constant"
            )
        if tensor.dtype not in dtypes:
            raise BuildError(
                f"cgen: {op.name} (operator index {op.index}): {role} '{tensor.name}' is "
                f"{tensor.dtype}"
            )
        return tensor

    def require_same_quantization(self, op: Operator, a: Tensor, b: Tensor) -> None:
        if abs(float(a.scale) - float(b.scale)) > 1e-6 or a.zero_point != b.zero_point:
            raise BuildError(
                f"cgen: {op.name} (operator index {op.index}) needs equal input and output "
                "quantization"
            )

    def call_unary(self, op: Operator, kernel_file: str, kernel: str, params: CStruct) -> None:
        """Emit ``params`` and ``kernel(&params, input 0, output 0);``."""
        name = self.code.struct(params)
        self.code.call(
            kernel_file, f"{kernel}(&{name}, {in_ptr(op.inputs[0])}, {out_ptr(op.outputs[0])});"
        )


Lower = Callable[[LoweringContext, Operator], None]


@dataclass(frozen=True)
class OpLowering:
    """One operator's lowering and what its operands must satisfy before it runs."""

    lower: Lower
    inputs: int = 1  # inputs that must be present (optional ones, such as a bias, follow)
    rank: int | None = None  # rank the kernel needs (AT_LEAST_1D; None: any)
    every_input: bool = False  # all inputs must be present (CONCATENATION)
    alias: bool = False  # the output aliases the input's bytes: no code (RESHAPE)
    elementwise: bool = False  # output element i depends on input element i: may run in place
    # Tensor types its kernels take (numpy names); None: any (a RESHAPE moves no data).
    types: frozenset[str] | None = frozenset({"int8"})
    # The lowering of its float32 form (output float32), when it has one (ops/float32.py).
    float_lower: Lower | None = None


def types_text(types: frozenset[str]) -> str:
    """``float32, int16 and int8``: a lowering's tensor types for messages."""
    *others, last = sorted(types)
    return f"{', '.join(others)} and {last}" if others else last


# Filled once, by the @lowers decorators of the modules in ops/ as they are imported.
LOWERINGS: dict[str, OpLowering] = {}


def lowers(
    *names: str,
    inputs: int = 1,
    rank: int | None = None,
    every_input: bool = False,
    alias: bool = False,
    elementwise: bool = False,
    types: frozenset[str] | None = frozenset({"int8"}),
) -> Callable[[Lower], Lower]:
    """Register the decorated function as the lowering of the TFLite operators ``names``."""
    if alias:
        types = None  # the output is the input's bytes

    def register(lower: Lower) -> Lower:
        for name in names:
            if name in LOWERINGS:
                raise ValueError(f"cgen: {name} has two lowerings")
            LOWERINGS[name] = OpLowering(
                lower, inputs, rank, every_input, alias, elementwise, types
            )
        return lower

    return register


def lowers_float(*names: str) -> Callable[[Lower], Lower]:
    """Register the decorated function as the float32 lowering of operators ``names``, which
    already have their int8 lowering; their types gain float32."""

    def register(lower: Lower) -> Lower:
        for name in names:
            entry = LOWERINGS[name]
            if entry.float_lower is not None:
                raise ValueError(f"cgen: {name} has two float lowerings")
            types = (entry.types or frozenset()) | {"float32"}
            LOWERINGS[name] = dataclasses.replace(entry, float_lower=lower, types=types)
        return lower

    return register
