"""The rule catalogue as data: every rule of SPEC §6 is in validations/rules.toml with what a steward and the
engine need, a mistake in rules.toml stops the load naming the rule and the field, the Great Expectations suites
saved in validations/suites/ are the ones the catalogue generates, and every within-form, cross-level and
cross-period rule is exercised by a test with data that breaks it."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from validations.catalogue import (
    CATALOGUE,
    CatalogueError,
    CrossLevelRule,
    CrossPeriodRule,
    Expression,
    FindingRule,
    OutlierRule,
    Side,
    WithinFormRule,
    load_catalogue,
    rules,
)
from validations.within_form import checks, evaluate, side_values

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
    kinds = {type(r) for r in cat.values()}
    assert kinds == {FindingRule, WithinFormRule, CrossLevelRule, CrossPeriodRule, OutlierRule}
    operating = cat["b0304.operating_count_sum"]
    assert (operating.forms, operating.operator, operating.left.missing, operating.skipped_finding) == \
        (("03", "04"), "==", "skip_if_any_missing", True)
    assert cat["b0304.operating_area_sum"].right == Side(Expression("#{16.1} + #{16.2}"), "never_skip")
    assert cat["period.annual_below_h1"].against == "same_year" and not cat["period.annual_below_h1"].remark_waives
    assert cat["period.cumulative_fell"].against == "previous" and cat["period.cumulative_fell"].remark_waives
    assert cat["value.flag_not_binary"].expect.in_set == (0.0, 1.0)


def test_expression_rules_name_real_rows():
    from schemas.forms import load_forms

    forms = load_forms()
    n = 0
    for form in forms:
        for c in checks(form):
            for code in c.left.expression.codes + c.right.expression.codes:
                assert code in forms[form].rows_by_code, (c.rule.id, form, code)
            n += 1
    assert n > 60


def test_every_rule_with_an_expression_is_tested():
    from tests.test_validation import CASES
    from tests.test_validation_cross import COVERED

    cat = rules()
    assert {r.id for r in cat.values() if isinstance(r, WithinFormRule)} == set(CASES)
    assert {r.id for r in cat.values() if isinstance(r, (CrossLevelRule, CrossPeriodRule))} == COVERED


def test_the_cluster_rollup_is_written_once():
    """Which row of Biểu 03/04 sums which row of the clusters' Biểu 02 and the projects' Biểu 01 is one pair of
    columns of indicators.csv; the cross-level rules and the summary views both read it."""
    from schemas.forms import load_forms
    from schemas.views import CLUSTER_ROLLUP

    cat = rules()
    assert cat["cross.b03_vs_b02"].row_pairs() == {"13": "1", "14": "2", "18": "4", "20": "6", "21": "7", "22": "8",
                                                   "26": "13", "27": "14"}
    assert cat["cross.b03_vs_b01"].row_pairs() == {"23": "1", "24": "2", "25": "3"}
    assert {code: (form, cat[rule].row_pairs()[code])
                              for rule, form in (("cross.b03_vs_b02", "02"), ("cross.b03_vs_b01", "01"))
                              for code in cat[rule].row_pairs()} == CLUSTER_ROLLUP
    assert load_forms()["04"].rollup("02") == load_forms()["03"].rollup("02")


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
    ratio = evaluate(Expression("100 * #{18} / #{17}"), frame)
    assert ratio.iloc[0] == pytest.approx(65.0)
    assert np.isnan(ratio.iloc[1]) and np.isnan(ratio.iloc[2])  # 0/0 and a blank are not checked
    zero = evaluate(Expression("#{17} + #{18}"), frame, zero_missing=True)
    assert list(zero) == [297.0, 0.0, 5.0]
    with pytest.raises(ValueError, match="__import__"):
        Expression("__import__('os')").parse()


def test_missing_value_strategies_per_side():
    """DHIS2's strategies: a side is skipped when any (or all) of its rows are blank, or never; a side that is
    not skipped counts its blank rows as 0."""
    frame = pd.DataFrame({"16.1": [220.0, 220.0, np.nan], "16.2": [40.0, np.nan, np.nan]})
    expr = Expression("#{16.1} + #{16.2}")
    got = {m: side_values(Side(expr, m), frame).tolist() for m in
           ("skip_if_any_missing", "skip_if_all_missing", "never_skip")}
    assert got["skip_if_any_missing"][0] == 260.0 and np.isnan(got["skip_if_any_missing"][1:]).all()
    assert got["skip_if_all_missing"][:2] == [260.0, 220.0] and np.isnan(got["skip_if_all_missing"][2])
    assert got["never_skip"] == [260.0, 220.0, 0.0]
    assert side_values(Side(Expression("100"), "skip_if_all_missing"), frame).tolist() == [100.0] * 3


def test_excess_respects_tolerance():
    by = {c.rule.id: c for c in checks("03")}
    c = by["b0304.operating_area_sum"]  # 16 = 16.1 + 16.2 within 0.02 ha
    frame = pd.DataFrame({"16": [260.015, 260.5, 260.0], "16.1": [220.0, 220.0, 220.0], "16.2": [40.0, 40.0, np.nan]})
    ex = c.excess(frame)
    assert ex.iloc[0] <= 0 < ex.iloc[1]
    assert ex.iloc[2] > 0  # missing = zero: 16.2 blank counts as 0, so 260 ≠ 220


# ───────────────────────────── a broken rules.toml stops the load, naming the rule and the field ─────────────

def _entry(rule_id: str) -> str:
    """The text of one rule of the real catalogue."""
    text = CATALOGUE.read_text(encoding="utf-8")
    start = text.index(f'[[rules]]\nid = "{rule_id}"')
    end = text.find("\n[[rules]]", start + 1)
    return text[start:end if end > 0 else None].strip() + "\n"


@pytest.mark.parametrize("rule_id, change, field", [
    # a field that is not of the rule's kind (`level` is no field of any kind: the form tells the level)
    ("b02.leased_le_ready", ('kind = "within_form"', 'kind = "within_form"\nlevel = "cluster"'), "level"),
    ("b02.leased_le_ready", ('operator = "<="', 'operator = "<"'), "operator"),
    ("b02.leased_le_ready", ('missing = "skip_if_any_missing" }\noperator', 'missing = "skip" }\noperator'),
     "left.missing"),
    ("b02.leased_le_ready", ('"#{3}"', '"#{33}"'), "right.expression"),
    ("b02.leased_le_ready", ('"#{3}"', '"#{3} ** 2"'), "right.expression"),
    ("b02.leased_le_ready", ('periods = ["H1", "Y"]', 'periods = ["Q1"]'), "periods"),
    ("b02.leased_le_ready", ('tolerance = 0.005', 'tolerance = "0.005"'), "tolerance"),
    ("b02.leased_le_ready", ('severity = "error"', 'severity = "fatal"'), "severity"),
    ("b02.leased_le_ready", ('{right} ha (dòng 3)"', '{rigth} ha (dòng 3)"'), "message_vi"),
    ("b02.leased_le_ready", ('forms = ["02"]\n', ''), "forms"),
    ("cross.b03_vs_b02", ('join = "commune"', 'join = "district"'), "join"),
    # no row of Biểu 03 is the sum of rows of Biểu 04 in indicators.csv
    ("cross.b03_vs_b01", ('lower_form = "01"', 'lower_form = "04"'), "compare"),
    ("cross.b02_projects_reported", ('row = "6"\n', ''), "row"),
    ("period.cumulative_fell", ('against = "previous"', 'against = "last_year"'), "against"),
    ("period.cumulative_fell", ('"03" = ["3", "4", "14"]', '"03" = ["3", "4", "41"]'), "rows.03"),
    ("period.cumulative_fell", ('remark_waives = true', 'remark_waives = "yes"'), "remark_waives"),
    ("value.flag_not_binary", ('units = ["flag"]', 'units = ["flags"]'), "expect.units"),
    ("file.unreadable", ('scope = "file"', 'scope = "sheet"'), "scope"),
    ("file.unreadable", ('scope = "file"', 'scope = "file"\nkind = "check"'), "kind"),
    # outliers: always warnings, each method with its own fields and sound thresholds
    ("outlier.growth", ('severity = "warning"', 'severity = "error"'), "severity"),
    ("outlier.growth", ('factor = 10 ', 'factor = 1 '), "factor"),
    ("outlier.growth", ('small = { billion_vnd = 1,', 'small = { vnd = 1,'), "small.vnd"),
    ("outlier.history_mad", ('min_history = 4', 'min_history = 7'), "min_history"),
    ("outlier.peers", ('group = "province"', 'group = "district"'), "group"),
    ("outlier.peers", ('sides = ["high"]', 'sides = ["up"]'), "sides"),
    ("outlier.peers", ('min_peers = 8', 'min_peers = 8\nfactor = 10'), "factor"),
    ("outlier.copied_forward", ('method = "copied"', 'method = "zscore"'), "method"),
    ("outlier.copied_forward", ('min_nonzero = 3', 'min_nonzero = 2.5'), "min_nonzero"),
])
def test_a_bad_field_names_its_rule_and_field(tmp_path, rule_id, change, field):
    entry = _entry(rule_id)
    assert change[0] in entry, (rule_id, change)
    broken = tmp_path / "rules.toml"
    broken.write_text(_entry("timeliness.late") + "\n" + entry.replace(change[0], change[1], 1), encoding="utf-8")
    with pytest.raises(CatalogueError) as e:
        load_catalogue(broken)
    assert (e.value.rule_id, e.value.field) == (rule_id, field)
    assert f"quy tắc {rule_id}, trường {field}" in str(e.value) and f"rule {rule_id}, field {field}" in str(e.value)
    # the same entry unbroken loads, as the kind it is
    good = tmp_path / "good.toml"
    good.write_text(entry, encoding="utf-8")
    assert type(load_catalogue(good)[rule_id]) is type(rules()[rule_id])


def test_a_repeated_id_or_bad_toml_is_refused(tmp_path):
    entry = _entry("b02.leased_le_ready")
    twice = tmp_path / "twice.toml"
    twice.write_text(entry + "\n" + entry, encoding="utf-8")
    with pytest.raises(CatalogueError) as e:
        load_catalogue(twice)
    assert (e.value.rule_id, e.value.field) == ("b02.leased_le_ready", "id")
    bad = tmp_path / "bad.toml"
    bad.write_text(entry.replace('operator = "<="', 'operator = "<=\n'), encoding="utf-8")
    with pytest.raises(CatalogueError, match="TOML"):
        load_catalogue(bad)
