"""core/numbers.py: one way to show a metric number, in tables, reports and gate messages."""

from __future__ import annotations

import math

import pytest

from pytest_mlonmcu.core.numbers import as_number, fmt_number, fmt_percent, percent_change
from pytest_mlonmcu.gates.budgets import BudgetCheck
from pytest_mlonmcu.report import fmt_value


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (140312, "140,312"),
        (-5, "-5"),
        (140312.0, "140,312"),  # a whole float from 1000 on reads as an int
        (1234.56, "1,234.6"),
        (123.45, "123.5"),
        (100.0, "100.0"),
        (0.012345, "0.01235"),
        (0.5, "0.5"),
        (math.inf, "inf"),
    ],
)
def test_fmt_number(value, text):
    assert fmt_number(value) == text


def test_table_cells_and_gate_messages_show_numbers_alike():
    for value in (51_020_074, 1234.56, 123.45, 0.012345):
        assert fmt_value(value) == fmt_number(value)
    check = BudgetCheck("latency_ms", 100, 123.4, False, "--mlonmcu-budget")
    assert "latency_ms = 123.4 > 100 (+23.4%)" in check.message()
    assert (fmt_value(None), fmt_value(True), fmt_value("inf")) == ("-", "yes", "inf")


@pytest.mark.parametrize(
    ("value", "reference", "text"),
    [(1_060_000, 1_000_000, "+6.0%"), (98, 100, "-2.0%"), (0, 0, "+0.0%"), (5, 0, "+inf%")],
)
def test_percent_change_and_its_text(value, reference, text):
    assert fmt_percent(percent_change(value, reference)) == text


@pytest.mark.parametrize("value", [True, None, "12", math.nan, math.inf])
def test_as_number_takes_only_finite_numbers(value):
    assert as_number(value) is None
