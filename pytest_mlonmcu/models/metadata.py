"""Model metadata read from the TFLite flatbuffer with the `tflite` package.

``read_metadata`` is also the model's check at load: it reads every table the backends read
(tensors, quantization, operators and their options, buffers, metadata entries), checks
every index against its table and every shape against the limits below, so a corrupt or
absurd model fails at load with a ModelError naming the file, what was read and why, before
any backend or sample generator allocates anything for it.
"""

from __future__ import annotations

import contextlib
import functools
import math
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from ..core.errors import ModelError

_NUMPY_DTYPES = {
    "FLOAT32": "float32",
    "INT32": "int32",
    "UINT8": "uint8",
    "INT64": "int64",
    "INT16": "int16",
    "INT8": "int8",
    "BOOL": "bool",
    "FLOAT64": "float64",
    "FLOAT16": "float16",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
}

# Limits checked at load, before anything is allocated for a model. The element count is
# what TFLM and the generated C compute in 32-bit ints; no microcontroller model comes near
# the byte limits, which keep a corrupt shape from allocating gigabytes of samples or arena.
MAX_TENSOR_ELEMENTS = 2**31 - 1
MAX_TENSOR_BYTES = 2**31 - 1
MAX_INPUT_BYTES = 256 << 20  # all inputs of one sample together
MAX_ACTIVATION_BYTES = 2**31 - 1  # all non-constant tensors together (an arena's upper bound)


def _enum_names(enum_cls) -> dict[int, str]:
    return {v: k for k, v in vars(enum_cls).items() if not k.startswith("_") and isinstance(v, int)}


# tflite (its generated flatbuffers classes) is imported where a model is read: importing it
# costs ~130 ms, which every pytest start would pay otherwise.
@functools.cache
def _enum_tables() -> tuple[dict[int, str], dict[int, str], dict[int, type]]:
    """(operator names, tensor type names, BuiltinOptions classes) by their codes."""
    import tflite

    options = {
        code: getattr(tflite, name)
        for code, name in _enum_names(tflite.BuiltinOptions).items()
        if code and hasattr(tflite, name)
    }
    return _enum_names(tflite.BuiltinOperator), _enum_names(tflite.TensorType), options


def op_name(code: int) -> str:
    return _enum_tables()[0].get(code, f"BUILTIN_{code}")


def type_name(code: int) -> str:
    return _enum_tables()[1].get(code, f"TYPE_{code}")


def _option_class(union_type: int) -> type | None:
    """The generated class of a BuiltinOptions union member (None for NONE or unknown)."""
    return _enum_tables()[2].get(union_type)


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    dtype: str  # numpy dtype name
    scale: float | None = None
    zero_point: int | None = None

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(self.dtype).itemsize


@dataclass(frozen=True)
class OpTypes:
    inputs: tuple[str, ...]  # the non-constant inputs' (activations, not weights)
    outputs: tuple[str, ...]

    @property
    def all(self) -> tuple[str, ...]:
        return self.inputs + self.outputs

    def __str__(self) -> str:
        return f"{','.join(self.inputs) or '-'} -> {','.join(self.outputs) or '-'}"


@dataclass
class ModelMetadata:
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    ops: list[str]  # one entry per operator, in execution order
    param_bytes: int  # constant tensor data (weights, biases)
    macs: int
    custom_ops: list[str] = field(default_factory=list)
    op_macs: list[int] = field(default_factory=list)  # per operator, in execution order
    op_output_shapes: list[list[int]] = field(default_factory=list)  # its first output's
    # Per operator: the types of its non-constant inputs and of its outputs ("int8", ...).
    op_types: list[OpTypes] = field(default_factory=list)
    subgraphs: int = 1

    @property
    def op_set(self) -> list[str]:
        return sorted(set(self.ops))


# -- reading with context -----------------------------------------------------------------
_STRUCT_OFFSET = re.compile(r"at offset (-?\d+) \(actual buffer size is (\d+)\)")
_NEGATIVE_OFFSET = re.compile(r"bad number (-\d+) for type uint32")


