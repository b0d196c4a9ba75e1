"""Model metadata read from the TFLite flatbuffer with the `tflite` package."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ModelError

_OP_NAMES: dict[int, str] | None = None
_TYPE_NAMES: dict[int, str] | None = None

_NUMPY_DTYPES = {
    "FLOAT32": "float32",
    "INT32": "int32",
    "UINT8": "uint8",
    "INT64": "int64",
    "INT16": "int16",
    "INT8": "int8",
    "BOOL": "bool",
    "FLOAT64": "float64",
}


def _enum_names(enum_cls) -> dict[int, str]:
    return {v: k for k, v in vars(enum_cls).items() if not k.startswith("_") and isinstance(v, int)}


def op_name(code: int) -> str:
    global _OP_NAMES
    if _OP_NAMES is None:
        import tflite

        _OP_NAMES = _enum_names(tflite.BuiltinOperator)
    return _OP_NAMES.get(code, f"BUILTIN_{code}")


def type_name(code: int) -> str:
    global _TYPE_NAMES
    if _TYPE_NAMES is None:
        import tflite

        _TYPE_NAMES = _enum_names(tflite.TensorType)
    return _TYPE_NAMES.get(code, f"TYPE_{code}")


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    dtype: str  # numpy dtype name
    scale: float | None = None
    zero_point: int | None = None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(self.dtype).itemsize


@dataclass
class ModelMetadata:
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    ops: list[str]  # one entry per operator, in execution order
    param_bytes: int  # constant tensor data (weights, biases)
    macs: int
    custom_ops: list[str] = field(default_factory=list)

    @property
    def op_set(self) -> list[str]:
        return sorted(set(self.ops))


def _tensor_info(tensor) -> TensorInfo:
    ttype = type_name(tensor.Type())
    dtype = _NUMPY_DTYPES.get(ttype, ttype.lower())
    shape = tuple(int(d) for d in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
    scale = zero_point = None
    q = tensor.Quantization()
    if q is not None and q.ScaleLength() > 0:
        scale = float(q.ScaleAsNumpy()[0])
        zero_point = int(q.ZeroPointAsNumpy()[0]) if q.ZeroPointLength() else 0
    return TensorInfo(tensor.Name().decode(), shape, dtype, scale, zero_point)


def _shape(sg, index: int) -> tuple[int, ...]:
    t = sg.Tensors(index)
    return tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()


def _op_macs(name: str, sg, op) -> int:
    """Multiply-accumulates of one operator (conv-like ops only), as MLonMCU counts them."""
    if op.InputsLength() < 2 or op.OutputsLength() < 1:
        return 0
    out = _shape(sg, op.Outputs(0))
    weights = _shape(sg, op.Inputs(1))
    if not out or not weights:
        return 0
    if name == "CONV_2D":  # W: [O, KH, KW, I]
        return int(np.prod(out)) * weights[1] * weights[2] * weights[3]
    if name == "DEPTHWISE_CONV_2D":  # W: [1, KH, KW, O]
        return int(np.prod(out)) * weights[1] * weights[2]
    if name == "FULLY_CONNECTED":  # W: [O, I]
        return int(np.prod(out)) * weights[-1]
    if name == "TRANSPOSE_CONV":
        inp = _shape(sg, op.Inputs(2))
        return int(np.prod(inp)) * weights[0] * weights[1] * weights[2]
    return 0


def read_metadata(data: bytes, origin: str = "model") -> ModelMetadata:
    """Parse a .tflite flatbuffer; raises ModelError naming ``origin`` and the cause."""
    import tflite

    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelError(
            f"{origin}: not a TFLite flatbuffer (file identifier {data[4:8]!r}, expected b'TFL3'; "
            f"{len(data)} bytes)"
        )
    try:
        model = tflite.Model.GetRootAsModel(data, 0)
        if model.SubgraphsLength() < 1:
            raise ModelError(f"{origin}: the model has no subgraph")
        sg = model.Subgraphs(0)
        inputs = [_tensor_info(sg.Tensors(i)) for i in sg.InputsAsNumpy()]
        outputs = [_tensor_info(sg.Tensors(i)) for i in sg.OutputsAsNumpy()]
        ops, custom, macs = [], [], 0
        for k in range(sg.OperatorsLength()):
            op = sg.Operators(k)
            code = model.OperatorCodes(op.OpcodeIndex())
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            name = op_name(builtin)
            if name == "CUSTOM":
                custom_code = code.CustomCode()
                name = f"CUSTOM:{custom_code.decode() if custom_code else '?'}"
                custom.append(name)
            ops.append(name)
            macs += _op_macs(name, sg, op)
        param_bytes = 0
        variable = set()
        for k in range(sg.TensorsLength()):
            t = sg.Tensors(k)
            if t.IsVariable():
                variable.add(t.Buffer())
        counted = set()
        for k in range(sg.TensorsLength()):
            t = sg.Tensors(k)
            b = t.Buffer()
            if b in counted or b in variable or b == 0:
                continue
            buf = model.Buffers(b)
            if buf is not None and buf.DataLength() > 0:
                param_bytes += buf.DataLength()
                counted.add(b)
            elif (
                buf is not None and buf.Size() > 0
            ):  # data stored after the flatbuffer (>2 GB models)
                param_bytes += buf.Size()
                counted.add(b)
    except ModelError:
        raise
    except Exception as exc:  # flatbuffers raise assorted errors on garbage
        raise ModelError(f"{origin}: cannot parse the TFLite flatbuffer ({exc!r})") from exc
    if not inputs or not outputs:
        raise ModelError(f"{origin}: the model has no inputs or no outputs")
    return ModelMetadata(inputs, outputs, ops, param_bytes, macs, custom)
