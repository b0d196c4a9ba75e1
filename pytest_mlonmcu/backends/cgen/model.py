"""Read a .tflite flatbuffer into a small graph description for the generator."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...core.errors import BuildError
from ...models.metadata import ReadContext, read_metadata


# The tflite package imports its ~200 schema modules (~130 ms): read only when a model is.
@functools.cache
def _enum_names() -> tuple[dict[int, str], dict[int, str]]:
    from tflite.BuiltinOperator import BuiltinOperator
    from tflite.TensorType import TensorType

    def names(enum: type) -> dict[int, str]:
        return {v: k for k, v in vars(enum).items() if not k.startswith("_")}

    return names(BuiltinOperator), names(TensorType)


_NUMPY_TYPES = {
    "FLOAT32": np.float32,
    "INT32": np.int32,
    "INT8": np.int8,
    "UINT8": np.uint8,
    "INT16": np.int16,
    "INT64": np.int64,
    "BOOL": np.bool_,
}


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str  # TFLite type name: "INT8", "INT32", "FLOAT32", ...
    scales: np.ndarray  # float32, empty when not quantized
    zero_points: np.ndarray  # int64
    quantized_dimension: int
    data: np.ndarray | None  # constant contents (C order), None for activations

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(_NUMPY_TYPES.get(self.dtype, np.int8)).itemsize

    @property
    def scale(self) -> np.float32:
        if self.scales.size == 0:
            raise BuildError(f"cgen: tensor '{self.name}' has no quantization parameters")
        return np.float32(self.scales[0])

    @property
    def zero_point(self) -> int:
        return int(self.zero_points[0]) if self.zero_points.size else 0


@dataclass
class Operator:
    index: int
    name: str  # builtin name, e.g. "CONV_2D"
    inputs: list[int]  # -1 marks an omitted optional input
    outputs: list[int]
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Graph:
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]


# The options table each operator reads; another union member counts as absent (as in TFLM).
_OPTIONS = {
    "CONV_2D": "Conv2DOptions",
    "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions",
    "FULLY_CONNECTED": "FullyConnectedOptions",
    "AVERAGE_POOL_2D": "Pool2DOptions",
    "MAX_POOL_2D": "Pool2DOptions",
    "SOFTMAX": "SoftmaxOptions",
    "ADD": "AddOptions",
    "MUL": "MulOptions",
    "CONCATENATION": "ConcatenationOptions",
    "MEAN": "ReducerOptions",
    "SUM": "ReducerOptions",
    "REDUCE_MAX": "ReducerOptions",
    "REDUCE_MIN": "ReducerOptions",
    "SUB": "SubOptions",
    "STRIDED_SLICE": "StridedSliceOptions",
    "SPLIT": "SplitOptions",
    "SPLIT_V": "SplitVOptions",
    "RESIZE_NEAREST_NEIGHBOR": "ResizeNearestNeighborOptions",
    "LEAKY_RELU": "LeakyReluOptions",
    "UNPACK": "UnpackOptions",
    "GATHER": "GatherOptions",
}


def _empty_table() -> tuple[bytes, int]:
    """A table without fields: every accessor returns the schema's default."""
    import flatbuffers

    builder = flatbuffers.Builder(16)
    builder.StartObject(0)
    builder.Finish(builder.EndObject())
    data = bytes(builder.Output())
    return data, int.from_bytes(data[:4], "little")


def _read_options(op_name: str, op: Any) -> dict[str, Any]:
    import tflite

    """The builtin options the generator needs, as plain values (defaults when absent)."""
    class_name = _OPTIONS.get(op_name)
    if class_name is None:
        return {}
    table = op.BuiltinOptions()
    if table is not None and op.BuiltinOptionsType() == getattr(tflite.BuiltinOptions, class_name):
        data, pos = table.Bytes, table.Pos
    else:
        data, pos = _empty_table()

    def init(cls: type) -> Any:
        obj = cls()
        obj.Init(data, pos)
        return obj

    if op_name == "CONV_2D":
        o = init(tflite.Conv2DOptions)
        return {
            "padding": o.Padding(),
            "stride": (o.StrideH(), o.StrideW()),
            "dilation": (o.DilationHFactor(), o.DilationWFactor()),
            "activation": o.FusedActivationFunction(),
        }
    if op_name == "DEPTHWISE_CONV_2D":
        o = init(tflite.DepthwiseConv2DOptions)
        return {
            "padding": o.Padding(),
            "stride": (o.StrideH(), o.StrideW()),
            "dilation": (o.DilationHFactor(), o.DilationWFactor()),
            "activation": o.FusedActivationFunction(),
            "depth_multiplier": o.DepthMultiplier(),
        }
    if op_name == "FULLY_CONNECTED":
        o = init(tflite.FullyConnectedOptions)
        return {
            "activation": o.FusedActivationFunction(),
            "weights_format": o.WeightsFormat(),
            "quantized_bias_type": o.QuantizedBiasType(),  # schema TensorType; 0: not set
        }
    if op_name in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        o = init(tflite.Pool2DOptions)
        return {
            "padding": o.Padding(),
            "stride": (o.StrideH(), o.StrideW()),
            "filter": (o.FilterHeight(), o.FilterWidth()),
            "activation": o.FusedActivationFunction(),
        }
    if op_name == "SOFTMAX":
        return {"beta": np.float32(init(tflite.SoftmaxOptions).Beta())}
    if op_name in ("ADD", "MUL"):
        cls = tflite.AddOptions if op_name == "ADD" else tflite.MulOptions
        return {"activation": init(cls).FusedActivationFunction()}
    if op_name == "CONCATENATION":
        o = init(tflite.ConcatenationOptions)
        return {"axis": o.Axis(), "activation": o.FusedActivationFunction()}
    if op_name in ("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN"):
        return {"keep_dims": bool(init(tflite.ReducerOptions).KeepDims())}
    if op_name == "SUB":
        return {"activation": init(tflite.SubOptions).FusedActivationFunction()}
    if op_name == "STRIDED_SLICE":
        o = init(tflite.StridedSliceOptions)
        return {
            "begin_mask": o.BeginMask(),
            "end_mask": o.EndMask(),
            "ellipsis_mask": o.EllipsisMask(),
            "new_axis_mask": o.NewAxisMask(),
            "shrink_axis_mask": o.ShrinkAxisMask(),
            "offset": bool(o.Offset()),
        }
    if op_name in ("SPLIT", "SPLIT_V"):
        cls = tflite.SplitOptions if op_name == "SPLIT" else tflite.SplitVOptions
        return {"num_splits": init(cls).NumSplits()}
    if op_name == "RESIZE_NEAREST_NEIGHBOR":
        o = init(tflite.ResizeNearestNeighborOptions)
        return {
            "align_corners": bool(o.AlignCorners()),
            "half_pixel_centers": bool(o.HalfPixelCenters()),
        }
    if op_name == "UNPACK":
        o = init(tflite.UnpackOptions)
        return {"num": o.Num(), "axis": o.Axis()}
    if op_name == "GATHER":
        o = init(tflite.GatherOptions)
        return {"axis": o.Axis(), "batch_dims": o.BatchDims()}
    if op_name == "LEAKY_RELU":
        return {"alpha": np.float32(init(tflite.LeakyReluOptions).Alpha())}
    return {}


