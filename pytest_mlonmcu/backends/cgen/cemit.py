"""C text helpers: constant arrays, parameter struct initializers, tensor pointer placeholders."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from ...core.errors import BuildError
from .params import CStruct, CType

_C_TYPES = {
    np.dtype(np.int8): ("int8_t", 1),
    np.dtype(np.int16): ("int16_t", 2),
    np.dtype(np.int32): ("int32_t", 4),
    np.dtype(np.int64): ("int64_t", 8),
    np.dtype(np.float32): ("float", 4),
}

# Placeholders for tensor pointers inside generated statements; resolved once
# the memory plan is known: @IN:<tensor>@ (const) and @OUT:<tensor>@.
_PLACEHOLDER = re.compile(r"@(IN|OUT):(\d+)@")


def format_values(values: Iterable, per_line: int = 24) -> str:
    items = [str(v) for v in values]
    lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    return ",\n  ".join(lines)


def c_float(value: np.float32) -> str:
    """A float32 literal that parses back to exactly the same value."""
    v = float(np.float32(value))
    if v != v or v in (float("inf"), float("-inf")):
        raise ValueError(f"cannot emit {v} as a C constant")
    return f"{v.hex()}f" if v != 0 else "0.0f"


@dataclass
class CodeBuilder:
    """Collects the pieces of the generated model file."""

    consts: list[str] = field(default_factory=list)
    params: list[str] = field(default_factory=list)
    statements: list[tuple[int, str]] = field(default_factory=list)
    kernel_files: set[str] = field(default_factory=set)
    const_bytes: int = 0
    current_op: int = -1  # operator index of the statements being added
    _names: set[str] = field(default_factory=set)

    def _name(self, prefix: str) -> str:
        """cg_op<index>_<prefix>, unique within the file."""
        base = f"cg_op{self.current_op}_{prefix}" if self.current_op >= 0 else f"cg_{prefix}"
        name, n = base, 1
        while name in self._names:
            n += 1
            name = f"{base}{n}"
        self._names.add(name)
        return name

    def array(self, prefix: str, values: np.ndarray) -> str:
        """Emit a ROM array; returns its name."""
        values = np.ascontiguousarray(values).reshape(-1)
        ctype, itemsize = _C_TYPES[values.dtype]
        name = self._name(prefix)
        body = (
            format_values(c_float(v) for v in values)
            if ctype == "float"
            else (format_values(values.tolist()))
        )
        count = max(values.size, 1)
        if values.size == 0:
            body = "0"
        self.consts.append(f"static const {ctype} {name}[{count}] = {{\n  {body}\n}};")
        self.const_bytes += values.size * itemsize
        return name

    def struct(self, params: CStruct, prefix: str = "params") -> str:
        """Emit a constant parameter struct, every field by name in C order; returns its name."""
        name = self._name(prefix)
        inits = ",\n  ".join(
            f".{f.name} = {_c_value(f.name, f.ctype, getattr(params, f.name))}"
            for f in params.c_fields()
        )
        self.params.append(f"static const {params.c_name} {name} = {{\n  {inits}\n}};")
        return name

    def call(self, kernel_file: str, statement: str) -> None:
        self.kernel_files.add(kernel_file)
        self.statements.append((self.current_op, statement))


def _c_value(name: str, ctype: CType, value: object) -> str:
    """A field's value as C; integers must fit their type (C would truncate them silently)."""
    if ctype.length:
        items = list(value)  # type: ignore[call-overload]
        if len(items) != ctype.length:
            raise ValueError(f"cgen: {name} has {len(items)} items, its C array {ctype.length}")
        return "{" + ", ".join(_c_value(name, ctype.item, v) for v in items) + "}"
    if ctype.bits:
        number = int(value)  # type: ignore[call-overload]
        limit = 1 << (ctype.bits - 1)
        if not -limit <= number < limit:
            raise BuildError(
                f"cgen: {name} = {number} exceeds the kernels' {ctype.bits}-bit parameter range"
            )
        return str(number)
    if ctype.name == "float":
        return c_float(value)  # type: ignore[arg-type]
    return str(value)  # a pointer: an array's name or NULL


def in_ptr(tensor: int) -> str:
    return f"@IN:{tensor}@"


def out_ptr(tensor: int) -> str:
    return f"@OUT:{tensor}@"


def resolve(statement: str, lookup: Callable[[str, int], str]) -> str:
    """Replace tensor placeholders with C pointer expressions."""
    return _PLACEHOLDER.sub(lambda m: lookup(m.group(1), int(m.group(2))), statement)
