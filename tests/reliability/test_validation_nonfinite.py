"""Validation holes (issue 13): NaN/Inf outputs and validations that compared nothing."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from pytest_mlonmcu.core.errors import UsageError, ValidationError
from pytest_mlonmcu.validation import ValidationMode, validate

NAN, INF = math.nan, math.inf
MODES = ["exact", "atol=3", "topk=1"]


def f32(*values: float) -> np.ndarray:
    return np.array([values], dtype=np.float32)


def raw(arr: np.ndarray) -> bytes:
    return np.ascontiguousarray(arr).tobytes()


def check(ref: np.ndarray, got: np.ndarray, mode: str):
    return validate([[ref]], [[raw(got)]], ValidationMode.parse(mode))


@pytest.mark.parametrize("mode", MODES)
def test_nan_output_fails_in_every_mode(mode):
    """``diff > 0`` is false for NaN: a NaN output used to pass with max_abs_diff 0."""
    result = check(f32(0.5, 0.2, 0.1), f32(NAN, 0.2, 0.1), mode)
    assert not result.passed
    assert result.max_abs_diff == INF and result.nonfinite == 1
    metrics = result.metrics()
    assert metrics["validation_max_abs_diff"] == "inf" and metrics["validation_nonfinite"] == 1
    json.dumps(metrics, allow_nan=False)  # JSON-valid: no bare NaN/Infinity
    with pytest.raises(ValidationError, match="max abs diff inf"):
        result.raise_if_failed()


def test_nan_details_name_the_place():
    exact = check(f32(0.5, 0.2), f32(NAN, 0.2), "exact").message()
    assert "sample 0, output 0: 1 of 2 values differ: [0] expected 0.5 got nan" in exact
    topk = check(f32(0.5, 0.2, 0.1), f32(0.5, 0.2, NAN), "topk=1").message()
    assert "sample 0, output 0: 1 non-finite value differs: NaN at [2] (expected 0.1)" in topk


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("ref", "got"),
    [
        (f32(0.5, INF), f32(0.5, 1e30)),  # the reference is infinite, the output is not
        (f32(0.5, 0.2), f32(0.5, -INF)),
        (f32(INF, 0.2), f32(-INF, 0.2)),  # opposite infinities
        (f32(NAN, 0.2), f32(0.3, 0.2)),  # the reference has NaN, the output a number
    ],
)
def test_infinities_and_nans_at_other_places_fail(mode, ref, got):
    result = check(ref, got, mode)
    assert not result.passed and result.max_abs_diff == INF and result.nonfinite == 1


@pytest.mark.parametrize("mode", MODES)
def test_the_same_nan_and_inf_as_the_reference_pass(mode):
    ref = f32(NAN, INF, -INF, 0.5)
    result = check(ref, ref.copy(), mode)
    assert result.passed, result.message()
    assert result.max_abs_diff == 0 and result.nonfinite == 0
    assert "validation_nonfinite" not in result.metrics()


def test_finite_differences_next_to_nans_are_still_measured():
    result = check(f32(NAN, 1.0), f32(NAN, 1.5), "atol=1")
    assert result.passed and result.max_abs_diff == 0.5


def test_integer_outputs_are_unaffected():
    ref = np.array([[1, 2]], dtype=np.int8)
    assert check(ref, ref.copy(), "exact").metrics()["validation_max_abs_diff"] == 0


@pytest.mark.parametrize(
    ("reference", "outputs"),
    [
        ([], []),  # zero samples
        ([[], []], [[], []]),  # a model without outputs
    ],
)
@pytest.mark.parametrize("mode", MODES)
def test_nothing_compared_is_a_failure(reference, outputs, mode):
    result = validate(reference, outputs, ValidationMode.parse(mode))
    assert not result.passed and result.compared == 0
    assert result.message().startswith(f"validation ({mode}) failed: nothing was compared")
    assert result.metrics()["validation_passed"] is False


def test_no_output_came_back_says_so_and_what_was_expected():
    result = validate([[f32(1.0)]], [], ValidationMode.parse("exact"))
    assert not result.passed
    lines = result.message().splitlines()
    assert lines[0].startswith("validation (exact) failed: nothing was compared")
    assert lines[1] == "  sample -1, output -1: 0 samples came back, 1 expected"


@pytest.mark.parametrize("text", ["atol=-1", "topk=0", "topk=-3"])
def test_mode_values_are_range_checked(text):
    with pytest.raises(UsageError, match=rf"validation mode '{text}': .* must be at least"):
        ValidationMode.parse(text)
