"""The built-in model zoo: the four MLPerf Tiny (v0.5) architectures and three models of
other public TinyML kinds (a MobileNetV2 block network, an unrolled LSTM keyword spotter, a
text classifier with an embedding), needing no model files; each also as a float32 model
(``<name>_f32``: the same network and weights, not quantized).

Each model is built with Keras from the architecture of the mlcommons/tiny reference training
code, given seeded random weights and converted to a full-int8 TFLite flatbuffer with a
seeded representative dataset. No training happens, so the models compute nonsense, but they
have the reference models' operators, shapes, MACs and sizes, which is what a benchmark needs.

The weights are made "reasonable" so that int8 quantization is not degenerate: He-normal
kernels, batch-norm statistics measured on the calibration data (as if the model had been
trained on it) and a classifier standardised on the pooled features, so that the softmax
outputs change with the input.

TensorFlow is imported only inside the functions: the pipeline runs
``python -m pytest_mlonmcu.models.zoo NAME OUT_DIR`` in a subprocess to keep TensorFlow's import
time and memory out of the test process.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import struct
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .metadata import read_metadata

ZOO_MODELS: tuple[str, ...] = ("aww", "vww", "resnet", "toycar", "mbv2", "lstm", "textcls")
# Each also as a float32 model: the same network and weights, converted without quantization.
FLOAT_SUFFIX = "_f32"
ZOO_NAMES: tuple[str, ...] = ZOO_MODELS + tuple(name + FLOAT_SUFFIX for name in ZOO_MODELS)
# Part of the cache key: bump when an architecture, a seed, the weights or the conversion change.
ZOO_VERSION: str = "1"

_SEED = 20210607  # base seed; each model adds its index in ZOO_MODELS
_CALIBRATION_SAMPLES = 64
_LOGIT_STD = 1.0  # spread of the classifier logits over the calibration data
_PROVENANCE = "https://github.com/mlcommons/tiny/tree/v0.5/v0.5/training"
_TOKEN_SAMPLES = 8  # sample sequences written for a token-input model (input/N.bin)
_FLOAT_SAMPLES = 8  # calibration-like inputs written for a float32 model (input/N.bin)


@dataclass(frozen=True)
class _Spec:
    input_shape: tuple[int, ...]  # without the batch dimension
    input_range: tuple[float, float]  # float range of the calibration inputs
    description: str
    input_description: str
    output_description: str
    provenance: str
    tokens: int = 0  # > 0: int32 token ids in [0, tokens) instead of int8 features


# Input ranges follow the quantization of the reference models, so inputs quantize alike.
_SPECS: dict[str, _Spec] = {
    "aww": _Spec(
        (49, 10, 1),
        (-123.5697, 23.0136),
        "DS-CNN keyword spotting model of MLPerf Tiny (v0.5), seeded random weights.",
        "49x10 MFCC features of a one second audio clip (synthetic calibration data).",
        "Probabilities of the 12 keyword classes.",
        f"{_PROVENANCE}/keyword_spotting (ds_cnn)",
    ),
    "vww": _Spec(
        (96, 96, 3),
        (0.0, 1.0),
        "MobileNetV1 (alpha 0.25) visual wake words model of MLPerf Tiny (v0.5), "
        "seeded random weights.",
        "A 96x96 RGB image scaled to [0, 1] (synthetic calibration data).",
        "Probabilities of the 2 classes (no person, person).",
        f"{_PROVENANCE}/visual_wake_words (mobilenet_v1)",
    ),
    "resnet": _Spec(
        (32, 32, 3),
        (0.0, 255.0),
        "ResNet-8 CIFAR-10 image classification model of MLPerf Tiny (v0.5), "
        "seeded random weights.",
        "A 32x32 RGB image with values in [0, 255] (synthetic calibration data).",
        "Probabilities of the 10 CIFAR-10 classes.",
        f"{_PROVENANCE}/image_classification (resnet_v1_eembc)",
    ),
    "toycar": _Spec(
        (640,),
        (-84.7980, 14.9109),
        "Fully connected autoencoder anomaly detection model of MLPerf Tiny (v0.5), "
        "seeded random weights.",
        "5 frames of a 128 band log-mel spectrogram (synthetic calibration data).",
        "The reconstructed input.",
        f"{_PROVENANCE}/anomaly_detection (keras_model.get_model)",
    ),
    "mbv2": _Spec(
        (32, 32, 3),
        (0.0, 1.0),
        "MobileNetV2-style image classifier: inverted residual blocks (1x1 expansion, "
        "3x3 depthwise, 1x1 linear projection, residual ADD) with ReLU6, seeded random weights.",
        "A 32x32 RGB image scaled to [0, 1] (synthetic calibration data).",
        "Probabilities of 10 classes.",
        "MobileNetV2 (Sandler et al., arXiv 1801.04381), scaled down: width 8-32, 4 blocks",
    ),
    "lstm": _Spec(
        (16, 10),
        (-20.0, 20.0),
        "Keyword spotting with one LSTM layer (24 units) unrolled over 16 frames, then a "
        "softmax classifier; seeded random weights.",
        "16 frames of 10 MFCC features (synthetic calibration data).",
        "Probabilities of the 12 keyword classes.",
        "the LSTM keyword spotter of 'Hello Edge' (Zhang et al., arXiv 1711.07128), smaller, "
        "unrolled with a weight matrix per gate",
    ),
    "textcls": _Spec(
        (32,),
        (0.0, 1000.0),
        "Text classifier: a 1000 x 16 embedding table looked up by token id (GATHER), the "
        "mean over the sequence, two dense layers; seeded random weights.",
        "32 token ids in [0, 1000) (seeded random sample sequences in input/).",
        "Probabilities of 4 classes.",
        "the fastText-style bag-of-embeddings classifier (Joulin et al., arXiv 1607.01759), small",
        tokens=1000,
    ),
}


def build_zoo_model(name: str, out_dir: Path) -> Path:
    """Write out_dir/<name>.tflite and out_dir/definition.yml and return the .tflite path.

    The definition follows the mlonmcu-models layout (input/output names, shapes, int8 dtype,
    quantize/dequantize scale and zero_shift, operators). The same TensorFlow version gives
    the same bytes, also across processes. Raises ValueError for an unknown name.
    """
    if name not in ZOO_NAMES:
        raise ValueError(_unknown(name))
    base = name.removesuffix(FLOAT_SUFFIX)
    as_float = base != name
    spec = _SPECS[base]
    seed = _SEED + ZOO_MODELS.index(base)
    tf, keras = _import_tf(seed)
    rng = np.random.default_rng(seed)
    if spec.tokens:
        calib = rng.integers(0, spec.tokens, (_CALIBRATION_SAMPLES, *spec.input_shape))
        calib = calib.astype(np.int32)
    else:
        calib = _calibration_data(rng, spec.input_shape, spec.input_range, _CALIBRATION_SAMPLES)
    model = _BUILDERS[base](keras, spec.input_shape)
    _init_weights(keras, model, rng, calib)
    if as_float:
        data = _rename_io_tensors(_convert_float(tf, model))
    else:
        data = _rename_io_tensors(_convert(tf, model, calib, int8_input=not spec.tokens))

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.tflite"
    path.write_bytes(data)
    _write_definition(out_dir / "definition.yml", name, spec, data, tf.__version__)
    if spec.tokens:  # random int32 ids would lie outside the table: valid sample sequences
        (out_dir / "input").mkdir(exist_ok=True)
        for k in range(_TOKEN_SAMPLES):
            ids = rng.integers(0, spec.tokens, spec.input_shape).astype(np.float32)
            (out_dir / "input" / f"{k}.bin").write_bytes(ids.tobytes())
    elif as_float:  # inputs as the network expects them, not standard normal noise
        (out_dir / "input").mkdir(exist_ok=True)
        samples = _calibration_data(rng, spec.input_shape, spec.input_range, _FLOAT_SAMPLES)
        for k in range(_FLOAT_SAMPLES):
            (out_dir / "input" / f"{k}.bin").write_bytes(samples[k].astype(np.float32).tobytes())
    return path


# --------------------------------------------------------------------------- TensorFlow setup


def _import_tf(seed: int) -> tuple[Any, Any]:
    """Import TensorFlow and Keras configured for reproducible results."""
    # Must be set before TensorFlow is imported; setdefault leaves a caller's choice alone.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    # oneDNN kernels may change float rounding with the CPU and the thread count, which could
    # move a calibration range and so the quantized bytes.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import keras
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # the runtime is already initialised (second model in one process): keep going
    tf.config.experimental.enable_op_determinism()
    # Fresh layer-name counters: tensor names end up in the flatbuffer.
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    return tf, keras


# --------------------------------------------------------------------------- architectures


def _conv_bn_relu(keras: Any, x: Any, filters: int, kernel: Any, strides: Any = 1) -> Any:
    x = keras.layers.Conv2D(filters, kernel, strides=strides, padding="same")(x)
    x = keras.layers.BatchNormalization()(x)
    return keras.layers.Activation("relu")(x)


def _dw_bn_relu(keras: Any, x: Any, strides: int = 1) -> Any:
    x = keras.layers.DepthwiseConv2D(3, strides=strides, padding="same")(x)
    x = keras.layers.BatchNormalization()(x)
    return keras.layers.Activation("relu")(x)


def _classifier(keras: Any, x: Any, classes: int) -> Any:
    x = keras.layers.AveragePooling2D(pool_size=tuple(x.shape[1:3]))(x)
    x = keras.layers.Flatten()(x)
    return keras.layers.Dense(classes, activation="softmax", name="classifier")(x)


def _build_aww(keras: Any, shape: tuple[int, ...]) -> Any:
    """DS-CNN: keyword_spotting/keras_model.py ds_cnn (dropout omitted: inference only)."""
    inputs = keras.Input(shape=shape, batch_size=1, name="input_1")
    x = _conv_bn_relu(keras, inputs, 64, (10, 4), strides=(2, 2))
    for _ in range(4):
        x = _dw_bn_relu(keras, x)
        x = _conv_bn_relu(keras, x, 64, 1)
    return keras.Model(inputs, _classifier(keras, x, 12), name="aww")


def _build_vww(keras: Any, shape: tuple[int, ...]) -> Any:
    """MobileNetV1 alpha 0.25: visual_wake_words/vww_model.py mobilenet_v1."""
    inputs = keras.Input(shape=shape, batch_size=1, name="input_1")
    x = _conv_bn_relu(keras, inputs, 8, 3, strides=2)
    # (depthwise stride, pointwise filters) of the 13 depthwise separable blocks
    blocks = [(1, 16), (2, 32), (1, 32), (2, 64), (1, 64), (2, 128)]
    blocks += [(1, 128)] * 5 + [(2, 256), (1, 256)]
    for strides, filters in blocks:
        x = _dw_bn_relu(keras, x, strides)
        x = _conv_bn_relu(keras, x, filters, 1)
    return keras.Model(inputs, _classifier(keras, x, 2), name="vww")


def _build_resnet(keras: Any, shape: tuple[int, ...]) -> Any:
    """ResNet-8: image_classification/keras_model.py resnet_v1_eembc."""
    layers = keras.layers
    inputs = keras.Input(shape=shape, batch_size=1, name="input_1")
    x = _conv_bn_relu(keras, inputs, 16, 3)
    for filters, strides in ((16, 1), (32, 2), (64, 2)):
        y = _conv_bn_relu(keras, x, filters, 3, strides)
        y = layers.Conv2D(filters, 3, padding="same")(y)
        y = layers.BatchNormalization()(y)
        if strides != 1:  # projection shortcut, without batch norm as in the reference
            x = layers.Conv2D(filters, 1, strides=strides, padding="same")(x)
        x = layers.Activation("relu")(layers.Add()([x, y]))
    return keras.Model(inputs, _classifier(keras, x, 10), name="resnet")


def _build_toycar(keras: Any, shape: tuple[int, ...]) -> Any:
    """FC autoencoder: anomaly_detection/keras_model.py get_model."""
    layers = keras.layers
    inputs = keras.Input(shape=shape, batch_size=1, name="input_1")
    x = inputs
    for units in (128, 128, 128, 128, 8, 128, 128, 128, 128):
        x = layers.Dense(units)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
    outputs = layers.Dense(shape[0], name="reconstruction")(x)
    return keras.Model(inputs, outputs, name="toycar")


def _inverted_residual(keras: Any, x: Any, expand: int, filters: int, strides: int) -> Any:
    """MobileNetV2's block: 1x1 expansion, 3x3 depthwise, 1x1 linear projection (+ input)."""
    layers = keras.layers
    y = x
    if expand != 1:
        y = layers.Conv2D(x.shape[-1] * expand, 1, use_bias=False)(y)
        y = layers.Activation("relu6")(layers.BatchNormalization()(y))
    y = layers.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False)(y)
    y = layers.Activation("relu6")(layers.BatchNormalization()(y))
    y = layers.BatchNormalization()(layers.Conv2D(filters, 1, use_bias=False)(y))
    if strides == 1 and x.shape[-1] == filters:
        y = layers.Add()([x, y])
    return y