def _read_quantization(t: Any) -> tuple[np.ndarray, np.ndarray, int]:
    q = t.Quantization()
    if q is None or q.ScaleLength() == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.int64), 0
    scales = np.asarray(q.ScaleAsNumpy(), dtype=np.float32)
    zps = (
        np.asarray(q.ZeroPointAsNumpy(), dtype=np.int64)
        if q.ZeroPointLength()
        else np.zeros(scales.size, np.int64)
    )
    return scales, zps, q.QuantizedDimension()


def _read_data(model: Any, buf: bytes, t: Any, dtype: str, shape: tuple[int, ...]) -> Any:
    b = model.Buffers(t.Buffer())
    if b is None:
        return None
    if b.Offset() > 1:  # large models keep tensor data after the flatbuffer
        raw = buf[b.Offset() : b.Offset() + b.Size()]
    elif b.DataLength() > 0:
        raw = b.DataAsNumpy().tobytes()
    else:
        return None
    np_type = _NUMPY_TYPES.get(dtype)
    if np_type is None:
        raise BuildError(f"cgen: constant tensor of type {dtype} is not supported")
    arr = np.frombuffer(raw, dtype=np.dtype(np_type).newbyteorder("<"))
    return arr.astype(np_type).reshape(shape)


def read_model(model_bytes: bytes, origin: str = "model") -> Graph:
    """Parse the first (and only supported) subgraph of a TFLite model.

    The model is checked first (models/metadata.py: structure, indices, sizes), so a
    corrupt file is a ModelError naming ``origin``; any reader error left is one too.
    """
    import tflite

    op_names, type_names = _enum_names()
    read_metadata(model_bytes, origin)
    reader = ReadContext(origin)
    with reader.reading("the model's root table"):
        model = tflite.Model.GetRootAsModel(model_bytes, 0)
        num_subgraphs = model.SubgraphsLength()
    if num_subgraphs != 1:
        raise BuildError(f"cgen: models with {num_subgraphs} subgraphs are not supported")
    with reader.reading("subgraph 0"):
        g = model.Subgraphs(0)
        graph_inputs = [int(x) for x in g.InputsAsNumpy()]
        graph_outputs = [int(x) for x in g.OutputsAsNumpy()]

    tensors = []
    for i in range(g.TensorsLength()):
        with reader.reading(f"tensor {i}"):
            t = g.Tensors(i)
            dtype = type_names.get(t.Type(), f"TYPE{t.Type()}")
            shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
            scales, zps, qdim = _read_quantization(t)
            name = t.Name().decode(errors="replace") if t.Name() else f"t{i}"
            data = _read_data(model, model_bytes, t, dtype, shape)
        tensors.append(
            Tensor(
                index=i,
                name=name,
                shape=shape,
                dtype=dtype,
                scales=scales,
                zero_points=zps,
                quantized_dimension=qdim,
                data=data,
            )
        )

    operators = []
    for i in range(g.OperatorsLength()):
        with reader.reading(f"operator {i}"):
            op = g.Operators(i)
            code = model.OperatorCodes(op.OpcodeIndex())
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            name = op_names.get(builtin, f"BUILTIN_{builtin}")
            if name == "CUSTOM":
                custom = code.CustomCode()
                name = f"CUSTOM({custom.decode(errors='replace') if custom else '?'})"
            operators.append(
                Operator(
                    index=i,
                    name=name,
                    inputs=[int(x) for x in op.InputsAsNumpy()] if op.InputsLength() else [],
                    outputs=[int(x) for x in op.OutputsAsNumpy()] if op.OutputsLength() else [],
                    options=_read_options(name, op),
                )
            )

    return Graph(tensors=tensors, operators=operators, inputs=graph_inputs, outputs=graph_outputs)
