"""The integer path: rewrite TVM's fake-quantized Relax graph into int8 arithmetic.

TVM 0.27's TFLite importer always produces ``dequantize -> float op -> quantize``. Here
``relax.dpl`` patterns turn CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED, ADD,
AVERAGE_POOL_2D, MEAN/SUM, LEAKY_RELU and SQUARED_DIFFERENCE back into what TFLM computes: int8 x int8 -> int32
accumulation plus the int32 bias (MEAN: the int32 sum, 1/count folded into the multiplier),
then a fixed-point requantization made of ordinary Relax ops (``astype``, shifts, ``where``...),
with TFLite's multipliers (quant.py). The input zero point is folded into the bias
(``conv(x - zx, W) = conv(x, W) - zx * sum(W)``) and padding uses ``zx``, so the tensors
between layers stay int8 (subtracting zx in the graph would fuse into the previous kernel
and make every activation int16).

Ops left in float (SOFTMAX) go through TVM's dequantize/quantize as imported.
"""

from __future__ import annotations

import numpy as np
import tvm
from tvm import relax
from tvm.ir.expr import Constant
from tvm.relax.dpl import is_const, is_op, rewrite_call, wildcard

from ..cgen import quant as tflm_arith
from . import quant

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


# -- constants ------------------------------------------------------------------------
def const_value(expr: relax.Expr) -> np.ndarray:
    """The numpy value of a relax constant (plain or the importer's GenericConst)."""
    data = getattr(expr, "data", None)
    if data is None:
        data = expr.value
    return data.numpy()


def _c(value: np.ndarray | int, dtype: str) -> relax.Expr:
    """A constant; per-channel arrays that are uniform collapse to a scalar (an immediate in C)."""
    arr = np.asarray(value)
    if arr.ndim and arr.size and np.all(arr == arr.reshape(-1)[0]):
        arr = arr.reshape(-1)[0]
    return relax.const(np.asarray(arr, dtype=dtype), dtype)


def _uniform(arr: np.ndarray) -> bool:
    flat = np.asarray(arr).reshape(-1)
    return bool(np.all(flat == flat[0]))


# -- the requantization as Relax ops --------------------------------------------------
def requantize(
    acc: relax.Expr,
    mult: np.ndarray,
    shift: np.ndarray,
    out_zp: int,
    act_min: int,
    act_max: int,
    out_dtype: str = "int8",
) -> relax.Expr:
    """TFLite's MultiplyByQuantizedMultiplier(acc, mult, shift) + zp, clamped, as Relax ops.

    ``mult``/``shift`` broadcast over the last axis (per channel) or are scalars.
    SaturatingRoundingDoublingHighMul in int64 (its INT32_MIN*INT32_MIN case cannot occur:
    multipliers are below 2^31), then RoundingDivideByPOT.
    """
    op = relax.op
    mult = np.asarray(mult, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int32)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    x = acc
    if np.any(left > 0):
        x = op.left_shift(x, _c(left, "int32"))
    # The multiplier stays int32 (< 2^31) and is widened in the kernel: a 32x32->64 multiply
    # (mul + mulh on RV32) instead of a full 64x64 one.
    if _uniform(mult):
        m = _c(mult, "int64")  # a scalar: an immediate in C (the compiler sees it fits 32 bits)
    else:
        m = op.astype(_c(mult.astype(np.int32), "int32"), "int64")
    ab = op.multiply(op.astype(x, "int64"), m)
    # sign = all ones when negative (arithmetic shift); no where(): its constants would
    # become kernel parameters instead of immediates.
    low31 = _c((1 << 31) - 1, "int64")
    nudge = op.subtract(
        _c(1 << 30, "int64"), op.bitwise_and(op.right_shift(ab, _c(63, "int64")), low31)
    )
    t = op.add(ab, nudge)
    # (t / 2^31) truncating towards zero, as C's int64 division: add 2^31-1 when negative.
    t = op.add(t, op.bitwise_and(op.right_shift(t, _c(63, "int64")), low31))
    high = op.astype(op.right_shift(t, _c(31, "int64")), "int32")
    if np.any(right > 0):
        mask = (np.int64(1) << right.astype(np.int64)) - 1
        remainder = op.bitwise_and(high, _c(mask.astype(np.int32), "int32"))
        # threshold = mask/2 + (high < 0); high >> 31 is -1 when negative
        threshold = op.subtract(
            _c((mask >> 1).astype(np.int32), "int32"), op.right_shift(high, _c(31, "int32"))
        )
        high = op.add(
            op.right_shift(high, _c(right, "int32")),
            op.astype(op.greater(remainder, threshold), "int32"),
        )
    out = op.add(high, _c(out_zp, "int32"))
    # One clip, not maximum then minimum: when StorageRewrite gives two consecutive scalar
    # stages the same buffer, TVM's C codegen reuses the first stage's load for the second
    # (its textual SSA cache; seen with NCHW), so the min would read the value before the max.
    out = op.clip(out, act_min, act_max)
    return op.astype(out, out_dtype)


