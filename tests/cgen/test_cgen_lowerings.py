"""cgen's operator lowerings: one registration per operator, traits declared with it."""

from __future__ import annotations

import pytest

from pytest_mlonmcu.backends.cgen.lowering import ALIAS_OPS, ELEMENTWISE_OPS
from pytest_mlonmcu.backends.cgen.ops.context import LOWERINGS, lowers


def test_every_supported_operator_is_registered():
    assert set(LOWERINGS) == {
        *("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D"),
        *("SOFTMAX", "ADD", "MUL", "QUANTIZE", "DEQUANTIZE", "LOGISTIC", "TANH", "MEAN"),
        *("PAD", "PADV2", "CONCATENATION", "RESHAPE", "SQUEEZE", "EXPAND_DIMS"),
        *("SUB", "MAXIMUM", "MINIMUM", "LEAKY_RELU", "TRANSPOSE", "SLICE", "STRIDED_SLICE"),
        *("SPLIT", "SPLIT_V", "RESIZE_NEAREST_NEIGHBOR", "UNPACK", "GATHER"),
        *("SUM", "REDUCE_MAX", "REDUCE_MIN", "PRELU", "HARD_SWISH", "SQUARED_DIFFERENCE"),
        "RSQRT",
    }


def test_traits_come_from_the_registrations():
    assert ALIAS_OPS == {"RESHAPE", "SQUEEZE", "EXPAND_DIMS"}
    assert ELEMENTWISE_OPS == {
        *("ADD", "SUB", "MUL", "MAXIMUM", "MINIMUM", "QUANTIZE", "LOGISTIC", "TANH", "LEAKY_RELU"),
        *("PRELU", "HARD_SWISH", "SQUARED_DIFFERENCE", "RSQRT"),
    }


def test_an_operator_lowered_twice_is_refused():
    before = dict(LOWERINGS)
    with pytest.raises(ValueError, match="CONV_2D has two lowerings"):
        lowers("CONV_2D")(lambda ctx, op: None)
    assert before == LOWERINGS