def _cause(exc: BaseException) -> str:
    """The reader's exception in words (flatbuffers only says which bytes it missed)."""
    m = _STRUCT_OFFSET.search(str(exc))
    if isinstance(exc, struct.error) and m:
        return f"offset {m.group(1)} lies outside the file ({m.group(2)} bytes)"
    if isinstance(exc, ValueError) and "buffer is smaller than requested size" in str(exc):
        return "a vector runs past the end of the file"
    m = _NEGATIVE_OFFSET.search(str(exc))
    if isinstance(exc, TypeError) and m:  # an offset computed before the start of the file
        return f"offset {m.group(1)} lies before the start of the file"
    return f"{type(exc).__name__}: {exc}"


class ReadContext:
    """Turns every exception of the flatbuffer accessors into a ModelError naming the file,
    what was being read and the cause."""

    def __init__(self, origin: str) -> None:
        self.origin = origin

    def error(self, message: str) -> ModelError:
        return ModelError(f"{self.origin}: {message}")

    def text(self, raw: bytes | None, default: str, what: str) -> str:
        """A flatbuffer string (UTF-8 by the format's rules), ``default`` when absent."""
        if raw is None:
            return default
        try:
            return raw.decode()
        except UnicodeDecodeError:
            raise self.error(f"{what} is not UTF-8 text: {raw[:60]!r}") from None

    @contextlib.contextmanager
    def reading(self, what: str) -> Iterator[None]:
        try:
            yield
        except ModelError:
            raise
        except Exception as exc:  # noqa: BLE001 - flatbuffers raise assorted errors on garbage
            raise self.error(f"cannot read {what}: {_cause(exc)}") from exc


def _read_all_fields(table) -> None:
    """Read every scalar field and every vector of a generated flatbuffer table (options)."""
    for name in dir(type(table)):
        if name.startswith(("_", "Init", "GetRootAs")) or name.endswith("BufferHasIdentifier"):
            continue
        method = getattr(table, name)
        if method.__code__.co_argcount == 1:  # no argument: a scalar, a length or AsNumpy
            method()


def _int_vector(table, name: str) -> list[int]:
    """A vector of ints of a table (``Inputs``, ``Shape``...), empty when absent."""
    if getattr(table, f"{name}Length")() == 0:
        return []
    return [int(v) for v in getattr(table, f"{name}AsNumpy")()]


def _float_vector(table, name: str) -> np.ndarray:
    if getattr(table, f"{name}Length")() == 0:
        return np.zeros(0)
    return getattr(table, f"{name}AsNumpy")()


def _shortened(name: str, limit: int = 80) -> str:
    """A tensor name for a message (converters write names of hundreds of characters)."""
    return name if len(name) <= limit else f"{name[: limit - 3]}..."


@dataclass
class _Quantization:
    scales: np.ndarray
    zero_points: np.ndarray
    dimension: int

    @classmethod
    def read(cls, tensor) -> _Quantization:
        q = tensor.Quantization()
        if q is None:
            return cls(np.zeros(0), np.zeros(0, np.int64), 0)
        _float_vector(q, "Min")
        _float_vector(q, "Max")
        return cls(_float_vector(q, "Scale"), _float_vector(q, "ZeroPoint"), q.QuantizedDimension())

    def problem(self, dtype: str, shape: tuple[int, ...]) -> str | None:
        """Why these parameters cannot belong to a tensor of ``dtype`` and ``shape``."""
        n = len(self.scales)
        if n == 0:
            return None
        bad = np.flatnonzero(~np.isfinite(self.scales) | (self.scales < 0))
        if bad.size:
            k = int(bad[0])
            return f"has quantization scale {self.scales[k]} (channel {k}), not finite and >= 0"
        if n > 1 and (not 0 <= self.dimension < len(shape) or shape[self.dimension] != n):
            return (
                f"has {n} quantization scales for quantized dimension {self.dimension} of "
                f"shape {shape}"
            )
        if len(self.zero_points) not in (0, 1, n):
            return f"has {n} quantization scales but {len(self.zero_points)} zero points"
        if n > 1 and np.any(self.zero_points != 0):
            k = int(np.flatnonzero(self.zero_points)[0])
            return (
                f"has zero point {self.zero_points[k]} (channel {k}); per-channel quantization "
                "needs 0"
            )
        if np.dtype(dtype).kind in "iu" and len(self.zero_points):
            lim = np.iinfo(dtype)
            bad = np.flatnonzero((self.zero_points < lim.min) | (self.zero_points > lim.max))
            if bad.size:
                return (
                    f"has zero point {self.zero_points[bad[0]]} (channel {bad[0]}), outside the "
                    f"range of {dtype} [{lim.min}, {lim.max}]"
                )
        return None


