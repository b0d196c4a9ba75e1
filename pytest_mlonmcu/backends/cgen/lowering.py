"""Per-operator lowering: TFLite operator -> kernel call with precomputed constants.

Every constant the kernels need (multipliers, shifts, folded biases, reordered
weights, padding, interior regions) is computed here, at generation time, with
the same arithmetic as TFLite Micro's Prepare functions (see quant.py).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ...core.errors import BuildError, UnsupportedOperatorError
from . import quant
from .cemit import CodeBuilder, in_ptr, out_ptr
from .model import Graph, Operator, Tensor
from .params import (
    MAX_DIMS,
    NULL,
    ActivationParams,
    BinaryParams,
    ConcatParams,
    ConvParams,
    MeanParams,
    PadParams,
    PoolParams,
    QuantParams,
    SoftmaxParams,
)

PADDING_SAME, PADDING_VALID = 0, 1

# Operators that only reinterpret the shape: the output aliases the input bytes.
ALIAS_OPS = frozenset({"RESHAPE", "SQUEEZE", "EXPAND_DIMS"})
# Operators whose output element i depends only on input element i (may run in place).
ELEMENTWISE_OPS = frozenset({"ADD", "MUL", "QUANTIZE", "LOGISTIC", "TANH"})
# Inputs every operator needs (optional ones, such as a bias, come after these).
_REQUIRED_INPUTS = {
    "CONV_2D": 2,
    "DEPTHWISE_CONV_2D": 2,
    "FULLY_CONNECTED": 2,
    "ADD": 2,
    "MUL": 2,
    "MEAN": 2,
    "PAD": 2,
    "PADV2": 2,
}
# The rank each kernel needs (0: at least 1, an axis or a last dimension; absent: any).
_RANKS = {
    "CONV_2D": 4,
    "DEPTHWISE_CONV_2D": 4,
    "AVERAGE_POOL_2D": 4,
    "MAX_POOL_2D": 4,
    "SOFTMAX": 0,
    "CONCATENATION": 0,
    "MEAN": 0,
}
# Option values that divide or step through a window: they must be positive.
_POSITIVE_OPTIONS = ("stride", "dilation", "filter")


def compute_padding(
    stride: int, dilation: int, in_size: int, filter_size: int, out_size: int
) -> int:
    """TFLite's ComputePaddingWithOffset: the top/left share (floor of half)."""
    effective = (filter_size - 1) * dilation + 1
    total = max((out_size - 1) * stride + effective - in_size, 0)
    return total // 2


def compute_out_size(padding: int, in_size: int, filter_size: int, stride: int, dilation: int):
    effective = (filter_size - 1) * dilation + 1
    if padding == PADDING_SAME:
        return (in_size + stride - 1) // stride
    if padding == PADDING_VALID:
        return (in_size + stride - effective) // stride
    raise BuildError(f"cgen: padding type {padding} is not supported")


def interior_range(out_size: int, stride: int, pad: int, k: int, dil: int, in_size: int):
    """Output positions [lo, hi) whose whole window lies inside the input."""
    inside = [
        o
        for o in range(out_size)
        if o * stride - pad >= 0 and o * stride - pad + (k - 1) * dil < in_size
    ]
    return (inside[0], inside[-1] + 1) if inside else (0, 0)


