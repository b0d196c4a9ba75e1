"""The kernels' parameter structs, declared once: C header and initializers are emitted from them.

Each dataclass is one struct of ``cgen_params.h`` (like TFLite Micro's ``OpDataConv`` beside
``conv.cc``): its fields in the C order, each annotated with its C type. generate() writes the
header from these classes into every build, so the kernels compile against exactly what the
lowering fills in. The classes have slots and keyword-only fields: a misspelt field name is an
AttributeError or TypeError when the model is built, never a C compile error.
"""

from __future__ import annotations

import dataclasses
import functools
import textwrap
from dataclasses import dataclass
from typing import Annotated, ClassVar, get_args, get_origin, get_type_hints

import numpy as np

HEADER_FILE = "cgen_params.h"
MAX_DIMS = 6  # CGEN_MAX_DIMS: dimensions of a broadcasting binary operator
NULL = "NULL"  # a pointer field without an array (e.g. a convolution without bias)


@dataclass(frozen=True)
class CType:
    """A field's C type: ``int8_t``, ``const int32_t *``, or an array of ``length`` items."""

    name: str
    bits: int = 0  # width of a range-checked integer; 0: not an integer
    length: int = 0  # items of an array; 0: a scalar
    length_macro: str = ""  # the array length's name in C, if it has one

    @property
    def item(self) -> CType:
        return dataclasses.replace(self, length=0, length_macro="")


INT8 = CType("int8_t", 8)
INT16 = CType("int16_t", 16)
INT32 = CType("int32_t", 32)

Int8 = Annotated[int, INT8]
Int16 = Annotated[int, INT16]
Int32 = Annotated[int, INT32]
Float = Annotated[np.float32, CType("float")]
Int32Dims = Annotated[list[int], CType("int32_t", 32, MAX_DIMS, "CGEN_MAX_DIMS")]
Int32x4 = Annotated[list[int], CType("int32_t", 32, 4)]
# Pointers hold the name of a ROM array the CodeBuilder emitted (or NULL).
Int8Array = Annotated[str, CType("const int8_t *")]
Int32Array = Annotated[str, CType("const int32_t *")]
Int16Array = Annotated[str, CType("const int16_t *")]
Int64Array = Annotated[str, CType("const int64_t *")]
FloatArray = Annotated[str, CType("const float *")]


def note(comment: str, **kwargs: object) -> dataclasses.Field:
    """A field with a comment for the generated header."""
    return dataclasses.field(metadata={"comment": comment}, **kwargs)  # type: ignore[call-overload]


@dataclass(frozen=True)
class CField:
    """One member of a struct, in the order of the C declaration."""

    name: str
    ctype: CType
    comment: str


class CStruct:
    """Base of the parameter structs: the C name, the fields' C types, the initializer."""

    __slots__ = ()  # keeps the subclasses' slots strict (no __dict__ for misspelt names)
    c_name: ClassVar[str]

    @classmethod
    @functools.cache
    def c_fields(cls) -> tuple[CField, ...]:
        hints = get_type_hints(cls, include_extras=True)
        fields = []
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            hint = hints[f.name]
            if get_origin(hint) is not Annotated:
                raise TypeError(f"{cls.__name__}.{f.name} has no C type")
            fields.append(CField(f.name, get_args(hint)[1], f.metadata.get("comment", "")))
        return tuple(fields)


def _declaration(field: CField) -> str:
    ctype = field.ctype.name
    space = "" if ctype.endswith("*") else " "
    length = field.ctype.length_macro or field.ctype.length
    length = f"[{length}]" if length else ""
    comment = f" /* {field.comment} */" if field.comment else ""
    return f"  {ctype}{space}{field.name}{length};{comment}"


def struct_definition(cls: type[CStruct]) -> str:
    """``struct <c_name> { ... };`` with the class docstring as its comment."""
    lines = [f"/* {line} */" for line in textwrap.wrap(" ".join((cls.__doc__ or "").split()), 86)]
    lines.append(f"struct {cls.c_name} {{")
    lines.extend(_declaration(f) for f in cls.c_fields())
    lines.append("};")
    return "\n".join(lines)


# -- the structs (cgen_kernels.h names them; the kernels define what each field means) --------


