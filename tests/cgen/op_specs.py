"""Single-operator (and a few tiny multi-operator) test models for the cgen backend.

Plain data, no TensorFlow import: build_op_models.py turns each spec into an
int8 .tflite (seeded random weights, seeded representative dataset).
"""

from __future__ import annotations


def _conv(
    name,
    shape,
    filters,
    kernel,
    strides=(1, 1),
    padding="SAME",
    dilation=(1, 1),
    act="none",
    bias=True,
):
    return dict(
        name=name,
        kind="conv2d",
        shape=shape,
        filters=filters,
        kernel=kernel,
        strides=strides,
        padding=padding,
        dilation=dilation,
        act=act,
        bias=bias,
    )


def _dw(
    name, shape, kernel, strides=(1, 1), padding="SAME", dilation=(1, 1), act="none", multiplier=1
):
    return dict(
        name=name,
        kind="depthwise",
        shape=shape,
        kernel=kernel,
        strides=strides,
        padding=padding,
        dilation=dilation,
        act=act,
        multiplier=multiplier,
    )


OP_SPECS: list[dict] = [
    # CONV_2D: paddings, strides, dilations, activations, channel remainders, borders
    _conv("conv_3x3_s1_same_relu", [1, 8, 8, 3], 8, (3, 3), act="relu"),
    _conv("conv_3x3_s2_same_relu6", [1, 9, 9, 4], 12, (3, 3), (2, 2), act="relu6"),
    _conv("conv_1x1_valid", [1, 6, 6, 16], 20, (1, 1), padding="VALID"),
    _conv("conv_1x1_s2", [1, 8, 8, 8], 16, (1, 1), (2, 2)),
    _conv("conv_5x3_s1x2_valid", [1, 10, 7, 5], 7, (5, 3), (1, 2), padding="VALID"),
    _conv("conv_3x3_dil2_same_relu", [1, 11, 11, 3], 9, (3, 3), dilation=(2, 2), act="relu"),
    _conv("conv_3x2_dil2x3_valid", [1, 10, 12, 2], 5, (3, 2), padding="VALID", dilation=(2, 3)),
    _conv("conv_10x4_s2_same_relu", [1, 49, 10, 1], 16, (10, 4), (2, 2), act="relu"),
    _conv("conv_3x3_nobias", [1, 7, 7, 4], 8, (3, 3), bias=False),
    _conv("conv_4x4_s2_same", [1, 8, 8, 3], 4, (4, 4), (2, 2)),
    _conv("conv_5x5_same_small", [1, 5, 5, 3], 6, (5, 5)),
    _conv("conv_3x3_tall", [1, 16, 3, 4], 13, (3, 3), act="relu"),
    _conv("conv_1x1_single_pixel", [1, 1, 1, 8], 3, (1, 1)),
    _conv("conv_3x3_batch2", [2, 5, 5, 3], 4, (3, 3)),
    _conv("conv_3x3_s1_valid_wide", [1, 4, 19, 6], 17, (3, 3), padding="VALID", act="relu6"),
    # DEPTHWISE_CONV_2D
    _dw("dw_3x3_s1_same_relu", [1, 8, 8, 8], (3, 3), act="relu"),
    _dw("dw_3x3_s2_same_relu6", [1, 9, 9, 12], (3, 3), (2, 2), act="relu6"),
    _dw("dw_3x3_s2_same_even", [1, 10, 10, 4], (3, 3), (2, 2)),
    _dw("dw_3x3_valid", [1, 7, 6, 4], (3, 3), padding="VALID"),
    _dw("dw_5x5_same", [1, 9, 9, 6], (5, 5)),
    _dw("dw_3x3_dm2", [1, 6, 6, 3], (3, 3), multiplier=2),
    _dw("dw_3x3_dm3_s2_valid", [1, 7, 7, 2], (3, 3), (2, 2), padding="VALID", multiplier=3),
    _dw("dw_3x3_dil2", [1, 10, 10, 4], (3, 3), dilation=(2, 2)),
    _dw("dw_3x3_small_input", [1, 2, 2, 5], (3, 3)),
    _dw("dw_3x5_s1x2", [1, 7, 11, 7], (3, 5), (1, 2)),
    _dw("dw_3x3_tiny_output", [1, 3, 3, 16], (3, 3)),
    _dw("dw_3x3_wide_c3", [1, 4, 20, 3], (3, 3), act="relu"),
    _dw("dw_3x3_batch2", [2, 6, 5, 4], (3, 3)),
    # FULLY_CONNECTED
    dict(name="fc_64_10_relu", kind="fc", shape=[1, 64], units=10, act="relu"),
    dict(name="fc_batch3", kind="fc", shape=[3, 20], units=7),
    dict(name="fc_per_channel", kind="fc", shape=[1, 32], units=12, per_channel=True),
    dict(name="fc_no_bias", kind="fc", shape=[2, 16], units=9, bias=False),
    dict(name="fc_from_4d", kind="fc", shape=[1, 2, 2, 4], units=5, flatten=True),
    # int16 activations, int8 weights (TFLM's 16x8 kernel; the converter gives int64 biases)
    dict(name="fc_int16", kind="fc", shape=[1, 48], units=10, quant="16x8"),
    dict(name="fc_int16_relu_batch2", kind="fc", shape=[2, 24], units=7, act="relu", quant="16x8"),
    dict(
        name="fc_int16_per_channel",
        kind="fc",
        shape=[1, 32],
        units=6,
        per_channel=True,
        quant="16x8",
    ),
    dict(name="fc_int16_no_bias", kind="fc", shape=[1, 20], units=5, bias=False, quant="16x8"),
    # Pooling
    dict(
        name="avgpool_2x2_s2",
        kind="avgpool",
        shape=[1, 8, 8, 4],
        pool=(2, 2),
        strides=(2, 2),
        padding="VALID",
    ),
    dict(
        name="avgpool_3x3_s1_same",
        kind="avgpool",
        shape=[1, 7, 7, 3],
        pool=(3, 3),
        strides=(1, 1),
        padding="SAME",
    ),
    dict(
        name="avgpool_global",
        kind="avgpool",
        shape=[1, 5, 5, 8],
        pool=(5, 5),
        strides=(1, 1),
        padding="VALID",
    ),
    dict(
        name="maxpool_2x2_s2",
        kind="maxpool",
        shape=[1, 8, 8, 4],
        pool=(2, 2),
        strides=(2, 2),
        padding="VALID",
    ),
    dict(
        name="maxpool_3x3_s2_same",
        kind="maxpool",
        shape=[1, 9, 9, 5],
        pool=(3, 3),
        strides=(2, 2),
        padding="SAME",
    ),
    # SOFTMAX
    dict(name="softmax_10", kind="softmax", shape=[1, 10]),
    dict(name="softmax_4d", kind="softmax", shape=[1, 3, 3, 6]),
    dict(name="softmax_wide_range", kind="softmax", shape=[1, 40], scale=20.0),
    # ADD / MUL
    dict(
        name="add_two_inputs_relu", kind="add", shape=[1, 6, 6, 4], shape2=[1, 6, 6, 4], act="relu"
    ),
    dict(name="add_const_vector", kind="add", shape=[1, 6, 6, 4], const=[4]),
    dict(name="add_broadcast_inputs", kind="add", shape=[1, 5, 1, 3], shape2=[1, 1, 4, 3]),
    dict(name="mul_two_inputs", kind="mul", shape=[1, 4, 4, 8], shape2=[1, 4, 4, 8]),
    dict(name="mul_const_vector", kind="mul", shape=[1, 3, 3, 8], const=[8]),
    dict(name="mul_broadcast_rows", kind="mul", shape=[1, 4, 6], shape2=[1, 4, 1]),
    # LOGISTIC / TANH
    dict(name="logistic", kind="logistic", shape=[1, 64], scale=4.0),
    dict(name="tanh", kind="tanh", shape=[1, 4, 4, 8], scale=3.0),
    # MEAN
    dict(name="mean_hw_keepdims", kind="mean", shape=[1, 6, 6, 8], axis=[1, 2], keepdims=True),
    dict(name="mean_hw", kind="mean", shape=[1, 5, 7, 4], axis=[1, 2], keepdims=False),
    dict(name="mean_last_axis", kind="mean", shape=[1, 4, 4, 6], axis=[3], keepdims=True),
    # PAD / PADV2
    dict(name="pad_hw", kind="pad", shape=[1, 5, 5, 3], paddings=[[0, 0], [1, 2], [2, 1], [0, 0]]),
    dict(
        name="pad_channels",
        kind="pad",
        shape=[1, 3, 3, 4],
        paddings=[[0, 0], [0, 0], [0, 0], [1, 3]],
    ),
    dict(
        name="padv2_value",
        kind="pad",
        shape=[1, 4, 4, 2],
        paddings=[[0, 0], [1, 1], [1, 1], [0, 0]],
        value=0.5,
    ),
    # CONCATENATION
    dict(name="concat_channels", kind="concat", shape=[1, 4, 4, 3], shape2=[1, 4, 4, 5], axis=3),
    dict(name="concat_rows", kind="concat", shape=[1, 2, 6], shape2=[1, 3, 6], axis=1),
    # QUANTIZE / DEQUANTIZE at float model boundaries, requantization inside
    dict(name="float_io_conv", kind="float_io", shape=[1, 6, 6, 3]),
    dict(name="requantize_concat", kind="requant", shape=[1, 4, 4, 3]),
    # Data movement (cgen_gather): TRANSPOSE, SLICE, STRIDED_SLICE, SPLIT(_V), RESIZE_NN
    dict(name="transpose_hw", kind="transpose", shape=[1, 4, 6, 3], perm=[0, 2, 1, 3]),
    dict(name="transpose_3d", kind="transpose", shape=[2, 3, 5], perm=[2, 0, 1]),
    dict(name="transpose_channels_first", kind="transpose", shape=[1, 5, 4, 6], perm=[0, 3, 1, 2]),
    dict(name="slice_hw", kind="slice", shape=[1, 6, 7, 4], begin=[0, 1, 2, 0], size=[1, 3, -1, 4]),
    dict(name="strided_slice", kind="strided_slice", shape=[1, 6, 6, 4]),
    dict(name="strided_slice_steps", kind="strided_slice_steps", shape=[1, 9, 8, 5]),
    dict(name="strided_slice_reverse", kind="strided_slice_reverse", shape=[1, 5, 6, 3]),
    dict(name="strided_slice_shrink", kind="strided_slice_shrink", shape=[1, 5, 6, 3]),
    dict(name="split_channels", kind="split", shape=[1, 4, 4, 6], splits=3, axis=3),
    dict(name="split_rows", kind="split", shape=[1, 6, 5, 2], splits=2, axis=1),
    dict(name="split_v_channels", kind="split_v", shape=[1, 3, 3, 6], sizes=[1, 2, 3], axis=3),
    dict(name="resize_nearest_2x", kind="resize", shape=[1, 4, 4, 3], size=[8, 8]),
    dict(name="resize_nearest_odd", kind="resize", shape=[1, 5, 3, 2], size=[7, 8]),
    dict(
        name="resize_nearest_align_corners",
        kind="resize_v1",
        shape=[1, 4, 5, 3],
        size=[7, 9],
        align_corners=True,
    ),
    dict(
        name="resize_nearest_v1",
        kind="resize_v1",
        shape=[1, 5, 4, 2],
        size=[8, 6],
        align_corners=False,
    ),
    dict(name="unpack_rows", kind="unpack", shape=[1, 4, 6], axis=1),
    dict(name="unpack_last", kind="unpack", shape=[2, 3, 5], axis=2),
    dict(
        name="gather_const_rows",
        kind="gather_const",
        shape=[1, 6, 5, 3],
        indices=[4, 0, 2, 2],
        axis=1,
    ),
    dict(name="sum_hw", kind="reduce_sum", shape=[1, 4, 5, 6], axis=[1, 2], keepdims=False),
    dict(name="sum_last_keepdims", kind="reduce_sum", shape=[1, 3, 8], axis=[2], keepdims=True),
    dict(name="reduce_max_hw", kind="reduce_max", shape=[1, 5, 4, 3], axis=[1, 2], keepdims=True),
    dict(name="reduce_min_last", kind="reduce_min", shape=[2, 3, 7], axis=[2], keepdims=False),
    # SUB, MAXIMUM, MINIMUM, LEAKY_RELU
    dict(
        name="squared_difference",
        kind="squared_difference",
        shape=[1, 4, 4, 3],
        shape2=[1, 4, 4, 3],
    ),
    dict(
        name="squared_difference_broadcast",
        kind="squared_difference",
        shape=[1, 6, 8],
        shape2=[1, 1, 8],
    ),
    dict(name="sub_two_inputs", kind="sub", shape=[1, 5, 5, 4], shape2=[1, 5, 5, 4]),
    dict(name="sub_broadcast_const", kind="sub", shape=[1, 4, 4, 6], const=[6]),
    dict(name="maximum_two_inputs", kind="maximum", shape=[1, 4, 4, 5], shape2=[1, 4, 4, 5]),
    dict(name="minimum_broadcast", kind="minimum", shape=[1, 3, 6, 4], shape2=[1, 1, 6, 4]),
    dict(name="rsqrt", kind="rsqrt", shape=[1, 4, 4, 8], scale=2.0),
    dict(name="rsqrt_wide", kind="rsqrt", shape=[1, 64], scale=40.0),
    dict(name="hard_swish", kind="hard_swish", shape=[1, 6, 6, 4], scale=3.0),
    dict(name="hard_swish_wide", kind="hard_swish", shape=[1, 96], scale=12.0),
    dict(name="prelu_channels", kind="prelu", shape=[1, 5, 5, 6]),
    dict(name="prelu_flat", kind="prelu", shape=[1, 40], scale=2.0),
    dict(name="leaky_relu", kind="leaky_relu", shape=[1, 6, 6, 4], alpha=0.2),
    dict(name="leaky_relu_small_alpha", kind="leaky_relu", shape=[1, 64], alpha=0.01, scale=3.0),
    # RESHAPE and small graphs
    dict(name="reshape_conv", kind="reshape", shape=[1, 4, 6, 2], new_shape=[1, 6, 4, 2]),
    dict(name="mini_cnn", kind="mini_cnn", shape=[1, 12, 12, 3]),
    dict(name="mini_resnet_block", kind="mini_resnet", shape=[1, 8, 8, 8]),
]