@dataclass
class _Tensor:
    info: TensorInfo
    buffer: int
    variable: bool
    data_bytes: int  # constant data stored for it (0: an activation)


class _ModelReader(ReadContext):
    """One pass over a model: structure, indices and limits."""

    def __init__(self, data: bytes, origin: str) -> None:
        super().__init__(origin)
        import tflite

        self.data = data
        with self.reading("the model's root table"):
            self.model = tflite.Model.GetRootAsModel(data, 0)
            self.n_subgraphs = self.model.SubgraphsLength()
            self.n_buffers = self.model.BuffersLength()
            self.n_codes = self.model.OperatorCodesLength()
        if self.n_subgraphs < 1:
            raise self.error("the model has no subgraph")
        self.buffer_bytes = [self._buffer(b) for b in range(self.n_buffers)]
        self.codes = [self._opcode(k) for k in range(self.n_codes)]
        self._check_metadata_entries()

    def _buffer(self, index: int) -> int:
        """Bytes of constant data of buffer ``index``, checked to lie inside the file."""
        what = f"buffer {index}"
        with self.reading(what):
            buf = self.model.Buffers(index)
            data_len = buf.DataLength() if buf is not None else 0
            if data_len:
                buf.DataAsNumpy()  # bounds-checked view of the bytes
                return data_len
            offset, size = (buf.Offset(), buf.Size()) if buf is not None else (0, 0)
        if offset > 1:  # data stored after the flatbuffer (models over 2 GB)
            if offset + size > len(self.data):
                raise self.error(
                    f"{what}: its data ({size} bytes at offset {offset}) lies outside the file "
                    f"({len(self.data)} bytes)"
                )
            return size
        return 0

    def _opcode(self, index: int) -> str:
        with self.reading(f"operator code {index}"):
            code = self.model.OperatorCodes(index)
            name = op_name(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()))
            if name == "CUSTOM":
                name = f"CUSTOM:{self.text(code.CustomCode(), '?', f'operator code {index}')}"
            code.Version()
        return name

    def _check_metadata_entries(self) -> None:
        with self.reading("the model's metadata entries"):
            for k in range(self.model.MetadataLength()):
                entry = self.model.Metadata(k)
                self.text(entry.Name(), "", f"metadata entry {k}'s name")
                if not 0 <= entry.Buffer() < max(self.n_buffers, 1):
                    raise self.error(
                        f"metadata entry {k} names buffer {entry.Buffer()} of {self.n_buffers}"
                    )

    # -- subgraphs ------------------------------------------------------------------------
    def subgraph(self, index: int) -> tuple[list[_Tensor], list, list[int], list[int]]:
        where = f"subgraph {index}"
        with self.reading(where):
            sg = self.model.Subgraphs(index)
            n_tensors = sg.TensorsLength()
            n_ops = sg.OperatorsLength()
            inputs = _int_vector(sg, "Inputs")
            outputs = _int_vector(sg, "Outputs")
        tensors = [self._tensor(sg, where, k) for k in range(n_tensors)]
        for role, indices in (("input", inputs), ("output", outputs)):
            for k in indices:
                if not 0 <= k < n_tensors:
                    raise self.error(
                        f"{where}: {role} tensor {k} does not exist ({n_tensors} tensors)"
                    )
        ops = [self._operator(sg, where, k, n_tensors) for k in range(n_ops)]
        self._check_dataflow(where, tensors, ops, inputs, outputs)
        return tensors, ops, inputs, outputs

    def _check_dataflow(
        self, where: str, tensors: list[_Tensor], ops: list, inputs: list[int], outputs: list[int]
    ) -> None:
        """Every tensor an operator reads, and every output, is an input, a constant, a
        variable or written by an earlier operator (TFLM reads garbage or crashes if not)."""
        ready = set(inputs)
        ready.update(k for k, t in enumerate(tensors) if t.data_bytes or t.variable)
        ready.update(k for k, t in enumerate(tensors) if 0 in t.info.shape)  # nothing to read
        for index, (name, op_inputs, op_outputs) in enumerate(ops):
            for k in op_inputs:
                if k >= 0 and k not in ready:
                    raise self.error(
                        f"{where}, operator {index} ({name}) reads tensor {k} "
                        f"('{_shortened(tensors[k].info.name)}'), which is no input, constant "
                        "or output of an earlier operator"
                    )
            ready.update(op_outputs)
        for k in outputs:
            if k not in ready:
                raise self.error(
                    f"{where}: output tensor {k} ('{_shortened(tensors[k].info.name)}') is "
                    "written by no operator"
                )

    def _tensor(self, sg, where: str, index: int) -> _Tensor:
        what = f"{where}, tensor {index}"
        with self.reading(what):
            t = sg.Tensors(index)
            name = self.text(t.Name(), f"tensor{index}", f"{what}'s name")
            ttype = type_name(t.Type())
            shape = tuple(_int_vector(t, "Shape"))
            _int_vector(t, "ShapeSignature")
            buffer, variable = t.Buffer(), bool(t.IsVariable())
            quant = _Quantization.read(t)
        what = f"{what} ('{_shortened(name)}')"
        dtype = _NUMPY_DTYPES.get(ttype, ttype.lower())
        scale = zero_point = None
        if len(quant.scales):
            scale = float(quant.scales[0])
            zero_point = int(quant.zero_points[0]) if len(quant.zero_points) else 0
        info = TensorInfo(name, shape, dtype, scale, zero_point)
        if any(d < 0 for d in shape):
            raise self.error(f"{what} has a negative dimension: shape {shape}")
        if info.size > MAX_TENSOR_ELEMENTS:
            raise self.error(
                f"{what} of shape {shape} has {info.size} elements, more than the limit "
                f"{MAX_TENSOR_ELEMENTS}"
            )
        itemsize = np.dtype(dtype).itemsize if ttype in _NUMPY_DTYPES else None
        if itemsize is not None and info.nbytes > MAX_TENSOR_BYTES:
            raise self.error(
                f"{what} of shape {shape} ({dtype}) has {info.nbytes} bytes, more than the "
                f"limit {MAX_TENSOR_BYTES}"
            )
        problem = quant.problem(dtype, shape) if itemsize is not None else None
        if problem:
            raise self.error(f"{what} {problem}")
        if not 0 <= buffer < max(self.n_buffers, 1):
            raise self.error(f"{what} names buffer {buffer}, the model has {self.n_buffers}")
        data_bytes = self.buffer_bytes[buffer] if buffer < self.n_buffers else 0
        if data_bytes and itemsize is not None and not variable and data_bytes != info.nbytes:
            with self.reading(f"{what}'s sparsity"):
                sparse = t.Sparsity() is not None
            if not sparse:
                raise self.error(
                    f"{what} of shape {shape} ({dtype}) needs {info.nbytes} bytes, its buffer "
                    f"{buffer} holds {data_bytes}"
                )
        return _Tensor(info, buffer, variable, data_bytes)

    def _operator(self, sg, where: str, index: int, n_tensors: int) -> tuple[str, list, list]:
        what = f"{where}, operator {index}"
        with self.reading(what):
            op = sg.Operators(index)
            code = op.OpcodeIndex()
            inputs = _int_vector(op, "Inputs")
            outputs = _int_vector(op, "Outputs")
            _int_vector(op, "Intermediates")
            op.CustomOptionsLength() and op.CustomOptionsAsNumpy()
            union_type = op.BuiltinOptionsType()
            table = op.BuiltinOptions()
        if not 0 <= code < self.n_codes:
            raise self.error(f"{what} uses operator code {code}, the model has {self.n_codes}")
        name = self.codes[code]
        what = f"{what} ({name})"
        options = _option_class(union_type)
        if table is not None and options is not None:
            with self.reading(f"{what}'s options"):
                obj = options()
                obj.Init(table.Bytes, table.Pos)
                _read_all_fields(obj)
        for role, indices, lowest in (("input", inputs, -1), ("output", outputs, 0)):
            for k in indices:
                if not lowest <= k < n_tensors:
                    raise self.error(
                        f"{what}: {role} tensor {k} does not exist ({n_tensors} tensors)"
                    )
        return name, inputs, outputs