# -- patterns -----------------------------------------------------------------------------
class _Patterns:
    """dequantize -> conv2d/matmul (+ bias) (+ relu) -> quantize (+ clip), and ADD."""

    def __init__(self) -> None:
        self.x = wildcard()
        self.x_scale, self.x_zp = is_const(), is_const()
        dq_x = is_op("relax.dequantize")(self.x, self.x_scale, self.x_zp)
        self.w = is_const()
        self.w_perm = is_op("relax.permute_dims")(self.w)
        self.w_scale, self.w_zp = is_const(), is_const()
        self.dq_w = is_op("relax.dequantize")(self.w | self.w_perm, self.w_scale, self.w_zp)
        self.w_reshape = is_op("relax.reshape")(self.dq_w, wildcard())
        w_in = self.dq_w | self.w_reshape
        self.conv = is_op("relax.nn.conv2d")(dq_x, w_in)
        self.matmul = is_op("relax.matmul")(dq_x, w_in)
        anchor = self.conv | self.matmul
        self.b = is_const()
        self.b_scale, self.b_zp = is_const(), is_const()
        self.bias_add = is_op("relax.add")(
            anchor, is_op("relax.dequantize")(self.b, self.b_scale, self.b_zp)
        )
        biased = self.bias_add | anchor
        self.relu = is_op("relax.nn.relu")(biased)
        self.out_scale, self.out_zp = is_const(), is_const()
        self.quantize = is_op("relax.quantize")(self.relu | biased, self.out_scale, self.out_zp)
        self.clip = is_op("relax.clip")(self.quantize, wildcard(), wildcard())

        # ADD of two quantized tensors (a residual connection).
        self.a1, self.a2 = wildcard(), wildcard()
        self.a1_scale, self.a1_zp = is_const(), is_const()
        self.a2_scale, self.a2_zp = is_const(), is_const()
        add = is_op("relax.add")(
            is_op("relax.dequantize")(self.a1, self.a1_scale, self.a1_zp),
            is_op("relax.dequantize")(self.a2, self.a2_scale, self.a2_zp),
        )
        self.add = add
        self.add_relu = is_op("relax.nn.relu")(add)
        self.add_quantize = is_op("relax.quantize")(
            self.add_relu | add, self.out_scale, self.out_zp
        )
        self.add_clip = is_op("relax.clip")(self.add_quantize, wildcard(), wildcard())

        # MEAN: the importer computes it in float between dequantize and quantize.
        self.mean_in = wildcard()
        self.mean_scale, self.mean_zp = is_const(), is_const()
        dq_mean_in = is_op("relax.dequantize")(self.mean_in, self.mean_scale, self.mean_zp)
        self.mean = is_op("relax.mean")(dq_mean_in) | is_op("relax.sum")(dq_mean_in)
        self.mean_quantize = is_op("relax.quantize")(self.mean, self.out_scale, self.out_zp)

        # LEAKY_RELU: the importer computes it in float.
        self.leaky_in = wildcard()
        self.leaky_scale, self.leaky_zp = is_const(), is_const()
        self.leaky = is_op("relax.nn.leakyrelu")(
            is_op("relax.dequantize")(self.leaky_in, self.leaky_scale, self.leaky_zp)
        )
        self.leaky_quantize = is_op("relax.quantize")(self.leaky, self.out_scale, self.out_zp)

        # SQUARED_DIFFERENCE: the importer squares the float difference of the inputs.
        self.sd_a, self.sd_b = wildcard(), wildcard()
        self.sd_a_scale, self.sd_a_zp = is_const(), is_const()
        self.sd_b_scale, self.sd_b_zp = is_const(), is_const()
        diff = is_op("relax.subtract")(
            is_op("relax.dequantize")(self.sd_a, self.sd_a_scale, self.sd_a_zp),
            is_op("relax.dequantize")(self.sd_b, self.sd_b_scale, self.sd_b_zp),
        )
        self.sqdiff_quantize = is_op("relax.quantize")(
            is_op("relax.multiply")(diff, diff), self.out_scale, self.out_zp
        )

        # AVERAGE_POOL_2D: the importer's integer pool divides with truncation; TFLM rounds.
        self.pool_in = wildcard()
        self.pool = is_op("relax.nn.avg_pool2d")(is_op("relax.astype")(self.pool_in))
        self.pool_out = is_op("relax.astype")(self.pool)


