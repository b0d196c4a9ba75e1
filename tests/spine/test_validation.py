"""Golden validation: validate() unit tests and failing backends end to end."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from pytest_mlonmcu.core.cache import Cache
from pytest_mlonmcu.core.errors import UsageError, ValidationError
from pytest_mlonmcu.core.samples import SampleSet
from pytest_mlonmcu.models.model import ModelResolver
from pytest_mlonmcu.reference import reference_arena, reference_outputs
from pytest_mlonmcu.validation import ValidationMode, validate

from .conftest import BENCH_TEST, HOST, NO_CALLGRIND, USER_CACHE, use_data

MISMATCH = re.compile(r"\[(\d+)\] expected (-?\d+) got (-?\d+)")


def i8(*values: int) -> np.ndarray:
    return np.array([values], dtype=np.int8)


def raw(arr: np.ndarray) -> bytes:
    return np.ascontiguousarray(arr).tobytes()


# -- validate() ------------------------------------------------------------------------


def test_exact_passes_on_equal_outputs():
    ref = [[i8(1, 2, 3)], [i8(-128, 0, 127)]]
    result = validate(ref, [[raw(a) for a in s] for s in ref], ValidationMode.parse("exact"))
    assert result.passed and result.max_abs_diff == 0 and result.compared == 2
    assert result.metrics() == {
        "validation_passed": True,
        "validation_max_abs_diff": 0,
        "validation_mode": "exact",
        "validation_outputs": 2,
    }
    result.raise_if_failed()  # no error


def test_exact_failure_names_sample_index_expected_got_and_max_diff():
    ref = [[i8(1, 2, 3, 4)], [i8(10, 20, 30, 40), i8(0)]]
    got = [[raw(i8(1, 2, 3, 4))], [raw(i8(10, 25, 30, 37)), raw(i8(0))]]
    result = validate(ref, got, ValidationMode.parse("exact"))
    assert not result.passed and result.max_abs_diff == 5 and result.compared == 3
    message = result.message()
    assert message.splitlines() == [
        "validation (exact) failed: 1 of 3 outputs differ from the reference; max abs diff 5",
        "  sample 1, output 0: 2 of 4 values differ: [1] expected 20 got 25, [3] expected 40 got 37",
    ]
    with pytest.raises(ValidationError) as info:
        result.raise_if_failed()
    assert isinstance(info.value, AssertionError)  # a failed test, not an error
    assert str(info.value) == message


def test_int8_differences_do_not_wrap():
    result = validate([[i8(-128, 127)]], [[raw(i8(127, -128))]], ValidationMode.parse("exact"))
    assert result.max_abs_diff == 255
    assert "[0] expected -128 got 127, [1] expected 127 got -128" in result.message()


@pytest.mark.parametrize(("atol", "flagged"), [(0, [0, 1]), (2, [1]), (3, []), (10, [])])
def test_atol_allows_that_many_quantization_steps(atol, flagged):
    result = validate(
        [[i8(0, 50, -50)]], [[raw(i8(1, 47, -50))]], ValidationMode.parse(f"atol={atol}")
    )
    assert result.passed is (not flagged) and result.max_abs_diff == 3
    shown = [int(i) for i, _, _ in MISMATCH.findall(result.message())] if flagged else []
    assert shown == flagged


def test_topk_compares_the_best_classes_only():
    ref = i8(-100, 90, 10, 80, -5)
    same_order = i8(-128, 60, 0, 55, -128)  # values far off, classes 1 and 3 still on top
    assert validate([[ref]], [[raw(same_order)]], ValidationMode.parse("topk=2")).passed
    swapped = i8(-100, 10, 90, 80, -5)
    result = validate([[ref]], [[raw(swapped)]], ValidationMode.parse("topk=1"))
    assert not result.passed and result.max_abs_diff == 80
    assert "sample 0, output 0: top-1 classes" in result.message()


def test_topk_message_lists_plain_class_numbers():
    result = validate([[i8(0, 9, 1)]], [[raw(i8(0, 1, 9))]], ValidationMode.parse("topk=1"))
    assert "top-1 classes [2], expected [1]" in result.message()


def test_long_differences_are_summarized():
    ref = [[i8(*range(10))] for _ in range(10)]
    got = [[raw(i8(*range(1, 11)))] for _ in range(10)]
    message = validate(ref, got, ValidationMode.parse("exact")).message()
    assert "10 of 10 values differ: [0] expected 0 got 1" in message
    assert "[5] expected 5 got 6 (+4 more)" in message and "[6]" not in message
    assert message.count("  sample ") == 8 and message.endswith("  ... 2 more")


def test_size_and_count_mismatches_are_failures():
    ref = [[i8(1, 2)], [i8(3, 4)]]
    result = validate(ref, [[raw(i8(1, 2, 3))]], ValidationMode.parse("exact"))
    assert not result.passed
    assert "1 samples came back, 2 expected" in result.message()
    assert "sample 0, output 0: 3 bytes, expected 2" in result.message()
    result = validate([[i8(1), i8(2)]], [[raw(i8(1))]], ValidationMode.parse("exact"))
    assert "sample 0, output -1: 1 outputs, 2 expected" in result.message()


def test_exact_notices_float_differences():
    ref = [[np.array([[0.2, 0.5]], dtype=np.float32)]]
    got = [[raw(np.array([[0.9, 0.5]], dtype=np.float32))]]
    assert not validate(ref, got, ValidationMode.parse("exact")).passed


def test_ulp_holds_floats_to_places_of_the_largest_value():
    """ulp=N: N float32 spacings of the output's largest magnitude (0.75: 2^-24 each)."""
    ref = np.array([[0.75, 0.001, -0.25]], dtype=np.float32)
    step = np.float32(2.0**-24)
    close = ref.copy()
    close[0, 1] += 3 * step  # many spacings of 0.001 itself, 3 of the largest value
    far = ref.copy()
    far[0, 0] += 5 * step
    mode = ValidationMode.parse("ulp=4")
    passed = validate([[ref]], [[raw(close)]], mode)
    assert passed.passed and passed.metrics()["validation_max_ulp"] == 3.0
    result = validate([[ref]], [[raw(far)]], mode)
    assert result.metrics()["validation_max_ulp"] == 5.0
    assert not result.passed
    assert "[0] expected 0.75 got 0.7500003" in result.message()
    # an integer output: that many steps
    assert validate([[i8(1, 2)]], [[raw(i8(5, 2))]], ValidationMode.parse("ulp=4")).passed
    assert not validate([[i8(1, 2)]], [[raw(i8(6, 2))]], ValidationMode.parse("ulp=4")).passed


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [("exact", "exact", 0), (" ATOL=2 ", "atol", 2), ("ulp=4", "ulp", 4), ("topk=5", "topk", 5)],
)
def test_mode_parse(text, kind, value):
    mode = ValidationMode.parse(text)
    assert (mode.kind, mode.value) == (kind, value)
    assert str(mode) == ("exact" if kind == "exact" else f"{kind}={value}")


