"""Build the cgen test models: python build_op_models.py JOBS.json

JOBS.json is a list of {"spec": {...}, "path": "..."}; each spec (see op_specs.py)
becomes a .tflite written atomically to its path. Weights and the representative
dataset are seeded from the spec name, so a spec always gives the same model.
Run in one subprocess for all missing models: TensorFlow is imported once.
"""

from __future__ import annotations

import json
import os
import sys
import zlib
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from pytest_mlonmcu.core.cache import atomic_write_bytes  # noqa: E402

ACTS = {"none": lambda y: y, "relu": tf.nn.relu, "relu6": tf.nn.relu6}


def _rng(spec: dict, salt: str = "") -> np.random.Generator:
    return np.random.default_rng(zlib.crc32((spec["name"] + salt).encode()))


def _var(rng: np.random.Generator, shape, scale: float) -> tf.Variable:
    return tf.Variable(rng.normal(size=shape).astype(np.float32) * np.float32(scale))


class Model(tf.Module):
    """A tf.Module whose __call__ is defined per spec kind."""

    def __init__(self, spec: dict) -> None:
        super().__init__()
        self.spec = spec
        rng = _rng(spec)
        kind = spec["kind"]
        shape = spec["shape"]
        if kind in ("conv2d", "float_io"):
            kh, kw = spec.get("kernel", (3, 3))
            cin, cout = shape[-1], spec.get("filters", 6)
            self.w = _var(rng, (kh, kw, cin, cout), 1.0 / np.sqrt(kh * kw * cin))
            self.b = _var(rng, (cout,), 0.2)
        elif kind == "depthwise":
            kh, kw = spec["kernel"]
            self.w = _var(rng, (kh, kw, shape[-1], spec["multiplier"]), 1.0 / np.sqrt(kh * kw))
            self.b = _var(rng, (shape[-1] * spec["multiplier"],), 0.2)
        elif kind == "fc":
            depth = int(np.prod(shape[1:]))
            self.w = _var(rng, (depth, spec["units"]), 1.0 / np.sqrt(depth))
            self.b = _var(rng, (spec["units"],), 0.2)
        elif kind in ("add", "mul") and "const" in spec:
            self.c = tf.constant(rng.normal(size=spec["const"]).astype(np.float32))
        elif kind == "requant":
            self.w = _var(rng, (1, 1, shape[-1], 4), 3.0)
        elif kind == "reshape":
            self.w = _var(rng, (3, 3, spec["new_shape"][-1], 5), 0.3)
            self.b = _var(rng, (5,), 0.2)
        elif kind == "mini_cnn":
            self.w1 = _var(rng, (3, 3, shape[-1], 8), 0.3)
            self.b1 = _var(rng, (8,), 0.2)
            self.wd = _var(rng, (3, 3, 8, 1), 0.4)
            self.bd = _var(rng, (8,), 0.2)
            self.w2 = _var(rng, (1, 1, 8, 12), 0.3)
            self.b2 = _var(rng, (12,), 0.2)
            self.wf = _var(rng, (12, 5), 0.3)
            self.bf = _var(rng, (5,), 0.2)
        elif kind == "mini_resnet":
            c = shape[-1]
            self.w1 = _var(rng, (3, 3, c, c), 1.0 / np.sqrt(9 * c))
            self.b1 = _var(rng, (c,), 0.2)
            self.w2 = _var(rng, (3, 3, c, c), 1.0 / np.sqrt(9 * c))
            self.b2 = _var(rng, (c,), 0.2)
            self.w3 = _var(rng, (1, 1, c, 6), 1.0 / np.sqrt(c))
            self.b3 = _var(rng, (6,), 0.2)
        elif kind == "strided_slice":
            self.w = _var(rng, (1, 1, shape[-1], 4), 0.5)
        elif kind == "prelu":  # one slope per channel, some negative
            alpha_shape = [1] * (len(shape) - 2) + [shape[-1]]  # Keras: shared over H, W
            alpha = rng.uniform(-0.5, 0.6, size=alpha_shape).astype(np.float32)
            self.alpha = tf.Variable(alpha)
        elif kind in ("sub", "maximum", "minimum") and "const" in spec:
            self.c = tf.constant(rng.normal(size=spec["const"]).astype(np.float32))

    def input_shapes(self) -> list[list[int]]:
        shapes = [self.spec["shape"]]
        if "shape2" in self.spec:
            shapes.append(self.spec["shape2"])
        return shapes

    def forward(self, *xs):
        s, kind = self.spec, self.spec["kind"]
        x = xs[0]
        act = ACTS[s.get("act", "none")]
        if kind in ("conv2d", "float_io"):
            y = tf.nn.conv2d(
                x,
                self.w,
                strides=[1, *s.get("strides", (1, 1)), 1],
                padding=s.get("padding", "SAME"),
                dilations=[1, *s.get("dilation", (1, 1)), 1],
            )
            return act(y + self.b if s.get("bias", True) else y)
        if kind == "depthwise":
            y = tf.nn.depthwise_conv2d(
                x,
                self.w,
                strides=[1, *s["strides"], 1],
                padding=s["padding"],
                dilations=list(s["dilation"]),
            )
            return act(y + self.b)
        if kind == "fc":
            if s.get("flatten"):
                x = tf.reshape(x, [x.shape[0], -1])
            y = tf.matmul(x, self.w)
            return act(y + self.b if s.get("bias", True) else y)
        if kind in ("avgpool", "maxpool"):
            pool = tf.nn.avg_pool2d if kind == "avgpool" else tf.nn.max_pool2d
            return pool(x, list(s["pool"]), list(s["strides"]), s["padding"])
        if kind == "softmax":
            return tf.nn.softmax(x)
        if kind in ("add", "mul"):
            other = self.c if "const" in s else xs[1]
            return act(x + other if kind == "add" else x * other)
        if kind == "logistic":
            return tf.sigmoid(x)
        if kind == "tanh":
            return tf.tanh(x)
        if kind == "mean":
            return tf.reduce_mean(x, axis=s["axis"], keepdims=s["keepdims"])
        if kind == "pad":
            return tf.pad(x, s["paddings"], constant_values=s.get("value", 0.0))
        if kind == "concat":
            return tf.concat([x, xs[1]], axis=s["axis"])
        if kind == "requant":
            # A wide-range branch next to the input: concatenation needs one scale.
            y = tf.nn.conv2d(x, self.w, strides=1, padding="SAME")
            return tf.concat([x, y], axis=3)
        if kind == "reshape":
            y = tf.reshape(x, s["new_shape"])
            return tf.nn.relu(tf.nn.conv2d(y, self.w, strides=1, padding="SAME") + self.b)
        if kind == "mini_cnn":
            y = tf.nn.relu(tf.nn.conv2d(x, self.w1, strides=2, padding="SAME") + self.b1)
            y = tf.nn.relu(tf.nn.depthwise_conv2d(y, self.wd, [1, 1, 1, 1], "SAME") + self.bd)
            y = tf.nn.relu(tf.nn.conv2d(y, self.w2, strides=1, padding="SAME") + self.b2)
            y = tf.nn.avg_pool2d(y, [6, 6], [1, 1], "VALID")
            y = tf.reshape(y, [1, 12])
            return tf.nn.softmax(tf.matmul(y, self.wf) + self.bf)
        if kind == "mini_resnet":
            y = tf.nn.relu(tf.nn.conv2d(x, self.w1, strides=1, padding="SAME") + self.b1)
            y = tf.nn.conv2d(y, self.w2, strides=1, padding="SAME") + self.b2
            y = tf.nn.relu(y + x)
            return tf.nn.conv2d(y, self.w3, strides=1, padding="SAME") + self.b3
        if kind == "strided_slice":
            y = tf.nn.conv2d(x, self.w, strides=1, padding="SAME")
            return y[:, 1:4, 2:5, :]
        if kind == "resize":  # TF2: half_pixel_centers
            return tf.image.resize(x, s.get("size", [8, 8]), method="nearest")
        if kind == "resize_v1":
            return tf.compat.v1.image.resize_nearest_neighbor(
                x, s["size"], align_corners=s["align_corners"]
            )
        if kind == "transpose":
            return tf.transpose(x, s["perm"])
        if kind == "slice":
            return tf.slice(x, s["begin"], s["size"])
        if kind == "strided_slice_steps":
            return x[:, 1:8:2, ::3, 1:]
        if kind == "strided_slice_reverse":
            return x[:, ::-1, -2:0:-2, :]
        if kind == "strided_slice_shrink":
            return x[:, 2, 1:5, :]
        if kind == "split":
            return tuple(tf.split(x, s["splits"], axis=s["axis"]))
        if kind == "split_v":
            return tuple(tf.split(x, s["sizes"], axis=s["axis"]))
        if kind in ("sub", "maximum", "minimum", "squared_difference"):
            other = self.c if "const" in s else xs[1]
            fn = {
                "sub": tf.subtract,
                "maximum": tf.maximum,
                "minimum": tf.minimum,
                "squared_difference": tf.math.squared_difference,
            }[kind]
            return fn(x, other)
        if kind in ("reduce_sum", "reduce_max", "reduce_min"):
            fn = {"reduce_sum": tf.reduce_sum, "reduce_max": tf.reduce_max}.get(kind, tf.reduce_min)
            return fn(x, axis=s["axis"], keepdims=s["keepdims"])
        if kind == "unpack":
            return tuple(tf.unstack(x, axis=s["axis"]))
        if kind == "gather_const":
            return tf.gather(x, s["indices"], axis=s["axis"])
        if kind == "rsqrt":  # positive inputs: RSQRT of a negative value fails in TFLM
            return tf.math.rsqrt(x * x + 0.1)
        if kind == "exp":
            return tf.exp(x)
        if kind == "hard_swish":  # x * relu6(x + 3) / 6: the converter fuses it into HARD_SWISH
            return x * tf.nn.relu6(x + 3.0) * (1.0 / 6.0)
        if kind == "prelu":  # Keras's PReLU formula, which the converter fuses into PRELU
            return tf.nn.relu(x) + (-self.alpha) * tf.nn.relu(-x)
        if kind == "leaky_relu":
            return tf.nn.leaky_relu(x, alpha=s["alpha"])
        raise ValueError(f"unknown kind {kind}")