def _build_mbv2(keras: Any, shape: tuple[int, ...]) -> Any:
    layers = keras.layers
    inputs = keras.Input(shape=shape, batch_size=1, name="input_1")
    x = layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False)(inputs)
    x = layers.Activation("relu6")(layers.BatchNormalization()(x))
    for expand, filters, strides in ((1, 8, 1), (6, 12, 2), (6, 12, 1), (6, 16, 2)):
        x = _inverted_residual(keras, x, expand, filters, strides)
    x = layers.Conv2D(32, 1, use_bias=False)(x)
    x = layers.Activation("relu6")(layers.BatchNormalization()(x))
    return keras.Model(inputs, _classifier(keras, x, 10), name="mbv2")


def _build_lstm(keras: Any, shape: tuple[int, ...]) -> Any:
    """One LSTM layer unrolled over the frames, written out: Keras's LSTM(unroll=True) keeps
    its four gates in one matrix, and TFLite's converter left the SPLIT after it in float in
    some processes and not in others (2 of 5 builds); with a matrix per gate every build gave
    the same bytes (6 of 6)."""
    import tensorflow as tf

    units = 24

    class UnrolledLSTM(keras.layers.Layer):
        def build(self, input_shape: Any) -> None:
            rows = input_shape[-1] + units  # [x_t, h_{t-1}]
            self.kernels = [self.add_weight(shape=(rows, units), name="kernel") for _ in "ifgo"]
            self.biases = [self.add_weight(shape=(units,), name="bias") for _ in "ifgo"]

        def call(self, x: Any) -> Any:
            h = tf.zeros_like(x[:, 0, :1]) * tf.zeros((1, units))  # batch x units zeros
            c = h
            for frame in tf.unstack(x, axis=1):
                xh = tf.concat([frame, h], axis=1)
                i, f, g, o = (tf.matmul(xh, k) + b for k, b in zip(self.kernels, self.biases))
                c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
                h = tf.sigmoid(o) * tf.tanh(c)
            return h

    inputs = keras.Input(shape=shape, batch_size=1, name="input_1")
    outputs = keras.layers.Dense(12, activation="softmax", name="classifier")(
        UnrolledLSTM()(inputs)
    )
    return keras.Model(inputs, outputs, name="lstm")


