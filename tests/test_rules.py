"""The rule catalogue as data: every rule of SPEC §6 is in validations/rules.toml with what a steward and the
engine need, the Great Expectations suites saved in validations/suites/ are the ones the catalogue generates,
and every expression, cross-level and cross-period rule is exercised by a test with data that breaks it."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from validations.catalogue import Expression, checks, rules

SPEC_RULES = {  # SPEC §6, within a form, across levels and across periods
    "form.non_negative", "b02.occupancy_range", "b0304.occupancy_range", "b02.leased_le_ready",
    "b02.foreign_le_projects", "b02.operating_le_projects", "b02.wwtp_compliant_le_built",
    "b0304.operating_count_sum", "b0304.operating_area_sum", "b0304.craft_count_le_operating",
    "b0304.specialised_count_le_operating", "b0304.craft_area_le_operating", "b0304.specialised_area_le_operating",
    "b0304.established_le_planned", "b0304.established_area_le_planned", "b0304.established_in_period_le_established",
    "b0304.established_area_in_period_le_established", "b0304.leased_le_industrial_land", "b0304.foreign_le_projects",
    "b0304.operating_le_projects", "b0304.wwtp_compliant_le_built", "b0304.occupancy_consistent",
    "cross.b04_vs_b03", "cross.b03_vs_b02", "cross.b03_vs_b01", "cross.b02_projects_reported",
    "period.cumulative_fell", "period.annual_below_h1", "timeliness.late",
}


def test_every_spec_rule_is_catalogued_with_both_languages():
    cat = rules()
    assert set(cat) >= SPEC_RULES
    for r in cat.values():
        assert r.severity in ("error", "warning"), r.id
        assert r.description_vi and r.description_en and r.message_vi and r.message_en, r.id
        if "left" in r.extra:
            for key in ("forms", "level", "periods", "operator", "right", "tolerance", "missing"):
                assert key in r.extra, (r.id, key)


def test_expression_rules_name_real_rows():
    from schemas.forms import load_forms

    forms = load_forms()
    n = 0
    for form in forms:
        for c in checks(form):
            for code in c.left.codes + c.right.codes:
                assert code in forms[form].rows_by_code, (c.rule.id, form, code)
            n += 1
    assert n > 60


def test_every_rule_with_an_expression_is_tested():
    from tests.test_validation import CASES
    from tests.test_validation_cross import COVERED

    cat = rules()
    expression = {r.id for r in cat.values() if r.scope == "form" and "left" in r.extra}
    assert expression == set(CASES)
    assert {r.id for r in cat.values() if r.scope in ("cross_level", "cross_period")} == COVERED


def test_saved_suites_are_the_generated_ones():
    from validations.expectations import SUITES, suite_spec

    for form in ("01", "02", "03", "04"):
        saved = json.loads((SUITES / f"bieu_{form}.json").read_text(encoding="utf-8"))
        assert saved == suite_spec(form), f"run `python -m validations.expectations` (Biểu {form})"
    # two expectations per form, whatever the number of checks (GX's cost is per expectation)
    b03 = {e["meta"]["kind"]: e for e in suite_spec("03")["expectations"]}
    assert [e["type"] for e in b03.values()] == ["expect_column_values_to_be_between",
                                                 "expect_column_values_to_not_be_null"]
    rules_in_suite = {c["rule_id"] for c in b03["excess"]["meta"]["checks"]}
    assert "b0304.operating_count_sum" in rules_in_suite and "b02.leased_le_ready" not in rules_in_suite
    assert {c.rule.id for c in checks("03")} | {"value.flag_not_binary", "value.not_integer"} >= rules_in_suite
    assert len(b03["excess"]["meta"]["checks"]) > 60
    # 15 = 15.1 + 15.2 reports a blank part: its check is also under the not-null expectation
    assert "b0304.operating_count_sum" in {c["rule_id"] for c in b03["missing"]["meta"]["checks"]}


def test_expression_arithmetic_and_missing_values():
    frame = pd.DataFrame({"17": [180.0, 0.0, np.nan], "18": [117.0, 0.0, 5.0]})
    ratio = Expression("100 * #{18} / #{17}").evaluate(frame)
    assert ratio.iloc[0] == pytest.approx(65.0)
    assert np.isnan(ratio.iloc[1]) and np.isnan(ratio.iloc[2])  # 0/0 and a blank are not checked
    zero = Expression("#{17} + #{18}").evaluate(frame, zero_missing=True)
    assert list(zero) == [297.0, 0.0, 5.0]
    with pytest.raises(ValueError, match="not allowed in a rule expression"):
        Expression("__import__('os')").evaluate(frame)


def test_excess_respects_tolerance():
    by = {c.rule.id: c for c in checks("03")}
    c = by["b0304.operating_area_sum"]  # 16 = 16.1 + 16.2 within 0.02 ha
    frame = pd.DataFrame({"16": [260.015, 260.5, 260.0], "16.1": [220.0, 220.0, 220.0], "16.2": [40.0, 40.0, np.nan]})
    ex = c.excess(frame)
    assert ex.iloc[0] <= 0 < ex.iloc[1]
    assert ex.iloc[2] > 0  # missing = zero: 16.2 blank counts as 0, so 260 ≠ 220
