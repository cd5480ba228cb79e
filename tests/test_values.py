"""One result cell read as offices type it (pipelines/read/values.py): exact values, refusals naming the reason, and the
one assumption the reader makes (a rate typed as a fraction) reported as a warning."""

from __future__ import annotations

import pytest

from pipelines.read.values import parse_number_text, read_cell
from schemas.forms import load_forms

F = load_forms()
HA = F["02"].row("3")  # ha
BILLION = F["02"].row("1")  # Tỷ đồng
PERCENT = F["02"].row("5")  # %
PROJECTS = F["02"].row("6")  # Dự án
FLAG = F["02"].row("13")  # Công trình, 1/0
PERSONS = F["01"].row("3")  # Người
INCOME = F["01"].row("4")  # Triệu đồng/người/tháng


@pytest.mark.parametrize("raw,row,value", [
    (12.5, HA, 12.5), (0, HA, 0.0), ("12,5", HA, 12.5), ("12.5", HA, 12.5), ("1.234,5", BILLION, 1234.5),
    ("1,234.5", BILLION, 1234.5), ("1.234.567,89", BILLION, 1234567.89), ("1,234,567.89", BILLION, 1234567.89),
    ("12,5 ha", HA, 12.5), ("12,5ha", HA, 12.5), ("  7,25  ", HA, 7.25), ("\u00a08,5\u00a0", HA, 8.5),
    ("65%", PERCENT, 65.0), ("65 %", PERCENT, 65.0), ("23,29%", PERCENT, 23.29), (65, PERCENT, 65.0),
    ("100", PERCENT, 100.0), ("1.234", PROJECTS, 1234.0), ("1,234", PERSONS, 1234.0), ("25 dự án", PROJECTS, 25.0),
    ("120 người", PERSONS, 120.0), (3.0, PROJECTS, 3.0), ("132,82 tỷ", BILLION, 132.82), ("15 tỷ đồng", BILLION, 15.0),
    ("8,5 triệu đồng", INCOME, 8.5), (1, FLAG, 1.0), (0, FLAG, 0.0), ("có", FLAG, 1.0), ("Không", FLAG, 0.0),
    ("x", FLAG, 1.0), ("X", FLAG, 1.0), (True, FLAG, 1.0), ("-3,5", HA, -3.5),
])
def test_values_read_exactly(raw, row, value):
    reading = read_cell(raw, row)
    assert (reading.value, reading.problem, reading.warning) == (value, None, None)


@pytest.mark.parametrize("raw,row,rule", [
    ("khoảng 20", PROJECTS, "value.not_a_number"), ("> 700", HA, "value.not_a_number"),
    (">95%", PERCENT, "value.not_a_number"), ("-", HA, "value.not_a_number"), ("không", HA, "value.not_a_number"),
    ("đã lấp đầy", PERCENT, "value.not_a_number"), ("23,29% (4 dự án)", PERCENT, "value.not_a_number"),
    ("16 ha (11,99)", HA, "value.not_a_number"), ("20 - 25", HA, "value.not_a_number"),
    ("n/a", HA, "value.not_a_number"),
    ("1.234", HA, "value.ambiguous_separator"), ("1,234", BILLION, "value.ambiguous_separator"),
    ("1.2.3", HA, "value.not_a_number"), ("12 người", HA, "value.unit_in_cell"),
    ("5 ha", BILLION, "value.unit_in_cell"),
    ("462 triệu", BILLION, "value.unit_in_cell"), (2, FLAG, "value.flag_not_binary"),
    ("0,5", FLAG, "value.flag_not_binary"),
    (2.5, PROJECTS, "value.not_integer"), ("12,5", PERSONS, "value.not_integer"),
    (float("nan"), HA, "value.not_a_number"),
    ("#DIV/0!", HA, "value.formula_error"), ("#N/A", PERCENT, "value.formula_error"),
    ("Err:502", BILLION, "value.formula_error"), ("Err:50", BILLION, "value.not_a_number"),
])
def test_text_that_is_not_a_number_is_refused(raw, row, rule):
    reading = read_cell(raw, row)
    assert reading.value is None and reading.problem == rule


def test_a_rate_typed_as_a_fraction_is_read_as_percent_with_a_warning_saying_so():
    reading = read_cell(0.65, PERCENT)
    assert reading.value == 65.0 and reading.warning == "value.percent_assumed" and reading.problem is None
    assert reading.params == {"raw": "0.65", "value": "65"}
    assert read_cell("0,2329", PERCENT).value == 23.29
    assert read_cell("65%", PERCENT).warning is None  # the sign says it: nothing assumed


def test_a_fraction_shown_in_a_percent_format_is_its_percentage_without_warning():
    reading = read_cell(0.6344, PERCENT, shown_percent=True)
    assert reading.value == pytest.approx(63.44) and reading.warning is None and reading.problem is None
    assert read_cell(0.5, PROJECTS, shown_percent=True).problem == "value.unit_in_cell"  # shows 50% in a count


def test_blank_is_a_warning_without_a_value():
    for raw in (None, "", "   "):
        r = read_cell(raw, HA)
        assert r.value is None and r.warning == "value.blank" and r.problem is None


def test_parse_number_text_separators():
    assert parse_number_text("1 234,5", False)[0] == 1234.5
    assert parse_number_text("0,125", False)[0] == 0.125  # a leading zero is never a thousands group
    assert parse_number_text("1.234", True)[0] == 1234.0  # counts have no decimals
    assert parse_number_text("12,34,5", False)[1] == "value.not_a_number"