@dataclass(slots=True, kw_only=True)
class ConvParams(CStruct):
    """CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED (as a 1x1 convolution)."""

    c_name: ClassVar[str] = "cgen_conv_params"
    batches: Int16
    in_h: Int16
    in_w: Int16
    in_c: Int16
    out_h: Int16
    out_w: Int16
    out_c: Int16
    k_h: Int16
    k_w: Int16
    stride_h: Int16
    stride_w: Int16
    dil_h: Int16
    dil_w: Int16
    pad_top: Int16
    pad_left: Int16
    depth_multiplier: Int16 = note("depthwise only")
    # The optimized kernels' fields (y_lo .. x_hi, pair_vertical, requant_fast) stay 0 in
    # the reference variant.
    y_lo: Int16 = note(
        "output pixels whose window is inside the input: [y_lo,y_hi) x [x_lo,x_hi)", default=0
    )
    y_hi: Int16 = 0
    x_lo: Int16 = 0
    x_hi: Int16 = 0
    in_zp: Int8 = note("input zero point")
    out_zp: Int8 = note("output zero point")
    act_min: Int8
    act_max: Int8
    pair_vertical: Int8 = note("pair interior pixels along y instead of x", default=0)
    requant_fast: Int8 = note("all shifts <= -1 and accumulators proven small", default=0)
    quant_stride: Int8 = note("1: per-channel multipliers, 0: one for all channels")
    weights: Int8Array = note("optimized: reordered; reference: TFLite layout", default=NULL)
    bias: Int32Array = note(
        "optimized: input offset folded in; may be NULL in reference", default=NULL
    )
    mult: Int32Array = NULL
    shift: Int8Array = NULL


@dataclass(slots=True, kw_only=True)
class FcInt16Params(CStruct):
    """FULLY_CONNECTED with int16 activations and int8 weights (TFLM's 16x8 path)."""

    c_name: ClassVar[str] = "cgen_fc16_params"
    batches: Int32
    in_c: Int32
    out_c: Int32
    act_min: Int32
    act_max: Int32
    quant_stride: Int32 = note("1: per-channel multipliers, 0: one for all channels")
    wide: Int32 = note("1: int64 accumulation and multiply (int64 bias, or none by default)")
    weights: Int8Array = note("[out_c][in_c]")
    bias32: Int32Array = note("an int32 bias, or NULL")
    bias64: Int64Array = note("an int64 bias, or NULL")
    mult: Int32Array
    shift: Int8Array


@dataclass(slots=True, kw_only=True)
class FloatParams(CStruct):
    """What a float32 kernel adds to its operator's int8 parameter struct (whose shape
    fields it reads): float weights and bias, the fused activation's range."""

    c_name: ClassVar[str] = "cgen_float_params"
    weights: FloatArray = note("TFLite's layout", default=NULL)
    bias: FloatArray = NULL
    act_min: Float = note("-FLT_MAX without an activation, as TFLM")
    act_max: Float
    value: Float = note(
        "SOFTMAX: beta; PAD: the pad value; LEAKY_RELU: alpha", default=np.float32(0)
    )


@dataclass(slots=True, kw_only=True)
class PoolParams(CStruct):
    """AVERAGE_POOL_2D and MAX_POOL_2D."""

    c_name: ClassVar[str] = "cgen_pool_params"
    batches: Int16
    in_h: Int16
    in_w: Int16
    channels: Int16
    out_h: Int16
    out_w: Int16
    k_h: Int16
    k_w: Int16
    stride_h: Int16
    stride_w: Int16
    pad_top: Int16
    pad_left: Int16
    act_min: Int16
    act_max: Int16


@dataclass(slots=True, kw_only=True)
class SoftmaxParams(CStruct):
    """SOFTMAX over the last dimension: input viewed as [outer][depth]."""

    c_name: ClassVar[str] = "cgen_softmax_params"
    outer: Int32
    depth: Int32
    input_multiplier: Int32
    input_left_shift: Int32
    diff_min: Int32


@dataclass(slots=True, kw_only=True)
class BinaryParams(CStruct):
    """Binary elementwise ops (ADD, SUB, MUL, MAXIMUM, MINIMUM, PRELU, SQUARED_DIFFERENCE) with
    numpy-style broadcasting over up to 6 dims."""

    c_name: ClassVar[str] = "cgen_binary_params"
    ndim: Int32
    out_dims: Int32Dims
    in1_strides: Int32Dims = note("0 where input 1 is broadcast")
    in2_strides: Int32Dims
    in1_offset: Int32
    in2_offset: Int32
    out_offset: Int32
    left_shift: Int32
    in1_mult: Int32
    in1_shift: Int32
    in2_mult: Int32
    in2_shift: Int32
    out_mult: Int32
    out_shift: Int32
    act_min: Int32
    act_max: Int32


@dataclass(slots=True, kw_only=True)
class QuantParams(CStruct):
    """QUANTIZE (from float or int8) and DEQUANTIZE."""

    c_name: ClassVar[str] = "cgen_quant_params"
    size: Int32
    in_zp: Int32
    out_zp: Int32
    mult: Int32
    shift: Int32
    scale: Float = note("quantize from float: output scale; dequantize: input scale")


@dataclass(slots=True, kw_only=True)
class ActivationParams(CStruct):
    """LOGISTIC and TANH (int8 -> int8)."""

    c_name: ClassVar[str] = "cgen_activation_params"
    size: Int32
    in_zp: Int32
    range_radius: Int32
    input_multiplier: Int32
    input_left_shift: Int32