def _build_textcls(keras: Any, shape: tuple[int, ...]) -> Any:
    import tensorflow as tf

    class Lookup(keras.layers.Layer):
        """An embedding as a plain table lookup (tf.gather -> one GATHER): Keras's Embedding
        adds a negative-index fix-up (LESS, SELECT, int32 ADD) to the graph."""

        def build(self, input_shape: Any) -> None:
            self.embeddings = self.add_weight(
                shape=(_SPECS["textcls"].tokens, 16), name="embeddings"
            )

        def call(self, ids: Any) -> Any:
            return tf.gather(self.embeddings, ids)

    layers = keras.layers
    inputs = keras.Input(shape=shape, batch_size=1, name="input_1", dtype="int32")
    x = layers.GlobalAveragePooling1D()(Lookup()(inputs))
    x = layers.Dense(16, activation="relu")(x)
    outputs = layers.Dense(4, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, outputs, name="textcls")


_BUILDERS: dict[str, Callable[[Any, tuple[int, ...]], Any]] = {
    "aww": _build_aww,
    "vww": _build_vww,
    "resnet": _build_resnet,
    "toycar": _build_toycar,
    "mbv2": _build_mbv2,
    "lstm": _build_lstm,
    "textcls": _build_textcls,
}


# --------------------------------------------------------------------------- weights