def _op_macs(
    name: str, shapes: list[tuple[int, ...]], inputs: list[int], outputs: list[int]
) -> int:
    """Multiply-accumulates of one operator (conv-like ops only), as MLonMCU counts them."""
    if len(inputs) < 2 or not outputs or min(inputs[:2]) < 0:
        return 0
    out = shapes[outputs[0]]
    weights = shapes[inputs[1]]
    if not out or not weights:
        return 0
    if name == "CONV_2D" and len(weights) == 4:  # W: [O, KH, KW, I]
        return math.prod(out) * weights[1] * weights[2] * weights[3]
    if name == "DEPTHWISE_CONV_2D" and len(weights) == 4:  # W: [1, KH, KW, O]
        return math.prod(out) * weights[1] * weights[2]
    if name == "FULLY_CONNECTED":  # W: [O, I]
        return math.prod(out) * weights[-1]
    if name == "TRANSPOSE_CONV" and len(inputs) > 2 and inputs[2] >= 0 and len(weights) == 4:
        return math.prod(shapes[inputs[2]]) * weights[0] * weights[1] * weights[2]
    return 0


def _check_sizes(
    reader: ReadContext, tensors: list[_Tensor], inputs: list[int], outputs: list[int]
) -> None:
    for role, indices in (("input", inputs), ("output", outputs)):
        for k in indices:
            info = tensors[k].info
            if 0 in info.shape:
                raise reader.error(
                    f"{role} tensor {k} ('{info.name}') has a zero dimension: shape {info.shape}"
                )
            if info.dtype not in _NUMPY_DTYPES.values():
                raise reader.error(
                    f"{role} tensor {k} ('{info.name}') is of type {info.dtype.upper()}, which "
                    "has no fixed element size"
                )
    input_bytes = sum(tensors[k].info.nbytes for k in inputs)
    if input_bytes > MAX_INPUT_BYTES:
        shapes = ", ".join(f"'{tensors[k].info.name}' {tensors[k].info.shape}" for k in inputs)
        raise reader.error(
            f"the inputs ({shapes}) take {input_bytes} bytes per sample, more than the limit "
            f"{MAX_INPUT_BYTES}"
        )
    activations = sum(
        t.info.nbytes
        for t in tensors
        if not t.data_bytes and t.info.dtype in _NUMPY_DTYPES.values()
    )
    if activations > MAX_ACTIVATION_BYTES:
        raise reader.error(
            f"the non-constant tensors take {activations} bytes together, more than the limit "
            f"{MAX_ACTIVATION_BYTES}"
        )


