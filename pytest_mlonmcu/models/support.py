"""What a backend cannot build, found from the model's metadata before any build.

Each backend lists its gaps (``Backend.unsupported``); the run refuses at the build stage
with all of them in one line (UnsupportedModelError), and ``python -m pytest_mlonmcu check
MODEL`` prints them as a table without building anything.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

from .metadata import ModelMetadata


@dataclass(frozen=True)
class Gap:
    """One thing a model uses that a backend does not support, and why."""

    item: str  # "operator GATHER", "custom operator MyOp", "2 subgraphs"
    cause: str
    indices: tuple[int, ...] = ()  # the operators' indices, for operator gaps
    types: str = ""  # the operators' tensor types, "int8 -> int8"

    def __str__(self) -> str:
        where = [self.types] if self.types else []
        if self.indices:
            label = "index" if len(self.indices) == 1 else "indices"
            where.insert(0, f"{label} {_ranges(self.indices)}")
        detail = f" ({', '.join(where)})" if where else ""
        return f"{self.item}{detail}: {self.cause}"


def _ranges(indices: tuple[int, ...]) -> str:
    """0,1,2,3,7 -> "0-3, 7"."""
    parts: list[str] = []
    run: list[int] = []
    for i in sorted(indices):
        if run and i != run[-1] + 1:
            parts.append(f"{run[0]}-{run[-1]}" if len(run) > 2 else ", ".join(map(str, run)))
            run = []
        run.append(i)
    if run:
        parts.append(f"{run[0]}-{run[-1]}" if len(run) > 2 else ", ".join(map(str, run)))
    return ", ".join(parts)


def operator_gap(metadata: ModelMetadata, index: int, cause: str) -> Gap:
    """A gap of operator ``index``: named with its index and tensor types."""
    name = metadata.ops[index]
    types = str(metadata.op_types[index]) if index < len(metadata.op_types) else ""
    if name.startswith("CUSTOM:"):
        return Gap(f"custom operator {name.removeprefix('CUSTOM:')}", cause, (index,), types)
    return Gap(f"operator {name}", cause, (index,), types)


def operator_gaps(
    metadata: ModelMetadata,
    known: Collection[str],
    cause: str,
    custom: Collection[str] = (),
    custom_cause: str = "",
) -> list[Gap]:
    """A gap per operator whose builtin name is not in ``known`` (custom operators: whose
    custom code is not in ``custom``)."""
    gaps = []
    for index, name in enumerate(metadata.ops):
        if name.startswith("CUSTOM:"):
            if name.removeprefix("CUSTOM:") not in custom:
                gaps.append(operator_gap(metadata, index, custom_cause or cause))
        elif name not in known:
            gaps.append(operator_gap(metadata, index, cause))
    return gaps


def type_gaps(
    metadata: ModelMetadata, problem: Callable[[str, tuple[str, ...]], str | None]
) -> list[Gap]:
    """A gap per operator for which ``problem(operator, its tensor types)`` names a cause."""
    gaps = []
    for index, (name, types) in enumerate(zip(metadata.ops, metadata.op_types)):
        cause = problem(name, types.all)
        if cause:
            gaps.append(operator_gap(metadata, index, cause))
    return gaps


def merged(gaps: list[Gap]) -> list[Gap]:
    """The gaps as one line lists them: an operator's causes joined, then operators with
    the same name, types and causes as one gap with all their indices."""
    by_operator: dict[tuple, list[Gap]] = {}
    for gap in gaps:
        by_operator.setdefault((gap.item, gap.types, gap.indices), []).append(gap)
    joined = [
        Gap(item, ", ".join(dict.fromkeys(g.cause for g in group)), indices, types)
        for (item, types, indices), group in by_operator.items()
    ]
    by_kind: dict[tuple, list[Gap]] = {}
    for gap in joined:
        by_kind.setdefault((gap.item, gap.types, gap.cause), []).append(gap)
    return [
        Gap(item, cause, tuple(i for g in group for i in g.indices), types)
        for (item, types, cause), group in by_kind.items()
    ]


# TFLM's message when an operator's kernel fails (MicroInterpreter::Invoke / Prepare).
_TFLM_NODE = re.compile(r"Node (\w+) \(number (\d+)\) failed to (invoke|prepare)")


def tflm_node_note(message: str, metadata: ModelMetadata) -> str | None:
    """For a failure whose text holds TFLM's "Node X (number N) failed to ...": which
    operator that is (name, index, tensor types) and who refused it, in one line."""
    found = _TFLM_NODE.search(message)
    if found is None:
        return None
    name, index, stage = found.group(1), int(found.group(2)), found.group(3)
    if index < len(metadata.ops) and metadata.ops[index].removeprefix("CUSTOM:") == name:
        item = operator_gap(metadata, index, "").item
        types = f", {metadata.op_types[index]}" if index < len(metadata.op_types) else ""
        where = f"{item} (index {index}{types})"
    else:
        where = f"operator {name} (TFLM's node {index})"
    return (
        f"cause: {where} failed in TFLM's {stage}: TFLM's kernel does not accept how the model "
        "uses it (a limit of TFLM or a fault of the model, not of this tool; TFLM's lines above)"
    )


# float32 operators whose TFLM kernels call the C library (expf, tanhf, logf, ...): its last
# bits differ between libraries (glibc on the host, picolibc and newlib on the targets).
LIBM_FLOAT_OPS = frozenset(
    {"SOFTMAX", "LOGISTIC", "TANH", "EXP", "LOG", "LOG_SOFTMAX", "ELU", "GELU", "SIN", "COS"}
)
# Measured worst: 2 places after one LOGISTIC or SOFTMAX, 6 after the 16 recurrent steps of
# zoo:lstm_f32 (its LOGISTIC/TANH gates); 32 leaves room for deeper recurrences.
LIBM_FLOAT_VALIDATION = "ulp=32"


def libm_float_validation(metadata: ModelMetadata) -> str | None:
    """The tolerance of a model that computes a C-library function in float32, or None (the
    float arithmetic alone, + - * / and comparisons, is reproduced exactly)."""
    for name, types in zip(metadata.ops, metadata.op_types):
        if name in LIBM_FLOAT_OPS and "float32" in types.outputs:
            return LIBM_FLOAT_VALIDATION
    return None
