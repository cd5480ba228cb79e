"""The period at a glance (pipelines/report/dashboard.py) on both backends: a two-province sample in which one
province did not send its Biểu 04 and one cluster with projects did not send its Biểu 02, read, validated and
published by the stages; the counts must be those of ``ccn completeness`` and of the sample's truth, and the
missing list must name who has not reported."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipelines.report.completeness import completeness, last_refresh
from pipelines.report.dashboard import COUNTS, national_dashboard, province_dashboard
from schemas.admin import admin
from schemas.forms import form_codes
from schemas.periods import Period
from schemas.text import slug
from tests.helpers import ccn, engine
from tests.test_validation import run_stages

PERIOD = "2026-H1"
TRUTH_COUNTS = ("expected", "received", "on_time", "late", "missing")


@pytest.fixture(scope="module")
def loaded(module_home, tmp_path_factory):
    from pipelines.sample.generator import generate

    sample = tmp_path_factory.mktemp("dashboard_sample")
    truth = generate(sample, Period.parse(PERIOD), provinces=2, seed=7, absent_04=1, absent_02=1, late_04=1)
    shutil.copytree(sample, module_home / "inbox")
    run_stages(module_home / "inbox")
    eng = engine()
    yield eng, truth
    eng.dispose()


def _truth_reports(truth, province: str, form: str) -> list[dict]:
    return [dict(r, file=f["file"], errors=f["errors"]) for f in truth["files"] for r in f["reports"]
            if r["province_code"] == province and r["form"] == form]


def test_who_should_report_is_computed_once_when_never_computed(loaded):
    eng, truth = loaded
    period = Period.parse(PERIOD)
    assert last_refresh(eng, period) is None  # the stages alone do not compute it (the ingest job does)
    province = truth["completeness"][0]["province_code"]
    first = province_dashboard(eng, PERIOD, province)
    assert first.computed_at == last_refresh(eng, period) is not None
    again = province_dashboard(eng, PERIOD, province)
    assert again.computed_at == first.computed_at  # read, not recomputed


def test_counts_are_those_of_ccn_completeness_and_the_truth(loaded, capsys):
    eng, truth = loaded
    cc = completeness(eng, Period.parse(PERIOD))
    provinces = sorted({r["province_code"] for r in truth["completeness"] if r["form"] != "04"})
    assert len(provinces) == 2
    for province in [*provinces, "01"]:  # the two of the sample, and one that sent nothing
        board = province_dashboard(eng, PERIOD, province)
        assert board.province_name == admin().provinces[province].name
        assert [f.form for f in board.forms] == list(form_codes())  # every form, those with nothing expected too
        for f in board.forms:
            rows = cc[(cc.form == f.form) & (cc.province_code == province)]
            assert [getattr(f, c) for c in COUNTS] == ([int(rows[c].sum()) for c in COUNTS] if len(rows) else
                                                       [0] * len(COUNTS)), (province, f.form)
            told = [r for r in truth["completeness"] if r["form"] == f.form and r["province_code"] == province]
            assert [getattr(f, c) for c in TRUTH_COUNTS] == ([told[0][c] for c in TRUTH_COUNTS] if told else
                                                             [0] * len(TRUTH_COUNTS)), (province, f.form)
        assert sum(len(m) for m in board.missing.values()) == sum(f.missing for f in board.forms)
        assert not board.complete
    nothing = province_dashboard(eng, PERIOD, "01")
    assert [(f.form, f.expected, f.missing) for f in nothing.forms] == [("01", 0, 0), ("02", 0, 0), ("03", 0, 0),
                                                                        ("04", 1, 1)]
    # the ccn command prints the same figures: one province's Biểu 04 row
    late_province = provinces[0]  # late_04=1: the first province's Biểu 04 came after the deadline
    assert ccn("completeness", "--period", PERIOD, "--province", late_province) == 0
    out = capsys.readouterr().out
    b04 = next(f for f in province_dashboard(eng, PERIOD, late_province).forms if f.form == "04")
    assert (b04.received, b04.on_time, b04.late) == (1, 0, 1)
    row = next(line for line in out.split("Biểu 04", 1)[1].splitlines() if line.startswith(late_province))
    assert [int(x) for x in row.split()[-5:]] == [getattr(b04, c) for c in TRUTH_COUNTS]


def test_missing_names_who_has_not_reported(loaded):
    eng, truth = loaded
    absent_04 = next(r["province_code"] for r in truth["completeness"]
                     if r["form"] == "02" and r["missing"] == 1)  # the province whose Biểu 04 and one 02 are absent
    board = province_dashboard(eng, PERIOD, absent_04)

    [b04] = board.missing["04"]
    assert (b04.unit_key, b04.unit_name, b04.basis, b04.rejected) == (
        absent_04, admin().provinces[absent_04].name, "province_list", False)
    assert b04.label == admin().provinces[absent_04].name

    # the cluster whose projects reported (so the register knows it) and whose own Biểu 02 is absent
    with_projects = {r["unit_key"].split("/")[0] for r in _truth_reports(truth, absent_04, "01")}
    reported = {r["unit_key"] for r in _truth_reports(truth, absent_04, "02")}
    [b02] = board.missing["02"]
    assert {b02.unit_key} == with_projects - reported
    absent_file = next(Path(f).stem for f in truth["absent"] if Path(f).name.startswith("bieu02"))
    assert absent_file == f"bieu02_{slug(b02.unit_name)}" and b02.cluster_name == b02.unit_name
    assert b02.commune_name and b02.label == f"{b02.unit_name} · {b02.commune_name}"

    # projects in the other province whose only report was refused: named with their tax code and cluster
    other = next(p for p in {r["province_code"] for r in truth["completeness"] if r["form"] == "01"}
                 if p != absent_04)
    board = province_dashboard(eng, PERIOD, other)
    refused = {r["unit_key"]: r["errors"] for r in _truth_reports(truth, other, "01") if r["errors"]}
    missing = {m.unit_key: m for m in board.missing["01"]}
    assert set(missing) == set(refused) and refused
    for key, m in missing.items():
        tax = key.split("/")[1]
        assert m.tax_code == tax and f"(MST {tax})" in m.label and m.cluster_name in m.label
        # a report naming no period was for no period: this one was not refused, it never came
        assert m.rejected == (refused[key] != ["identity.period_ambiguous"])
    b01 = next(f for f in board.forms if f.form == "01")
    assert b01.rejected_only == sum(m.rejected for m in missing.values()) > 0


def test_national_lists_every_province(loaded):
    eng, truth = loaded
    rows = national_dashboard(eng, PERIOD)
    assert [r.province_code for r in rows] == sorted(admin().provinces) and len(rows) == 34
    by_code = {r.province_code: r for r in rows}
    for code, r in by_code.items():
        told = [t for t in truth["completeness"] if t["province_code"] == code]
        assert [getattr(r, c) for c in TRUTH_COUNTS] == [sum(t[c] for t in told) for c in TRUTH_COUNTS], code
        assert r.province_name == admin().provinces[code].name
    sample = {t["province_code"] for t in truth["completeness"] if t["form"] != "04"}
    assert len(sample) == 2
    for r in rows:  # the 32 others owe their Biểu 04 and sent nothing
        assert (r.expected, r.received, r.missing) == (1, 0, 1) or r.province_code in sample

def test_bad_input_is_refused(loaded):
    eng, _ = loaded
    with pytest.raises(ValueError, match="99"):
        province_dashboard(eng, PERIOD, "99")
    with pytest.raises(ValueError, match="2026-Q3"):
        national_dashboard(eng, "2026-Q3")
