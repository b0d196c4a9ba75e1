"""Record values survive xdist's channel (execnet) and JSON: big ints, numpy scalars, NaN."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from spine.conftest import BENCH_TEST, FAST

from pytest_mlonmcu.core.records import portable

# Metrics a hook (or a corrupt model's metadata) may produce.
ODD_METRICS = """
import numpy as np


def pytest_mlonmcu_add_metrics(run):
    return {
        "big": 2**40,
        "huge": 2**70,
        "very_negative": -(2**40),
        "np_int": np.int64(7),
        "np_uint": np.uint64(2**64 - 1),
        "np_float": np.float32(0.5),
        "np_bool": np.bool_(True),
        "not_a_number": float("nan"),
        "infinite": np.float64("-inf"),
        "nested": {"shape": (1, np.int32(3)), 5: [np.int8(-1)]},
    }
"""
EXPECTED = {
    "big": 2**40,
    "huge": str(2**70),
    "very_negative": str(-(2**40)),
    "np_int": 7,
    "np_uint": str(2**64 - 1),
    "np_float": 0.5,
    "np_bool": True,
    "not_a_number": "nan",
    "infinite": "-inf",
    "nested": {"shape": [1, 3], "5": [-1]},
}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (2**31 - 1, 2**31 - 1),
        (-(2**31), -(2**31)),
        (-(2**31) - 1, str(-(2**31) - 1)),  # execnet packs a negative int into 4 bytes
        (2**63 - 1, 2**63 - 1),
        (2**63, str(2**63)),
        (np.int16(-5), -5),
        (np.float64(2.5), 2.5),
        (float("inf"), "inf"),
        (np.array(3), 3),
        ((1, {2}), [1, [2]]),
        (None, None),
        (b"\x00", "b'\\x00'"),
    ],
)
def test_portable_values(value, expected):
    out = portable(value)
    assert out == expected and type(out) is type(expected)


def test_portable_records_are_strict_json():
    out = portable({"a": [float("nan"), np.float32("inf"), 2**80]})
    assert json.loads(json.dumps(out, allow_nan=False)) == {"a": ["nan", "inf", str(2**80)]}
    assert math.isnan(float(out["a"][0]))  # the strings read back with float()


@pytest.mark.parametrize("workers", ["0", "2"])
def test_odd_metric_values_reach_the_report(pytester, run_plugin, workers):
    pytester.makeconftest(ODD_METRICS)
    pytester.makepyfile(test_m=BENCH_TEST)
    session = run_plugin(*FAST, "-n", workers, junit=True)
    assert session.ret == 0, session.output
    assert "INTERNALERROR" not in session.output
    (record,) = session.runs
    metrics = record["metrics"]
    assert {k: metrics[k] for k in EXPECTED} == EXPECTED
    assert metrics["validation_passed"] is True
    # The JSON file is strict JSON (no NaN/Infinity tokens).
    text = (pytester.path / "mlonmcu-results.json").read_text()
    json.loads(text, parse_constant=lambda token: pytest.fail(f"{token} in the JSON"))
    props = session.junit_properties()["test_bench[zoo_toycar-tflmi-host_x86]"]
    assert props["huge"] == str(2**70) and props["not_a_number"] == "nan"
    # metrics.json of the run (artifacts) holds the same values.
    data = json.loads((pytester.path / record["artifacts"] / "metrics.json").read_text())
    assert data["metrics"]["huge"] == str(2**70) and data["metrics"]["infinite"] == "-inf"