@pytest.mark.parametrize("text", ["", "close", "atol", "atol=x", "topk=1.5"])
def test_mode_parse_rejects_unknown_modes(text):
    with pytest.raises(UsageError, match="use exact, atol=N"):
        ValidationMode.parse(text)


# -- failing backends end to end ---------------------------------------------------------


def _perturbed(pytester) -> None:
    use_data(pytester, "perturbed_tflmi.py", "conftest.py")
    use_data(pytester, "perturb_runner.py")
    pytester.makepyfile(test_m=BENCH_TEST)


def test_perturbed_output_fails_naming_the_value(pytester, run_plugin):
    _perturbed(pytester)
    session = run_plugin(
        "--mlonmcu-model=zoo:toycar", "--mlonmcu-backend=tflmi_perturbed", HOST, NO_CALLGRIND
    )
    session.result.assert_outcomes(failed=1)
    session.result.stdout.fnmatch_lines(
        [
            "E *ValidationError: validation (exact) failed: 1 of 2 outputs differ from the "
            "reference; max abs diff 3",
            "E *sample 1, output 0: 1 of 640 values differ: [[]5] expected * got *",
        ]
    )
    record = session.record("zoo_toycar-tflmi_perturbed-host_x86")
    assert record["outcome"] == "failed"
    assert record["metrics"]["validation_passed"] is False
    assert record["metrics"]["validation_max_abs_diff"] == 3
    (index, expected, got) = MISMATCH.search(record["reason"]).groups()
    assert index == "5" and abs(int(got) - int(expected)) == 3
    assert "sample 0" not in record["reason"]


