"""Numbers in the configuration: finite, in range, named with key and value when not."""

from __future__ import annotations

import math

import pytest

from pytest_mlonmcu.core.config import MAX_TIMEOUT, RunConfig, parse_int, parse_size, parse_timeout
from pytest_mlonmcu.core.errors import UsageError
from pytest_mlonmcu.targets import TARGETS, register_builtin_targets

# -- numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [("12", 12), ("0x100", 256), ("128kB", 128_000), ("64KiB", 65_536), ("1e3", 1000.0)],
)
def test_parse_size(text, value):
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "1e999", "1e999k", "nanK", "lots", ""])
def test_parse_size_rejects_non_finite_and_garbage_with_value_error(text):
    with pytest.raises(ValueError):
        parse_size(text)


@pytest.mark.parametrize(
    ("value", "minimum", "message"),
    [
        ("-5", 0, "x.size='-5': expected a non-negative integer"),
        ("0", 1, "x.size='0': expected a positive integer"),
        ("1e999", 0, "x.size='1e999' is not an integer"),  # was a raw OverflowError
        ("inf", 0, "x.size='inf' is not an integer"),
        ("nan", 0, "x.size='nan' is not an integer"),
        ("1.5", 0, "x.size='1.5' is not an integer"),
        ("9" * 30, 0, "expected at most 9223372036854775807"),
    ],
)
def test_parse_int_names_key_and_value(value, minimum, message):
    with pytest.raises(UsageError) as info:
        parse_int(value, "x.size", minimum=minimum)
    assert message in str(info.value)


def test_parse_int_accepts_sizes():
    assert parse_int("64KiB", "x", minimum=1) == 65536
    assert parse_int("0", "x") == 0
    assert parse_int("1.5k", "x") == 1500


@pytest.mark.parametrize("value", ["inf", "-5", "nan", "0", "1e999", "-inf", "1e300", "soon"])
def test_timeouts_are_finite_and_positive(value):
    with pytest.raises(UsageError) as info:
        parse_timeout(value, "host_x86.timeout")
    assert str(info.value).startswith(
        f"host_x86.timeout={value!r}: expected a timeout in seconds, a finite number > 0"
    )


def test_timeout_limits():
    assert parse_timeout("0.5", "t") == 0.5
    assert parse_timeout(str(MAX_TIMEOUT), "t") == MAX_TIMEOUT  # threading's own limit


def test_component_getters_check_ranges():
    scoped = RunConfig(
        {"t.timeout": "-5", "t.size": "-1", "t.ratio": "nan", "t.seed": "3", "t.rate": "0"}
    ).scoped("t")
    with pytest.raises(UsageError, match=r"t.timeout='-5': expected a timeout"):
        scoped.get_timeout()
    assert scoped.get_timeout("missing", 7.0) == 7.0
    with pytest.raises(UsageError, match=r"t.size='-1': expected a non-negative integer"):
        scoped.get_int("size")
    assert scoped.get_int("seed") == 3 and scoped.get_int("missing", 9) == 9
    with pytest.raises(UsageError, match=r"t.ratio='nan': expected a finite number"):
        scoped.get_float("ratio")
    with pytest.raises(UsageError, match=r"t.rate='0': expected a number > 0"):
        scoped.get_float("rate", positive=True)
    assert scoped.get_float("rate") == 0.0


@pytest.mark.parametrize("value", ["inf", "-5", "nan", "0", "1e999"])
def test_target_timeout_is_checked(value):
    register_builtin_targets()
    target = TARGETS.get("host_x86")(
        RunConfig({"host_x86.timeout": value}).scoped("host_x86"), None
    )
    with pytest.raises(UsageError, match=rf"host_x86.timeout='{value}'"):
        target.timeout()


def test_target_timeout_default_and_value():
    register_builtin_targets()
    cls = TARGETS.get("host_x86")
    assert cls(RunConfig().scoped("host_x86"), None).timeout() == 120.0
    assert cls(RunConfig({"host_x86.timeout": "2.5"}).scoped("host_x86"), None).timeout() == 2.5
    assert math.isfinite(cls(RunConfig().scoped("host_x86"), None).timeout())