# float32 models: the same operators unquantized (the converter's plain output).
FLOAT_BASES = [
    *("conv_3x3_s1_same_relu", "conv_3x3_s2_same_relu6", "conv_3x3_dil2_same_relu"),
    *("conv_3x3_nobias", "conv_5x3_s1x2_valid", "conv_3x3_batch2"),
    *("dw_3x3_s2_same_relu6", "dw_3x3_dm2", "dw_5x5_same", "dw_3x3_valid"),
    *("fc_64_10_relu", "fc_batch3", "fc_no_bias", "fc_from_4d"),
    *("avgpool_3x3_s1_same", "avgpool_global", "maxpool_2x2_s2", "maxpool_3x3_s2_same"),
    *("softmax_10", "softmax_4d", "logistic", "tanh", "hard_swish", "leaky_relu"),
    *("add_two_inputs_relu", "add_broadcast_inputs", "mul_const_vector", "mul_broadcast_rows"),
    *("sub_two_inputs", "maximum_two_inputs", "minimum_broadcast", "squared_difference"),
    *("prelu_channels", "mean_hw_keepdims", "mean_hw", "mean_last_axis", "sum_hw"),
    *("reduce_max_hw", "reduce_min_last", "pad_hw", "padv2_value", "concat_channels"),
    *("transpose_hw", "strided_slice", "split_channels", "resize_nearest_2x"),
    *("mini_cnn", "mini_resnet_block"),
]
OP_SPECS += [
    {**spec, "name": f"f32_{spec['name']}", "quant": "float"}
    for spec in OP_SPECS
    if spec["name"] in FLOAT_BASES
]

# Models whose generation must fail; "op" is the operator the error must name (None: a
# type error, not an operator error).
UNSUPPORTED_SPECS: list[dict] = [
    dict(name="unsupported_exp", kind="exp", shape=[1, 4, 4, 3], op="EXP"),
    # dynamic-range quantization: int8 weights, float32 activations (a hybrid model)
    dict(name="hybrid_fc", kind="fc", shape=[1, 64], units=32, quant="dynamic", op=None),
]


def spec_by_name(name: str) -> dict:
    for spec in OP_SPECS + UNSUPPORTED_SPECS:
        if spec["name"] == name:
            return spec
    raise KeyError(name)