def _scalar(expr: relax.Expr) -> float:
    return float(const_value(expr).reshape(-1)[0])


def _dtype(expr: relax.Expr) -> str:
    return str(expr.ty.dtype)


def _activation_range(
    m: dict, p: _Patterns, relu_pattern, clip_pattern, orig: relax.Expr, out_zp: int
) -> tuple[int, int]:
    lo, hi = -128, 127
    if relu_pattern in m:
        lo = max(lo, out_zp)
    if clip_pattern is not None and orig.op.name == "relax.clip":
        cmin, cmax = (float(a.value) for a in orig.args[1:3])
        lo, hi = max(lo, int(np.ceil(cmin))), min(hi, int(np.floor(cmax)))
    return lo, hi


class IntegerRewriter:
    """Applies the rewrites to ``main``; counts what it changed (for the build metrics)."""

    def __init__(self) -> None:
        self.p = _Patterns()
        self.rewritten: dict[str, int] = {
            "conv2d": 0,
            "depthwise_conv2d": 0,
            "fully_connected": 0,
            "add": 0,
            "avg_pool2d": 0,
            "mean": 0,
            "leaky_relu": 0,
            "squared_difference": 0,
        }

    # ---- CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED ----
    def _rewrite_linear(self, orig: relax.Expr, m: dict) -> relax.Expr:
        p, op = self.p, relax.op
        x = m[p.x]
        if (
            _dtype(x) != "int8"
            or not _uniform(const_value(m[p.w_zp]))
            or np.any(const_value(m[p.w_zp]))
        ):
            return orig
        x_scale, x_zp = _scalar(m[p.x_scale]), int(_scalar(m[p.x_zp]))
        out_scale, out_zp = _scalar(m[p.out_scale]), int(_scalar(m[p.out_zp]))
        w = const_value(m[p.w])
        if w.dtype != np.int8:
            return orig
        if p.w_perm in m:
            w = np.transpose(w, [int(a) for a in m[p.w_perm].attrs.axes])
        if p.w_reshape in m:
            w = w.reshape([int(d) for d in m[p.w_reshape].ty.shape])
        w_scales = const_value(m[p.w_scale]).astype(np.float32).reshape(-1)
        if p.b in m:
            bias = const_value(m[p.b]).astype(np.int64)
            if np.any(const_value(m[p.b_zp])):
                return orig
        else:
            bias = None
        relu = p.relu
        lo, hi = _activation_range(m, p, relu, p.clip, orig, out_zp)
        w_const = relax.const(w, "int8")
        if p.conv in m:
            call = m[p.conv]
            attrs = call.attrs
            kl = str(attrs.kernel_layout)
            o_axis = kl.index("O")
            out_ch = w.shape[o_axis]
            depthwise = int(attrs.groups) > 1
            # sum of W over everything but the output channel, for the zero-point fold.
            w_sum = w.astype(np.int64).sum(axis=tuple(i for i in range(4) if i != o_axis))
            data = x
            pad = [int(v) for v in attrs.padding]  # top, left, bottom, right
            if any(pad):
                dl = str(attrs.data_layout)
                widths = [0] * 8
                widths[2 * dl.index("H")], widths[2 * dl.index("H") + 1] = pad[0], pad[2]
                widths[2 * dl.index("W")], widths[2 * dl.index("W") + 1] = pad[1], pad[3]
                data = op.nn.pad(x, pad_width=widths, pad_value=float(x_zp))
            kernel_layout = kl
            if kl == "HWIO" and not depthwise:
                # OHWI: the reduction over (kh, kw, ic) reads the weights contiguously.
                w_const = relax.const(np.ascontiguousarray(np.transpose(w, (3, 0, 1, 2))), "int8")
                kernel_layout = "OHWI"
            acc = op.nn.conv2d(
                data,
                w_const,
                strides=attrs.strides,
                padding=[0, 0, 0, 0],
                dilation=attrs.dilation,
                groups=attrs.groups,
                data_layout=attrs.data_layout,
                kernel_layout=kernel_layout,
                out_layout=attrs.out_layout,
                out_dtype="int32",
            )
            scales = (
                w_scales if w_scales.size == out_ch else np.full(out_ch, w_scales[0], np.float32)
            )
            mult, shift = quant.conv_multipliers(x_scale, scales, out_scale)
            self.rewritten["depthwise_conv2d" if depthwise else "conv2d"] += 1
        else:
            # FULLY_CONNECTED: x (.., K) @ W (K, N)
            out_ch = w.shape[-1]
            w_sum = w.astype(np.int64).sum(axis=0)
            acc = op.matmul(x, w_const, out_dtype="int32")
            if w_scales.size == 1:
                mm, ss = quant.fc_multiplier(x_scale, float(w_scales[0]), out_scale)
                mult, shift = np.array([mm], np.int64), np.array([ss], np.int32)
            else:
                mult, shift = quant.conv_multipliers(x_scale, w_scales, out_scale)
            self.rewritten["fully_connected"] += 1
        folded = (bias if bias is not None else np.zeros(out_ch, np.int64)) - x_zp * w_sum
        if np.any(folded):
            acc = op.add(acc, _c(folded.astype(np.int32), "int32"))
        return requantize(acc, mult, shift, out_zp, lo, hi)

    # ---- ADD ----
    def _rewrite_add(self, orig: relax.Expr, m: dict) -> relax.Expr:
        p, op = self.p, relax.op
        a1, a2 = m[p.a1], m[p.a2]
        if isinstance(a1, Constant) or isinstance(a2, Constant):
            return orig
        if _dtype(a1) != "int8" or _dtype(a2) != "int8":
            return orig
        if [int(d) for d in a1.ty.shape] != [int(d) for d in a2.ty.shape]:
            return orig  # broadcasting adds stay float
        s1, z1 = _scalar(m[p.a1_scale]), int(_scalar(m[p.a1_zp]))
        s2, z2 = _scalar(m[p.a2_scale]), int(_scalar(m[p.a2_zp]))
        so, zo = _scalar(m[p.out_scale]), int(_scalar(m[p.out_zp]))
        (m1, sh1), (m2, sh2), (mo, sho), left_shift = quant.add_params(s1, s2, so)
        lo, hi = _activation_range(m, p, p.add_relu, p.add_clip, orig, zo)

        def scaled(a: relax.Expr, zp: int, mult: int, shift: int) -> relax.Expr:
            v = op.left_shift(
                op.subtract(op.astype(a, "int32"), _c(zp, "int32")), _c(left_shift, "int32")
            )
            return requantize(
                v, np.array([mult]), np.array([shift]), 0, INT32_MIN, INT32_MAX, "int32"
            )

        raw = op.add(scaled(a1, z1, m1, sh1), scaled(a2, z2, m2, sh2))
        self.rewritten["add"] += 1
        return requantize(raw, np.array([mo]), np.array([sho]), zo, lo, hi)

    # ---- AVERAGE_POOL_2D ----
    def _rewrite_pool(self, orig: relax.Expr, m: dict) -> relax.Expr:
        p, op = self.p, relax.op
        x, pool = m[p.pool_in], m[p.pool]
        attrs = pool.attrs
        if _dtype(x) != "int8" or _dtype(orig) != "int8" or any(int(v) for v in attrs.padding):
            return orig
        layout = str(attrs.layout)
        if layout != str(attrs.out_layout) or "H" not in layout or "W" not in layout:
            return orig
        h_axis, w_axis = layout.index("H"), layout.index("W")
        shape = [int(d) for d in x.ty.shape]
        ph, pw = (int(v) for v in attrs.pool_size)
        count = ph * pw
        wide = op.astype(x, "int32")
        out_shape = [int(d) for d in orig.ty.shape]
        if (
            (ph, pw) == (shape[h_axis], shape[w_axis])
            and layout in ("NHWC", "NCHW")
            and shape[0] == 1
        ):
            # Global pool: sum by a matmul with ones, int8 in, int32 accumulation inside the
            # kernel (a sum over astype(x) would fuse the cast into the previous kernel and
            # store an int32 copy of the whole tensor).
            hw, ch = ph * pw, shape[layout.index("C")]
            ones = relax.const(np.ones((1, hw) if layout == "NHWC" else (hw, 1), np.int8), "int8")
            if layout == "NHWC":
                total = op.matmul(ones, op.reshape(x, (hw, ch)), out_dtype="int32")
            else:
                total = op.matmul(op.reshape(x, (ch, hw)), ones, out_dtype="int32")
            total = op.reshape(total, out_shape)
        else:
            # avg_pool2d of x*count divides exactly: it yields the window sums.
            total = op.nn.avg_pool2d(
                op.multiply(wide, _c(count, "int32")),
                pool_size=attrs.pool_size,
                strides=attrs.strides,
                dilation=attrs.dilation,
                padding=attrs.padding,
                ceil_mode=attrs.ceil_mode,
                count_include_pad=attrs.count_include_pad,
                layout=layout,
                out_layout=layout,
            )
        # TFLM: (sum +- count/2) / count, C division (rounds half away from zero).
        half = _c(count // 2, "int32")
        rounded = op.where(
            op.greater(total, _c(0, "int32")), op.add(total, half), op.subtract(total, half)
        )
        q = op.divide(rounded, _c(count, "int32"))
        q = op.clip(q, -128, 127)
        self.rewritten["avg_pool2d"] += 1
        return op.astype(q, "int8")

    # ---- MEAN ----
    def _rewrite_mean(self, orig: relax.Expr, m: dict) -> relax.Expr:
        """TFLM's int8 MEAN (and SUM): the int32 sum minus zp * count, requantized with
        1/count folded into the multiplier (SUM: without it)."""
        p, op = self.p, relax.op
        x, mean = m[p.mean_in], m[p.mean]
        if _dtype(x) != "int8" or _dtype(orig) != "int8":
            return orig
        shape = [int(d) for d in x.ty.shape]
        axes = [int(a) % len(shape) for a in mean.attrs.axis]
        count = int(np.prod([shape[a] for a in axes]))
        in_zp, out_zp = int(_scalar(m[p.mean_zp])), int(_scalar(m[p.out_zp]))
        folded = count if mean.op.name == "relax.mean" else 0  # SUM: no 1/count
        mult, shift = quant.mean_multiplier(
            _scalar(m[p.mean_scale]), _scalar(m[p.out_scale]), folded
        )
        total = op.sum(op.astype(x, "int32"), axis=axes, keepdims=bool(mean.attrs.keepdims))
        acc = op.subtract(total, _c(in_zp * count, "int32"))
        self.rewritten["mean"] += 1
        return requantize(acc, np.array([mult]), np.array([shift]), out_zp, -128, 127)

    # ---- LEAKY_RELU ----
    def _rewrite_leaky(self, orig: relax.Expr, m: dict) -> relax.Expr:
        """TFLM's int8 LEAKY_RELU: x - zp on the identity multiplier where >= 0, else on
        alpha's (both computed in float32 by TFLM's Prepare, then QuantizeMultiplier)."""
        p, op = self.p, relax.op
        x = m[p.leaky_in]
        alpha = np.float32(float(m[p.leaky].attrs.alpha))
        if _dtype(x) != "int8" or _dtype(orig) != "int8" or alpha < 0:
            return orig
        in_scale, out_scale = (
            np.float32(_scalar(m[p.leaky_scale])),
            np.float32(_scalar(m[p.out_scale])),
        )
        in_zp, out_zp = int(_scalar(m[p.leaky_zp])), int(_scalar(m[p.out_zp]))
        m_id, s_id = quant.quantize_multiplier(float(in_scale / out_scale))
        m_alpha, s_alpha = quant.quantize_multiplier(float(in_scale * alpha / out_scale))
        v = op.subtract(op.astype(x, "int32"), _c(in_zp, "int32"))
        identity = requantize(v, np.array([m_id]), np.array([s_id]), out_zp, -128, 127)
        leaky = requantize(v, np.array([m_alpha]), np.array([s_alpha]), out_zp, -128, 127)
        self.rewritten["leaky_relu"] += 1
        return op.where(op.greater_equal(v, _c(0, "int32")), identity, leaky)

    # ---- SQUARED_DIFFERENCE ----
    def _rewrite_squared_difference(self, orig: relax.Expr, m: dict) -> relax.Expr:
        """TFLM's int8 SQUARED_DIFFERENCE: both inputs rescaled at left shift 7 (ADD's
        steps), the difference squared in int32, then requantized."""
        p, op = self.p, relax.op
        a, b = m[p.sd_a], m[p.sd_b]
        if _dtype(a) != "int8" or _dtype(b) != "int8" or _dtype(orig) != "int8":
            return orig
        s1, z1 = np.float32(_scalar(m[p.sd_a_scale])), int(_scalar(m[p.sd_a_zp]))
        s2, z2 = np.float32(_scalar(m[p.sd_b_scale])), int(_scalar(m[p.sd_b_zp]))
        so, zo = np.float32(_scalar(m[p.out_scale])), int(_scalar(m[p.out_zp]))
        params = tflm_arith.squared_difference_params(s1, s2, so)
        left = params["left_shift"]

        def scaled(x: relax.Expr, zp: int, mult: int, shift: int) -> relax.Expr:
            v = op.left_shift(
                op.subtract(op.astype(x, "int32"), _c(zp, "int32")), _c(left, "int32")
            )
            return requantize(
                v, np.array([mult]), np.array([shift]), 0, INT32_MIN, INT32_MAX, "int32"
            )

        d = op.subtract(
            scaled(a, z1, params["in1_mult"], params["in1_shift"]),
            scaled(b, z2, params["in2_mult"], params["in2_shift"]),
        )
        out_mult, out_shift = np.array([params["out_mult"]]), np.array([params["out_shift"]])
        self.rewritten["squared_difference"] += 1
        return requantize(op.multiply(d, d), out_mult, out_shift, zo, -128, 127)

    def __call__(self, func: relax.Function) -> relax.Function:
        p = self.p
        # Larger patterns first: with the trailing clip, then without it.
        func = rewrite_call(p.clip, self._rewrite_linear, func)
        func = rewrite_call(p.quantize, self._rewrite_linear, func)
        func = rewrite_call(p.add_clip, self._rewrite_add, func)
        func = rewrite_call(p.add_quantize, self._rewrite_add, func)
        func = rewrite_call(p.pool_out, self._rewrite_pool, func)
        func = rewrite_call(p.mean_quantize, self._rewrite_mean, func)
        func = rewrite_call(p.leaky_quantize, self._rewrite_leaky, func)
        func = rewrite_call(p.sqdiff_quantize, self._rewrite_squared_difference, func)
        return func


def to_integer(mod: tvm.IRModule) -> tuple[tvm.IRModule, dict[str, int]]:
    """Rewrite every function of ``mod``; returns the module and the counts per op kind."""
    rewriter = IntegerRewriter()
    out = tvm.IRModule()
    for gv, func in mod.functions.items():
        if isinstance(func, relax.Function):
            func = rewriter(func)
        out[gv] = func
    out = relax.transform.DeadCodeElimination()(out)
    return out, dict(rewriter.rewritten)