@dataclass(slots=True, kw_only=True)
class MeanParams(CStruct):
    """MEAN over a contiguous block of axes: input viewed as [outer][reduce][inner]."""

    c_name: ClassVar[str] = "cgen_mean_params"
    outer: Int32
    reduce: Int32
    inner: Int32
    in_zp: Int32
    out_zp: Int32
    mult: Int32
    shift: Int32


@dataclass(slots=True, kw_only=True)
class PadParams(CStruct):
    """PAD on a 4-D view; pad values are given per dimension (before/after)."""

    c_name: ClassVar[str] = "cgen_pad_params"
    in_dims: Int32x4
    out_dims: Int32x4
    before: Int32x4
    pad_value: Int8


@dataclass(slots=True, kw_only=True)
class ConcatParams(CStruct):
    """CONCATENATION: output viewed as [outer][sum of chunk sizes]."""

    c_name: ClassVar[str] = "cgen_concat_params"
    num_inputs: Int32
    outer: Int32
    chunk: Int32Array = note("bytes per outer step of each input")


@dataclass(slots=True, kw_only=True)
class GatherParams(CStruct):
    """Data movement (TRANSPOSE, SLICE, STRIDED_SLICE, SPLIT, SPLIT_V,
    RESIZE_NEAREST_NEIGHBOR): output element (i0, ..., in) is the input element at
    offsets[start[0] + i0] + ... + offsets[start[n] + in]."""

    c_name: ClassVar[str] = "cgen_gather_params"
    ndim: Int32
    out_dims: Int32Dims
    start: Int32Dims = note("where each output dimension's input offsets begin in offsets")
    offsets: Int32Array = note("input element offsets per output index, dimension after dimension")
    inner_run: Int32 = note("elements the innermost dimension copies in one run (1: none)")
    elem_bytes: Int32 = note("1 (int8) or 4 (float32 between DEQUANTIZE and QUANTIZE)")


@dataclass(slots=True, kw_only=True)
class GatherIndicesParams(CStruct):
    """GATHER with indices known only at run time (an embedding lookup): for each of
    ``outer`` blocks and each index, ``inner`` bytes of row ``index`` of ``axis_size``
    (int8 or float32 rows)."""

    c_name: ClassVar[str] = "cgen_gather_indices_params"
    outer: Int32
    axis_size: Int32
    inner: Int32
    count: Int32 = note("indices")


@dataclass(slots=True, kw_only=True)
class HardSwishParams(CStruct):
    """HARD_SWISH (int8): TFLM's 16-bit fixed-point evaluation, its multipliers scaled down
    to int16 (DownScaleInt32ToInt16Multiplier)."""

    c_name: ClassVar[str] = "cgen_hard_swish_params"
    size: Int32
    in_zp: Int32
    out_zp: Int32
    out_mult: Int16
    out_exp: Int32 = note("<= 0")
    reluish_mult: Int16
    reluish_exp: Int32


@dataclass(slots=True, kw_only=True)
class LutParams(CStruct):
    """An int8 elementwise operator as a table of its 256 results (RSQRT), computed at
    generation time as TFLM computes each; -32768 marks an input TFLM fails on."""

    c_name: ClassVar[str] = "cgen_lut_params"
    size: Int32
    table: Int16Array = note("256 results, for the inputs -128..127")


@dataclass(slots=True, kw_only=True)
class LeakyReluParams(CStruct):
    """LEAKY_RELU (int8): identity and alpha branches, each its own multiplier."""

    c_name: ClassVar[str] = "cgen_leaky_relu_params"
    size: Int32
    in_zp: Int32
    out_zp: Int32
    identity_mult: Int32
    identity_shift: Int32
    alpha_mult: Int32
    alpha_shift: Int32


STRUCTS: tuple[type[CStruct], ...] = (
    ConvParams,
    FcInt16Params,
    FloatParams,
    PoolParams,
    SoftmaxParams,
    BinaryParams,
    QuantParams,
    ActivationParams,
    MeanParams,
    PadParams,
    ConcatParams,
    GatherParams,
    GatherIndicesParams,
    HardSwishParams,
    LutParams,
    LeakyReluParams,
)


def params_header() -> str:
    """The text of cgen_params.h: every struct's layout, generated from the classes above."""
    parts = [
        "/* Generated from pytest_mlonmcu/backends/cgen/params.py: do not edit.",
        " * The layouts of the parameter structs that cgen_kernels.h names. */",
        "#ifndef CGEN_PARAMS_H",
        "#define CGEN_PARAMS_H",
        "",
        "#include <stdint.h>",
        "",
        f"#define CGEN_MAX_DIMS {MAX_DIMS}",
        "",
    ]
    for cls in STRUCTS:
        parts += [struct_definition(cls), ""]
    parts += ["#endif /* CGEN_PARAMS_H */", ""]
    return "\n".join(parts)
