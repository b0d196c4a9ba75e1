"""The TFLite arithmetic and the arena planner of the TVM backends (no TVM needed)."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import numpy as np
import pytest

from pytest_mlonmcu.backends.tvm import planner, quant


@pytest.mark.parametrize(
    ("real", "expected"),
    [
        (0.0, (0, 0)),
        (0.5, (1 << 30, 0)),
        (1.0, (1 << 30, 1)),
        (0.25, (1 << 30, -1)),
        # frexp(0.75) = 0.75 * 2^0 -> round(0.75 * 2^31)
        (0.75, (1610612736, 0)),
        # a value whose Q31 mantissa rounds up to 2^31: renormalised to 2^30, shift + 1
        (0.49999999999999994, (1 << 30, 0)),
    ],
)
def test_quantize_multiplier_known_values(real: float, expected: tuple[int, int]) -> None:
    assert quant.quantize_multiplier(real) == expected


def test_quantize_multiplier_rounds_half_away_from_zero() -> None:
    # q * 2^31 = 1610612736.5 exactly: std::round goes up, Python's round() would go to even.
    real = (1610612736.5) / 2**31
    mult, shift = quant.quantize_multiplier(real)
    assert (mult, shift) == (1610612737, 0)


def _reference_mbqm(x: int, mult: int, shift: int) -> int:
    """TFLite's MultiplyByQuantizedMultiplier written out with Python integers."""
    left, right = max(shift, 0), max(-shift, 0)
    x = ((x << left) + 2**31) % 2**32 - 2**31
    ab = x * mult
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    high = int(Fraction(ab + nudge, 1 << 31))  # int() truncates towards zero like C
    mask = (1 << right) - 1
    remainder = high & mask
    threshold = (mask >> 1) + (1 if high < 0 else 0)
    return (high >> right) + (1 if remainder > threshold else 0)


def test_multiply_by_quantized_multiplier_matches_the_reference() -> None:
    rng = random.Random(0)
    xs, ms, ss, expected = [], [], [], []
    for _ in range(2000):
        x = rng.randint(-(2**24), 2**24)
        m, s = quant.quantize_multiplier(rng.uniform(1e-5, 2.0))
        xs.append(x)
        ms.append(m)
        ss.append(s)
        expected.append(_reference_mbqm(x, m, s))
    got = quant.multiply_by_quantized_multiplier(np.array(xs), np.array(ms), np.array(ss))
    assert got.tolist() == expected


def test_conv_and_fc_scales_follow_tflm() -> None:
    # conv: double(in) * double(w) / double(out); FC: float(in * w) first.
    m_conv, _ = quant.conv_multipliers(0.1, np.array([0.3], np.float32), 0.7)
    m_fc, _ = quant.fc_multiplier(0.1, 0.3, 0.7)
    in_s, w_s, out_s = (float(np.float32(v)) for v in (0.1, 0.3, 0.7))
    assert int(m_conv[0]) == quant.quantize_multiplier(in_s * w_s / out_s)[0]
    assert m_fc == quant.quantize_multiplier(float(np.float32(in_s) * np.float32(w_s)) / out_s)[0]


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


@pytest.mark.parametrize("seed", range(20))
def test_plans_never_overlap_live_buffers(seed: int) -> None:
    rng = random.Random(seed)
    ivs = []
    for key in range(rng.randint(1, 25)):
        first = rng.randint(-1, 20)
        ivs.append(planner.Interval(key, rng.randint(1, 5000), first, first + rng.randint(0, 6)))
    offsets, size = planner.best_plan(ivs)
    assert size >= planner.lower_bound(ivs)
    for iv in ivs:
        assert offsets[iv.key] % planner.ALIGN == 0
        assert offsets[iv.key] + iv.size <= size
    for a in ivs:
        for b in ivs:
            if a.key < b.key and a.first <= b.last and b.first <= a.last:
                ra = (offsets[a.key], offsets[a.key] + a.size)
                rb = (offsets[b.key], offsets[b.key] + b.size)
                assert not _overlaps(ra, rb), (a, b, ra, rb)


def test_plan_reuses_memory_of_dead_buffers() -> None:
    # A chain a -> b -> c -> d: two buffers are live at a time.
    ivs = [planner.Interval(k, 1000, k - 1, k) for k in range(4)]
    _, size = planner.best_plan(ivs)
    assert planner.lower_bound(ivs) == 2000
    assert size == 2 * planner.align(1000)  # 16-byte alignment on top of the bound
    assert math.isclose(size / sum(i.size for i in ivs), 0.5, rel_tol=0.05)