def read_metadata(data: bytes, origin: str = "model") -> ModelMetadata:
    """Parse and check a .tflite flatbuffer; raises ModelError naming ``origin`` and the cause."""
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelError(
            f"{origin}: not a TFLite flatbuffer (file identifier {data[4:8]!r}, expected b'TFL3'; "
            f"{len(data)} bytes)"
        )
    reader = _ModelReader(bytes(data), origin)
    tensors, ops, inputs, outputs = reader.subgraph(0)
    for k in range(1, reader.n_subgraphs):
        reader.subgraph(k)  # checked: TFLM prepares every subgraph
    if not inputs or not outputs:
        raise ModelError(f"{origin}: the model has no inputs or no outputs")
    _check_sizes(reader, tensors, inputs, outputs)
    shapes = [t.info.shape for t in tensors]
    names = [name for name, _, _ in ops]
    op_macs = [_op_macs(name, shapes, i, o) for name, i, o in ops]
    macs = sum(op_macs)
    variable = {t.buffer for t in tensors if t.variable}
    counted: set[int] = set()
    param_bytes = 0
    for t in tensors:
        if t.buffer in counted or t.buffer in variable or t.buffer == 0 or not t.data_bytes:
            continue
        param_bytes += t.data_bytes
        counted.add(t.buffer)
    custom = [n for n in names if n.startswith("CUSTOM:")]

    def types(indices: list[int], activations_only: bool) -> tuple[str, ...]:
        used = [tensors[k] for k in indices if k >= 0]
        return tuple(t.info.dtype for t in used if not (activations_only and t.data_bytes))

    op_types = [OpTypes(types(i, True), types(o, False)) for _, i, o in ops]
    return ModelMetadata(
        [tensors[k].info for k in inputs],
        [tensors[k].info for k in outputs],
        names,
        param_bytes,
        macs,
        custom,
        op_macs,
        [list(shapes[o[0]]) if o and o[0] >= 0 else [] for _, _, o in ops],
        op_types,
        reader.n_subgraphs,
    )