class Lowering:
    """Lowers the operators of one graph into calls collected by a CodeBuilder."""

    def __init__(self, graph: Graph, builder: CodeBuilder, variant: str) -> None:
        self.g = graph
        self.cb = builder
        self.optimized = variant == "optimized"
        self._handlers: dict[str, Callable[[Operator], None]] = {
            "CONV_2D": self.conv2d,
            "DEPTHWISE_CONV_2D": self.depthwise_conv2d,
            "FULLY_CONNECTED": self.fully_connected,
            "AVERAGE_POOL_2D": self.pool,
            "MAX_POOL_2D": self.pool,
            "SOFTMAX": self.softmax,
            "ADD": self.binary,
            "MUL": self.binary,
            "QUANTIZE": self.quantize,
            "DEQUANTIZE": self.dequantize,
            "LOGISTIC": self.activation,
            "TANH": self.activation,
            "MEAN": self.mean,
            "PAD": self.pad,
            "PADV2": self.pad,
            "CONCATENATION": self.concatenation,
        }

    @property
    def supported(self) -> frozenset[str]:
        return frozenset(self._handlers) | ALIAS_OPS

    def check_supported(self) -> None:
        for op in self.g.operators:
            if op.name not in self.supported:
                raise UnsupportedOperatorError(op.name, op.index, "cgen")

    def check_operands(self, op: Operator) -> None:
        """What every kernel takes for granted: its operands exist and have elements, the
        ranks it handles, positive strides and windows. A model breaking this is malformed."""
        where = f"cgen: {op.name} (operator index {op.index})"
        required = _REQUIRED_INPUTS.get(op.name, 1)
        if len(op.inputs) < required or any(i < 0 for i in op.inputs[:required]):
            raise BuildError(f"{where} needs {required} input(s), it has {op.inputs}")
        if not op.outputs:
            raise BuildError(f"{where} has no output")
        if op.name == "CONCATENATION" and any(i < 0 for i in op.inputs):
            raise BuildError(f"{where}: an input is missing ({op.inputs})")
        rank = _RANKS.get(op.name)
        for i in [*op.inputs[:required], op.outputs[0]]:
            t = self.t(i)
            if t.is_const:
                continue
            if 0 in t.shape:
                raise BuildError(f"{where}: tensor '{t.name}' has no elements (shape {t.shape})")
            if rank is not None and (len(t.shape) != rank if rank else not t.shape):
                raise BuildError(
                    f"{where}: tensor '{t.name}' has rank {len(t.shape)} (shape {t.shape}); "
                    f"the kernel needs {rank or 'at least 1'}"
                )
        for key in _POSITIVE_OPTIONS:
            values = op.options.get(key, ())
            if any(v < 1 for v in values):
                raise BuildError(f"{where}: {key} {tuple(values)} must be positive")

    def lower(self, op: Operator) -> None:
        self.cb.current_op = op.index
        self.check_operands(op)
        if op.name in ALIAS_OPS:
            return  # handled by the memory plan (same bytes, no code)
        self._handlers[op.name](op)

    # -- helpers ----------------------------------------------------------------

    def t(self, index: int) -> Tensor:
        return self.g.tensors[index]

    def _int8(self, op: Operator, index: int, role: str) -> Tensor:
        t = self.t(index)
        if t.dtype != "INT8":
            raise BuildError(
                f"cgen: {op.name} (operator index {op.index}): {role} tensor '{t.name}' is "
                f"{t.dtype}; only int8 models are supported"
            )
        if t.scales.size == 0:
            raise BuildError(f"cgen: tensor '{t.name}' has no quantization parameters")
        return t

    def _const(self, op: Operator, index: int, role: str, dtypes: tuple[str, ...]) -> Tensor:
        t = self.t(index)
        if not t.is_const:
            raise BuildError(
                f"cgen: {op.name} (operator index {op.index}): {role} '{t.name}' must be constant"
            )
        if t.dtype not in dtypes:
            raise BuildError(
                f"cgen: {op.name} (operator index {op.index}): {role} '{t.name}' is {t.dtype}"
            )
        return t

    def _same_quant(self, op: Operator, a: Tensor, b: Tensor) -> None:
        if abs(float(a.scale) - float(b.scale)) > 1e-6 or a.zero_point != b.zero_point:
            raise BuildError(
                f"cgen: {op.name} (operator index {op.index}) needs equal input and output "
                "quantization"
            )

    # -- convolutions -----------------------------------------------------------

    def _conv_common(self, op: Operator, depthwise: bool) -> dict:
        x = self._int8(op, op.inputs[0], "input")
        w = self._const(op, op.inputs[1], "filter", ("INT8",))
        y = self._int8(op, op.outputs[0], "output")
        bias = None
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            bias = self._const(op, op.inputs[2], "bias", ("INT32",)).data.astype(np.int64)
        if len(x.shape) != 4 or len(w.shape) != 4 or len(y.shape) != 4:
            raise BuildError(f"cgen: {op.name} (operator index {op.index}) needs 4-D tensors")
        n, in_h, in_w, in_c = x.shape
        _, out_h, out_w, out_c = y.shape
        k_h, k_w = w.shape[1], w.shape[2]
        (s_h, s_w), (d_h, d_w) = op.options["stride"], op.options["dilation"]
        pad = op.options["padding"]
        for size, k, s, d, got in ((in_h, k_h, s_h, d_h, out_h), (in_w, k_w, s_w, d_w, out_w)):
            if compute_out_size(pad, size, k, s, d) != got:
                raise BuildError(f"cgen: {op.name} (operator index {op.index}): bad output size")
        pad_top = compute_padding(s_h, d_h, in_h, k_h, out_h)
        pad_left = compute_padding(s_w, d_w, in_w, k_w, out_w)
        if depthwise:
            if w.shape[0] != 1 or w.shape[3] != out_c or out_c % in_c:
                raise BuildError(f"cgen: {op.name} (operator index {op.index}): bad filter shape")
            depth_multiplier = out_c // in_c
        else:
            if w.shape[0] != out_c or w.shape[3] != in_c:
                raise BuildError(
                    f"cgen: {op.name} (operator index {op.index}): grouped convolutions "
                    "are not supported"
                )
            depth_multiplier = 1
        mults, shifts = quant.conv_multipliers(x.scale, w.scales, y.scale, out_c)
        act_min, act_max = quant.activation_range(op.options["activation"], y.scale, y.zero_point)
        # weights per output channel as rows: [out_c][taps]
        if depthwise:
            w_rows = w.data.reshape(k_h * k_w, out_c).T.astype(np.int64)
        else:
            w_rows = w.data.reshape(out_c, -1).astype(np.int64)
        return {
            "x": x,
            "w": w,
            "y": y,
            "bias": bias,
            "w_rows": w_rows,
            "mults": mults,
            "shifts": shifts,
            "params": ConvParams(
                batches=n,
                in_h=in_h,
                in_w=in_w,
                in_c=in_c,
                out_h=out_h,
                out_w=out_w,
                out_c=out_c,
                k_h=k_h,
                k_w=k_w,
                stride_h=s_h,
                stride_w=s_w,
                dil_h=d_h,
                dil_w=d_w,
                pad_top=pad_top,
                pad_left=pad_left,
                depth_multiplier=depth_multiplier,
                in_zp=x.zero_point,
                out_zp=y.zero_point,
                act_min=act_min,
                act_max=act_max,
                quant_stride=1,
            ),
        }

    def _accumulator_bound(self, op: Operator, bias, w_rows: np.ndarray, in_zp: int) -> int:
        """Largest |int32| any partial sum can reach, in the reference or folded order."""
        abs_sum = np.abs(w_rows).sum(axis=1)
        b = np.abs(bias) if bias is not None else np.zeros(w_rows.shape[0], np.int64)
        bound = int((b + (2 * abs(in_zp) + 128) * abs_sum).max(initial=0))
        if bound > quant.INT32_MAX:
            raise BuildError(
                f"cgen: {op.name} (operator index {op.index}): the int32 accumulator may overflow"
            )
        return bound

    def _emit_conv(self, op: Operator, c: dict, kernel: str, file: str, weights, bias) -> None:
        f = c["params"]
        f.weights = self.cb.array("weights", np.asarray(weights, np.int8))
        f.bias = self.cb.array("bias", np.asarray(bias, np.int32)) if bias is not None else NULL
        f.mult = self.cb.array("mult", c["mults"])
        f.shift = self.cb.array("shift", c["shifts"].astype(np.int8))
        p = self.cb.struct(f)
        self.cb.call(file, f"{kernel}(&{p}, {in_ptr(op.inputs[0])}, {out_ptr(op.outputs[0])});")

    def _optimize_fields(self, op: Operator, c: dict) -> np.ndarray:
        """Interior region, pairing direction, fast requantization; returns folded bias."""
        f = c["params"]
        bound = self._accumulator_bound(op, c["bias"], c["w_rows"], f.in_zp)
        f.y_lo, f.y_hi = interior_range(f.out_h, f.stride_h, f.pad_top, f.k_h, f.dil_h, f.in_h)
        f.x_lo, f.x_hi = interior_range(f.out_w, f.stride_w, f.pad_left, f.k_w, f.dil_w, f.in_w)
        rows, cols = f.y_hi - f.y_lo, f.x_hi - f.x_lo
        f.pair_vertical = int(cols * (rows // 2) > rows * (cols // 2))
        # The fast requantization (cgen_mbqm_fast, and the depthwise kernel that also
        # adds out_zp * 2^r before shifting) must not overflow int32: |acc| < 2^30,
        # 1 <= r <= 22 gives |x| + 2^(r-1) + 128 * 2^r < 2^31.
        shifts = c["shifts"]
        f.requant_fast = int(bool(np.all((shifts <= -1) & (shifts >= -22))) and bound < (1 << 30))
        bias = c["bias"] if c["bias"] is not None else np.zeros(f.out_c, np.int64)
        return bias - f.in_zp * c["w_rows"].sum(axis=1)

    def conv2d(self, op: Operator) -> None:
        c = self._conv_common(op, depthwise=False)
        f = c["params"]
        if not self.optimized:
            self._accumulator_bound(op, c["bias"], c["w_rows"], f.in_zp)
            self._emit_conv(op, c, "cgen_conv_ref", "cgen_ref.c", c["w"].data, c["bias"])
            return
        folded = self._optimize_fields(op, c)
        self._emit_conv(op, c, "cgen_conv_opt", "cgen_conv.c", _block_weights(c["w_rows"]), folded)

    def depthwise_conv2d(self, op: Operator) -> None:
        c = self._conv_common(op, depthwise=True)
        f = c["params"]
        if not self.optimized or f.depth_multiplier != 1:
            self._accumulator_bound(op, c["bias"], c["w_rows"], f.in_zp)
            self._emit_conv(op, c, "cgen_depthwise_ref", "cgen_ref.c", c["w"].data, c["bias"])
            return
        folded = self._optimize_fields(op, c)
        if _dw3x3_applies(f):
            self._emit_conv(op, c, "cgen_depthwise_3x3", "cgen_depthwise3x3.c", c["w"].data, folded)
        else:
            self._emit_conv(op, c, "cgen_depthwise_opt", "cgen_depthwise.c", c["w"].data, folded)

    def fully_connected(self, op: Operator) -> None:
        x = self._int8(op, op.inputs[0], "input")
        w = self._const(op, op.inputs[1], "weights", ("INT8",))
        y = self._int8(op, op.outputs[0], "output")
        if op.options.get("weights_format", 0) != 0:
            raise BuildError(f"cgen: FULLY_CONNECTED (operator index {op.index}): shuffled weights")
        if np.any(w.zero_points != 0):
            raise BuildError(
                f"cgen: FULLY_CONNECTED (operator index {op.index}): weight zero point != 0"
            )
        bias = None
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            bias = self._const(op, op.inputs[2], "bias", ("INT32",)).data.astype(np.int64)
        out_c, depth = w.shape[0], w.shape[-1]
        batches = x.size // depth
        if batches * depth != x.size or y.size != batches * out_c:
            raise BuildError(f"cgen: FULLY_CONNECTED (operator index {op.index}): bad shapes")
        per_channel = w.scales.size > 1
        if per_channel:
            mults, shifts = quant.conv_multipliers(x.scale, w.scales, y.scale, out_c)
        else:
            m, s = quant.fc_per_tensor_multiplier(x.scale, w.scale, y.scale)
            mults, shifts = np.array([m], np.int32), np.array([s], np.int32)
        act_min, act_max = quant.activation_range(op.options["activation"], y.scale, y.zero_point)
        # As a 1x1 convolution over an image of 1 x batches pixels.
        c = {
            "x": x,
            "w": w,
            "y": y,
            "bias": bias,
            "w_rows": w.data.reshape(out_c, depth).astype(np.int64),
            "mults": mults,
            "shifts": shifts,
            "params": ConvParams(
                batches=1,
                in_h=1,
                in_w=batches,
                in_c=depth,
                out_h=1,
                out_w=batches,
                out_c=out_c,
                k_h=1,
                k_w=1,
                stride_h=1,
                stride_w=1,
                dil_h=1,
                dil_w=1,
                pad_top=0,
                pad_left=0,
                depth_multiplier=1,
                in_zp=x.zero_point,
                out_zp=y.zero_point,
                act_min=act_min,
                act_max=act_max,
                quant_stride=int(per_channel),
            ),
        }
        if not self.optimized:
            self._accumulator_bound(op, bias, c["w_rows"], x.zero_point)
            # The reference kernel walks the batches itself.
            f = c["params"]
            f.batches, f.in_w, f.out_w = batches, 1, 1
            self._emit_conv(op, c, "cgen_fc_ref", "cgen_ref.c", w.data, bias)
            return
        folded = self._optimize_fields(op, c)
        self._emit_conv(op, c, "cgen_conv_opt", "cgen_conv.c", _block_weights(c["w_rows"]), folded)

    # -- other operators --------------------------------------------------------

    def pool(self, op: Operator) -> None:
        x = self._int8(op, op.inputs[0], "input")
        y = self._int8(op, op.outputs[0], "output")
        self._same_quant(op, x, y)
        n, in_h, in_w, ch = x.shape
        _, out_h, out_w, _ = y.shape
        (s_h, s_w), (k_h, k_w) = op.options["stride"], op.options["filter"]
        pad = op.options["padding"]
        if compute_out_size(pad, in_h, k_h, s_h, 1) != out_h:
            raise BuildError(f"cgen: {op.name} (operator index {op.index}): bad output size")
        if compute_out_size(pad, in_w, k_w, s_w, 1) != out_w:
            raise BuildError(f"cgen: {op.name} (operator index {op.index}): bad output size")
        act_min, act_max = quant.activation_range(op.options["activation"], y.scale, y.zero_point)
        params = PoolParams(
            batches=n,
            in_h=in_h,
            in_w=in_w,
            channels=ch,
            out_h=out_h,
            out_w=out_w,
            k_h=k_h,
            k_w=k_w,
            stride_h=s_h,
            stride_w=s_w,
            pad_top=compute_padding(s_h, 1, in_h, k_h, out_h),
            pad_left=compute_padding(s_w, 1, in_w, k_w, out_w),
            act_min=act_min,
            act_max=act_max,
        )
        p = self.cb.struct(params)
        kernel = "cgen_avg_pool" if op.name == "AVERAGE_POOL_2D" else "cgen_max_pool"
        self.cb.call(
            "cgen_pool.c", f"{kernel}(&{p}, {in_ptr(op.inputs[0])}, {out_ptr(op.outputs[0])});"
        )

    def softmax(self, op: Operator) -> None:
        x = self._int8(op, op.inputs[0], "input")
        y = self._int8(op, op.outputs[0], "output")
        if y.zero_point != -128 or y.scale != np.float32(1.0 / 256):
            raise BuildError(
                f"cgen: SOFTMAX (operator index {op.index}) needs output scale 1/256, zero point -128"
            )
        mult, left_shift, diff_min = quant.softmax_params(op.options["beta"], x.scale)
        depth = x.shape[-1]
        params = SoftmaxParams(
            outer=x.size // depth,
            depth=depth,
            input_multiplier=mult,
            input_left_shift=left_shift,
            diff_min=diff_min,
        )
        p = self.cb.struct(params)
        self.cb.call(
            "cgen_softmax.c",
            f"cgen_softmax(&{p}, {in_ptr(op.inputs[0])}, {out_ptr(op.outputs[0])});",
        )

    def binary(self, op: Operator) -> None:
        a = self._int8(op, op.inputs[0], "input 1")
        b = self._int8(op, op.inputs[1], "input 2")
        y = self._int8(op, op.outputs[0], "output")
        dims, s1, s2 = broadcast_strides(a.shape, b.shape, y.shape, op)
        act_min, act_max = quant.activation_range(op.options["activation"], y.scale, y.zero_point)
        if op.name == "ADD":
            rescale = quant.add_params(a.scale, b.scale, y.scale)
            kernel = "cgen_add"
        else:
            m, s = quant.quantize_multiplier(float(a.scale) * float(b.scale) / float(y.scale))
            rescale = {
                "left_shift": 0,
                "in1_mult": 0,
                "in1_shift": 0,
                "in2_mult": 0,
                "in2_shift": 0,
            }
            rescale.update(out_mult=m, out_shift=s)
            kernel = "cgen_mul"
        params = BinaryParams(
            ndim=len(dims),
            out_dims=_pad_dims(dims),
            in1_strides=_pad_dims(s1),
            in2_strides=_pad_dims(s2),
            in1_offset=-a.zero_point,
            in2_offset=-b.zero_point,
            out_offset=y.zero_point,
            act_min=act_min,
            act_max=act_max,
            **rescale,
        )
        p = self.cb.struct(params)
        args = f"{in_ptr(op.inputs[0])}, {in_ptr(op.inputs[1])}, {out_ptr(op.outputs[0])}"
        self.cb.call("cgen_binary.c", f"{kernel}(&{p}, {args});")

    def quantize(self, op: Operator) -> None:
        x, y = self.t(op.inputs[0]), self._int8(op, op.outputs[0], "output")
        if x.dtype == "FLOAT32":
            p = self.cb.struct(
                QuantParams(
                    size=y.size, in_zp=0, out_zp=y.zero_point, mult=0, shift=0, scale=y.scale
                )
            )
            stmt = f"cgen_quantize_f32(&{p}, {in_ptr(op.inputs[0])}, {out_ptr(op.outputs[0])});"
        else:
            x = self._int8(op, op.inputs[0], "input")
            m, s = quant.quantize_multiplier(float(x.scale) / float(y.scale))
            params = QuantParams(
                size=y.size,
                in_zp=x.zero_point,
                out_zp=y.zero_point,
                mult=m,
                shift=s,
                scale=np.float32(0),
            )
            p = self.cb.struct(params)
            stmt = f"cgen_requantize(&{p}, {in_ptr(op.inputs[0])}, {out_ptr(op.outputs[0])});"
        self.cb.call("cgen_quantize.c", stmt)

    def dequantize(self, op: Operator) -> None:
        x, y = self._int8(op, op.inputs[0], "input"), self.t(op.outputs[0])
        if y.dtype != "FLOAT32":
            raise BuildError(f"cgen: DEQUANTIZE (operator index {op.index}) to {y.dtype}")
        p = self.cb.struct(
            QuantParams(size=x.size, in_zp=x.zero_point, out_zp=0, mult=0, shift=0, scale=x.scale)
        )
        self.cb.call(
            "cgen_quantize.c",
            f"cgen_dequantize(&{p}, {in_ptr(op.inputs[0])}, {out_ptr(op.outputs[0])});",
        )

    def activation(self, op: Operator) -> None:
        x = self._int8(op, op.inputs[0], "input")
        y = self._int8(op, op.outputs[0], "output")
        if op.name == "LOGISTIC" and y.zero_point != -128:
            raise BuildError(
                f"cgen: LOGISTIC (operator index {op.index}) needs output zero point -128"
            )
        input_integer_bits = 4
        mult, left_shift = quant.frexp_multiplier(float(x.scale) * (1 << (31 - input_integer_bits)))
        if left_shift < 0:
            raise BuildError(f"cgen: {op.name} (operator index {op.index}): input scale too small")
        radius = quant.calculate_input_radius(input_integer_bits, left_shift)
        params = ActivationParams(
            size=x.size,
            in_zp=x.zero_point,
            range_radius=radius,
            input_multiplier=mult,
            input_left_shift=left_shift,
        )
        p = self.cb.struct(params)
        kernel = "cgen_logistic" if op.name == "LOGISTIC" else "cgen_tanh"
        self.cb.call(
            "cgen_activation.c",
            f"{kernel}(&{p}, {in_ptr(op.inputs[0])}, {out_ptr(op.outputs[0])});",
        )

    def mean(self, op: Operator) -> None:
        x = self._int8(op, op.inputs[0], "input")
        y = self._int8(op, op.outputs[0], "output")
        axes_t = self._const(op, op.inputs[1], "axis", ("INT32", "INT64"))
        rank = len(x.shape)
        axes = sorted({int(a) % rank for a in axes_t.data.reshape(-1)})
        count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
        big = [d for d in range(rank) if x.shape[d] > 1]
        reduced = [d for d in big if d in axes]
        kept = [d for d in big if d not in axes]
        if reduced and kept and any(reduced[0] < k < reduced[-1] for k in kept):
            raise BuildError(
                f"cgen: MEAN (operator index {op.index}) over non-adjacent axes is not supported"
            )
        first = reduced[0] if reduced else rank
        outer = int(np.prod([x.shape[d] for d in kept if d < first], dtype=np.int64))
        inner = int(np.prod([x.shape[d] for d in kept if d > first], dtype=np.int64))
        reduce = int(np.prod([x.shape[d] for d in reduced], dtype=np.int64))
        mult, shift = quant.mean_multiplier(x.scale, y.scale, count)
        params = MeanParams(
            outer=outer,
            reduce=reduce,
            inner=inner,
            in_zp=x.zero_point,
            out_zp=y.zero_point,
            mult=mult,
            shift=shift,
        )
        p = self.cb.struct(params)
        self.cb.call(
            "cgen_reduce.c", f"cgen_mean(&{p}, {in_ptr(op.inputs[0])}, {out_ptr(op.outputs[0])});"
        )

    def pad(self, op: Operator) -> None:
        x = self._int8(op, op.inputs[0], "input")
        y = self._int8(op, op.outputs[0], "output")
        pads = self._const(op, op.inputs[1], "paddings", ("INT32", "INT64")).data.reshape(-1, 2)
        rank = len(x.shape)
        if rank > 4 or pads.shape[0] != rank or np.any(pads < 0):
            raise BuildError(f"cgen: {op.name} (operator index {op.index}): unsupported paddings")
        pad_value = y.zero_point
        if op.name == "PADV2" and len(op.inputs) > 2 and op.inputs[2] >= 0:
            pad_value = int(
                self._const(op, op.inputs[2], "pad value", ("INT8",)).data.reshape(-1)[0]
            )
        lead = 4 - rank
        in_dims = [1] * lead + list(x.shape)
        before = [0] * lead + [int(p) for p in pads[:, 0]]
        out_dims = [1] * lead + [int(d + p0 + p1) for d, (p0, p1) in zip(x.shape, pads)]
        if int(np.prod(out_dims)) != y.size:
            raise BuildError(f"cgen: {op.name} (operator index {op.index}): bad output shape")
        params = PadParams(in_dims=in_dims, out_dims=out_dims, before=before, pad_value=pad_value)
        p = self.cb.struct(params)
        self.cb.call(
            "cgen_shape.c", f"cgen_pad(&{p}, {in_ptr(op.inputs[0])}, {out_ptr(op.outputs[0])});"
        )

    def concatenation(self, op: Operator) -> None:
        y = self._int8(op, op.outputs[0], "output")
        if op.options.get("activation", 0) != quant.ACT_NONE:
            raise BuildError(f"cgen: CONCATENATION (operator index {op.index}) with activation")
        rank = len(y.shape)
        axis = op.options["axis"] % rank
        chunks = []
        for i in op.inputs:
            x = self._int8(op, i, "input")
            self._same_quant(op, x, y)
            chunks.append(int(np.prod(x.shape[axis:], dtype=np.int64)))
        outer = int(np.prod(y.shape[:axis], dtype=np.int64))
        chunk = self.cb.array("chunks", np.asarray(chunks, np.int32))
        p = self.cb.struct(ConcatParams(num_inputs=len(op.inputs), outer=outer, chunk=chunk))
        ins = ", ".join(in_ptr(i) for i in op.inputs)
        self.cb.call(
            "cgen_shape.c",
            f"{{ const int8_t *const ins[{len(op.inputs)}] = {{{ins}}}; "
            f"cgen_concat(&{p}, ins, {out_ptr(op.outputs[0])}); }}",
        )


DW_MAX_CLASSES = 8  # as in cgen_depthwise3x3.c


def _shift_classes(out_size: int, stride: int, pad: int, in_size: int) -> int:
    """Number of distinct 3x3 block shifts along one axis (dw_classes in C)."""
    shifts = []
    for o in range(out_size):
        origin = o * stride - pad
        shift = min(max(origin, 0), in_size - 3) - origin
        if not shifts or shifts[-1] != shift:
            shifts.append(shift)
    return len(shifts)


def _dw3x3_applies(p: ConvParams) -> bool:
    """Whether cgen_depthwise3x3.c's preconditions hold for these parameters."""
    return (
        p.k_h == 3
        and p.k_w == 3
        and p.dil_h == 1
        and p.dil_w == 1
        and p.in_h >= 3
        and p.in_w >= 3
        and p.depth_multiplier == 1
        and bool(p.requant_fast)
        and _shift_classes(p.out_h, p.stride_h, p.pad_top, p.in_h) <= DW_MAX_CLASSES
        and _shift_classes(p.out_w, p.stride_w, p.pad_left, p.in_w) <= DW_MAX_CLASSES
    )


def _block_weights(w_rows: np.ndarray) -> np.ndarray:
    """[out_c][k] -> blocks of 8 channels interleaved per k ([k][8]), then the rest by row.

    The layout cgen_conv.c expects.
    """
    out_c, k = w_rows.shape
    full = out_c // 8 * 8
    blocks = w_rows[:full].reshape(-1, 8, k).transpose(0, 2, 1).reshape(-1)
    return np.concatenate([blocks, w_rows[full:].reshape(-1)]).astype(np.int8)


def _pad_dims(values: list[int]) -> list[int]:
    return list(values) + [0] * (MAX_DIMS - len(values))


def broadcast_strides(a_shape, b_shape, out_shape, op: Operator):
    """Collapsed output dims and per-input element strides (0 = broadcast)."""
    rank = max(len(a_shape), len(b_shape), len(out_shape), 1)

    def padded(shape):
        return [1] * (rank - len(shape)) + list(shape)

    a, b, o = padded(a_shape), padded(b_shape), padded(out_shape)
    for d in range(rank):
        for s in (a[d], b[d]):
            if s not in (1, o[d]):
                raise BuildError(f"cgen: {op.name} (operator index {op.index}): bad broadcast")

    def strides(shape):
        st, acc = [], 1
        for d in reversed(range(rank)):
            st.append(acc if shape[d] > 1 else 0)
            acc *= shape[d]
        return st[::-1]

    sa, sb = strides(a), strides(b)
    dims, s1, s2 = [], [], []
    for d in range(rank):
        if o[d] == 1:
            continue
        # Merge with the previous dim when both inputs stay contiguous across it.
        if dims and s1[-1] == sa[d] * o[d] and s2[-1] == sb[d] * o[d]:
            dims[-1] *= o[d]
            s1[-1], s2[-1] = sa[d], sb[d]
            continue
        dims.append(o[d])
        s1.append(sa[d])
        s2.append(sb[d])
    if not dims:
        dims, s1, s2 = [1], [0], [0]
    if len(dims) > MAX_DIMS:
        raise BuildError(f"cgen: {op.name} (operator index {op.index}): broadcast over > 6 dims")
    return dims, s1, s2