def test_perturbed_output_passes_within_atol(pytester, run_plugin):
    _perturbed(pytester)
    session = run_plugin(
        "--mlonmcu-model=zoo:toycar",
        "--mlonmcu-backend=tflmi_perturbed",
        HOST,
        NO_CALLGRIND,
        "--mlonmcu-config=validation.mode=atol=3",
    )
    session.result.assert_outcomes(passed=1)
    metrics = session.record("zoo_toycar-tflmi_perturbed-host_x86")["metrics"]
    assert metrics["validation_mode"] == "atol=3"
    assert metrics["validation_max_abs_diff"] == 3 and metrics["validation_passed"] is True


def test_configure_run_hook_sets_the_validation_mode(pytester, run_plugin):
    _perturbed(pytester)
    pytester.makeconftest(
        (pytester.path / "conftest.py").read_text()
        + "\n\ndef pytest_mlonmcu_configure_run(config, case):\n"
        + "    if case.backend == 'tflmi_perturbed':\n"
        + "        config.set('validation.mode', 'atol=2')\n"
    )
    session = run_plugin(
        "--mlonmcu-model=zoo:toycar", "--mlonmcu-backend=tflmi_perturbed", HOST, NO_CALLGRIND
    )
    session.result.assert_outcomes(failed=1)
    assert "validation (atol=2) failed" in session.output


def test_wrong_c_backend_fails_with_checkable_values(pytester, run_plugin):
    """echo_c copies the input to the output: every value in the message can be recomputed."""
    use_data(pytester, "echo_backend.py", "conftest.py")
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin("--mlonmcu-model=zoo:toycar", "--mlonmcu-backend=echo_c", HOST)
    session.result.assert_outcomes(failed=1)
    record = session.record("zoo_toycar-echo_c-host_x86")
    assert record["outcome"] == "failed" and record["metrics"]["validation_passed"] is False

    inputs = SampleSet.load(Path(record["artifacts"]) / "inputs.npz")
    cache = Cache(USER_CACHE)
    model = ModelResolver([], cache).resolve("zoo:toycar")
    ref = reference_outputs(model, SampleSet(inputs), cache, reference_arena(model, cache))
    diffs = [np.abs(r[0].astype(int) - x[0].astype(int)).reshape(-1) for r, x in zip(ref, inputs)]
    max_diff = int(max(d.max() for d in diffs))
    assert record["metrics"]["validation_max_abs_diff"] == max_diff

    reason = record["reason"]
    assert f"outputs differ from the reference; max abs diff {max_diff}" in reason
    lines = [line.strip() for line in reason.splitlines() if line.strip().startswith("sample ")]
    assert len(lines) == len(inputs) == 2
    for s, line in enumerate(lines):
        assert line.startswith(
            f"sample {s}, output 0: {int((diffs[s] > 0).sum())} of 640 values differ"
        )
        shown = MISMATCH.findall(line)
        assert len(shown) == 6
        for index, expected, got in shown:
            assert int(expected) == int(ref[s][0].flat[int(index)])
            assert int(got) == int(inputs[s][0].flat[int(index)])