def convert(spec: dict) -> bytes:
    model = Model(spec)
    shapes = model.input_shapes()
    signature = [tf.TensorSpec(sh, tf.float32) for sh in shapes]
    fn = tf.function(model.forward, input_signature=signature)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], model)
    if spec.get("quant") == "float":
        return converter.convert()
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if spec.get("quant") == "dynamic":  # int8 weights only: no representative dataset
        return converter.convert()
    if spec.get("quant") == "16x8":  # int16 activations, int8 weights (int64 biases)
        ops = tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
        converter.target_spec.supported_ops = [ops]
        converter.inference_input_type = converter.inference_output_type = tf.int16
    else:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if spec["kind"] != "float_io" and spec.get("quant") != "16x8":
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    if spec.get("per_channel"):
        converter._experimental_disable_per_channel_quantization_for_dense_layers = False
    scale = float(spec.get("scale", 1.0))

    def representative():
        rng = _rng(spec, "data")
        for _ in range(32):
            # Differently scaled inputs, so that multi-input ops need rescaling.
            yield [
                (rng.normal(size=sh) * scale * (1.0 + 0.7 * i)).astype(np.float32)
                for i, sh in enumerate(shapes)
            ]

    converter.representative_dataset = representative
    return converter.convert()


def main(jobs_file: str) -> None:
    jobs = json.loads(Path(jobs_file).read_text())
    for job in jobs:
        atomic_write_bytes(Path(job["path"]), convert(job["spec"]))
        print(f"built {job['spec']['name']}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
