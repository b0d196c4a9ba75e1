"""Sliding-window geometry shared by convolutions and pooling, as TFLite computes it."""

from __future__ import annotations

from ....core.errors import BuildError

PADDING_SAME, PADDING_VALID = 0, 1


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