def _calibration_data(rng: Any, shape: tuple[int, ...], value_range: tuple[float, float], n: int):
    """Synthetic inputs with per-sample structure (unlike i.i.d. noise, whose pooled features
    are all alike) that reach both ends of ``value_range``."""
    # Coarse noise blown up 8x per spatial axis (channels keep their own) plus fine noise.
    coarse_shape = [max(1, -(-d // 8)) for d in shape]
    if len(shape) == 3:
        coarse_shape[-1] = shape[-1]
    z = rng.standard_normal((n, *coarse_shape))
    for axis, d in enumerate(shape):
        if coarse_shape[axis] != d:
            z = np.repeat(z, 8, axis=axis + 1).take(range(d), axis=axis + 1)
    z = z + 0.5 * rng.standard_normal((n, *shape))
    extra = (1,) * len(shape)
    z = rng.normal(0.0, 0.5, (n, *extra)) + rng.uniform(0.5, 1.5, (n, *extra)) * z
    lo, hi = value_range
    x = (lo + hi) / 2 + (hi - lo) / 2 * z / 2.0
    return np.clip(x, lo, hi).astype(np.float32)


def _init_weights(keras: Any, model: Any, rng: Any, calib: Any) -> None:
    """Seeded weights with sane statistics, so that no quantization range collapses."""
    layers = keras.layers
    batch_norms = []
    for layer in model.layers:
        values = []
        for var in layer.weights:
            shape = tuple(var.shape)
            kind = var.name.split("/")[-1].split(":")[0]
            if kind == "kernel" and isinstance(layer, layers.DepthwiseConv2D):
                fan_in = shape[0] * shape[1]
                values.append(rng.normal(0.0, np.sqrt(2.0 / fan_in), shape))
            elif kind == "kernel":  # He normal, as the reference models' initializer
                fan_in = int(np.prod(shape[:-1]))
                values.append(rng.normal(0.0, np.sqrt(2.0 / fan_in), shape))
            elif kind == "recurrent_kernel":  # keeps the state from exploding or dying
                values.append(rng.normal(0.0, 1.0 / np.sqrt(shape[0]), shape))
            elif kind == "embeddings":
                values.append(rng.normal(0.0, 1.0, shape))
            elif kind == "bias":
                values.append(rng.normal(0.0, 0.05, shape))
            elif kind == "gamma":
                values.append(rng.uniform(0.5, 1.5, shape))
            elif kind == "beta":  # slightly positive: most units stay alive after ReLU
                values.append(rng.normal(0.2, 0.2, shape))
            elif kind == "moving_mean":
                values.append(np.zeros(shape))
            elif kind == "moving_variance":
                values.append(np.ones(shape))
            else:
                raise AssertionError(f"unexpected weight {var.name} in layer {layer.name}")
        if values:
            layer.set_weights([v.astype(np.float32) for v in values])
        if isinstance(layer, layers.BatchNormalization):
            batch_norms.append(layer)

    # One pass in training mode with momentum 0 sets every moving mean and variance to the
    # statistics of its input on the calibration data, each layer seeing already normalised
    # inputs: the moving statistics a trained model would have on such data.
    for bn in batch_norms:
        bn.momentum = 0.0
    model(calib, training=True)

    head = next((layer for layer in model.layers if layer.name == "classifier"), None)
    if head is not None:
        # Standardise the pooled features inside the classifier (like a batch norm folded into
        # it) so the logits spread over the data and the softmax outputs vary with the input.
        features = np.asarray(keras.Model(model.input, head.input)(calib, training=False))
        mean = features.mean(axis=0)
        std = features.std(axis=0)
        std = np.maximum(std, 0.05 * np.median(std) + 1e-6)
        w0 = rng.normal(0.0, 1.0 / np.sqrt(features.shape[1]), head.kernel.shape) * _LOGIT_STD
        kernel = w0 / std[:, None]
        bias = -(mean / std) @ w0
        head.set_weights([kernel.astype(np.float32), bias.astype(np.float32)])


# --------------------------------------------------------------------------- conversion


def _convert(tf: Any, model: Any, calib: Any, int8_input: bool = True) -> bytes:
    """Full-int8 conversion (int8 input, unless token ids, and output), calibrated on
    ``calib``."""

    def representative_dataset():
        for i in range(calib.shape[0]):
            yield [calib[i : i + 1]]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if int8_input:
        converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    # Per-tensor weights for FULLY_CONNECTED as the reference models (and older kernels) have;
    # per-channel would add a scale and an int64 zero point per output unit.
    converter._experimental_disable_per_channel_quantization_for_dense_layers = True
    # The SavedModel export prints all its variable captures: noise, and stdout is for the path.
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
        return bytes(converter.convert())


def _convert_float(tf: Any, model: Any) -> bytes:
    """The float32 model: the converter's plain output (no quantization)."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    with contextlib.redirect_stdout(io.StringIO()):
        return bytes(converter.convert())


def _rename_io_tensors(data: bytes) -> bytes:
    """Name the input and output tensors ``input_1`` and ``Identity`` like the reference models.

    The converter names them after the SavedModel signature (``serving_default_input_1:0``,
    ``StatefulPartitionedCall_1:0``). The shorter name is written over the old string in place
    (length prefix, bytes, NUL, zero padding) so no offset moves: re-serialising the flatbuffer
    with the object API would drop the 16-byte alignment of the weight buffers.
    """
    import tflite

    buf = bytearray(data)
    sg = tflite.Model.GetRootAsModel(buf, 0).Subgraphs(0)
    wanted = [(int(i), "input_1") for i in sg.InputsAsNumpy()]
    wanted += [(int(i), "Identity") for i in sg.OutputsAsNumpy()]
    if len(wanted) != 2:
        return data  # only single input, single output models are built here
    before = [sg.Tensors(i).Name() for i in range(sg.TensorsLength())]
    for index, new_name in wanted:
        tab = sg.Tensors(index)._tab
        field = tab.Offset(10)  # vtable slot of Tensor.name
        new = new_name.encode()
        if field == 0:
            return data
        pos = tab.Pos + field
        start = pos + struct.unpack_from("<I", buf, pos)[0]  # string: uint32 length, bytes, NUL
        old_len = struct.unpack_from("<I", buf, start)[0]
        if len(new) > old_len:
            return data  # keep the converter's names rather than move anything
        struct.pack_into("<I", buf, start, len(new))
        buf[start + 4 : start + 5 + old_len] = new.ljust(old_len + 1, b"\0")
    # Strings could be shared between tensors: check that only the two names changed.
    sg = tflite.Model.GetRootAsModel(buf, 0).Subgraphs(0)
    after = [sg.Tensors(i).Name() for i in range(sg.TensorsLength())]
    expected = list(before)
    for index, new_name in wanted:
        expected[index] = new_name.encode()
    if after != expected:
        return data
    return bytes(buf)


# --------------------------------------------------------------------------- definition.yml


def _write_definition(path: Path, name: str, spec: _Spec, data: bytes, tf_version: str) -> None:
    meta = read_metadata(data, origin=f"zoo model {name}")

    base = name.removesuffix(FLOAT_SUFFIX)

    def node(info: Any, description: str, quant_key: str) -> dict[str, Any]:
        if info.dtype == "float32":  # a float32 model: no quantization to describe
            return {
                "description": description,
                "name": info.name,
                "shape": list(info.shape),
                "dtype": info.dtype,
            }
        if info.scale is None:  # token ids: the sample files hold them as they are
            return {
                "description": description,
                "name": info.name,
                "shape": list(info.shape),
                "dtype": info.dtype,
                "range": [0, spec.tokens - 1],
                quant_key: {"scale": 1.0, "zero_shift": 0, "dtype": "float32"},
            }
        scale, zero = float(info.scale), int(info.zero_point)
        return {
            "description": description,
            "name": info.name,
            "shape": list(info.shape),
            "dtype": info.dtype,
            "range": [-128, 127],
            quant_key: {
                "scale": scale,
                "zero_shift": zero,
                "dtype": "float32",
                "range": [(-128 - zero) * scale, (127 - zero) * scale],
            },
        }

    (inp,) = meta.inputs
    (out,) = meta.outputs
    definition = {
        "description": spec.description + (" float32: not quantized." if base != name else ""),
        "network": {
            "file_size_bytes": len(data),
            "filename": f"{name}.tflite",
            "framework": "TensorFlow Lite",
            "hash": {"algorithm": "sha256", "value": hashlib.sha256(data).hexdigest()},
            "provenance": spec.provenance,
        },
        "network_parameters": {
            "input_nodes": [node(inp, spec.input_description, "quantize")],
            "output_nodes": [node(out, spec.output_description, "dequantize")],
        },
        "operators": {"TensorFlow Lite": list(dict.fromkeys(meta.ops))},
        "zoo": {
            "version": ZOO_VERSION,
            "seed": _SEED + ZOO_MODELS.index(base),
            "tensorflow": tf_version,
            "macs": meta.macs,
            "weights": "seeded random (untrained)",
        },
    }
    path.write_text(yaml.safe_dump(definition, sort_keys=False, width=100))


def _unknown(name: str) -> str:
    return f"unknown zoo model {name!r}; known zoo models: {', '.join(ZOO_NAMES)}"


def main(argv: list[str] | None = None) -> int:
    """``python -m pytest_mlonmcu.models.zoo NAME OUT_DIR``: build one model, print its path."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(
            f"usage: python -m pytest_mlonmcu.models.zoo {{{','.join(ZOO_NAMES)}}} OUT_DIR",
            file=sys.stderr,
        )
        return 2
    if args[0] not in ZOO_NAMES:  # checked here so that other errors keep their traceback
        print(_unknown(args[0]), file=sys.stderr)
        return 2
    print(build_zoo_model(args[0], Path(args[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
