"""Submissions with their versions (pipelines/report/history.py), who may see them (pipelines/steward/scope.py)
and the findings page by page (pipelines/steward/findings.py findings_page) on both backends.

A one-province sample goes through the stages with, in a second province's folder as the portal names it
(``12 Lai Châu/``), a Biểu 04 sent twice (the second with a changed value) and unreadable files in and out of
province folders."""

from __future__ import annotations

import pytest

from pipelines.report.history import submission_detail, submissions
from pipelines.steward.findings import MAX_PER_PAGE, finding_rules, findings_page, list_findings, waive
from pipelines.steward.scope import finding_province, folder_province, submission_province
from schemas.admin import admin
from schemas.periods import Period
from tests.helpers import engine, rows
from tests.test_validation import B0304, run_stages, write_report

PERIOD = "2026-H1"
NOT_A_WORKBOOK = b"PK\x03\x04 not a workbook"


@pytest.fixture(scope="module")
def loaded(module_home):
    from pipelines.sample.generator import generate

    inbox = module_home / "inbox"
    truth = generate(inbox, Period.parse(PERIOD), provinces=1, seed=11, projects=False)
    sample_province = truth["completeness"][0]["province_code"]
    code = next(c for c in sorted(admin().provinces) if c != sample_province)
    folder = inbox / f"{code} {admin().provinces[code].name.removeprefix('Tỉnh ')}"
    write_report(folder / "bieu04.xlsx", "04", B0304, province=code, days_before=6)
    # unreadable files: in the province's folder (deeper folders and their names do not matter), at the top of
    # the inbox under a name that begins with the code, and in a folder whose code is no 2025 province
    unreadable = {"in_folder": folder / "22 Quảng Ninh" / "hong.xlsx", "top": inbox / f"{code} hong.xlsx",
                  "no_province": inbox / "99 Không rõ" / "hong.xlsx"}
    for n, path in enumerate(unreadable.values()):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(NOT_A_WORKBOOK + bytes([n]))
    run_stages(inbox)
    write_report(folder / "bieu04_sua.xlsx", "04", {**B0304, "20": 90}, province=code, days_before=1)
    run_stages(inbox)
    eng = engine()
    ids = {r.file_name if r.file_name != "hong.xlsx" else r.source_path: r.submission_id for r in rows(
        "SELECT s.submission_id, f.file_name, f.source_path FROM submission s JOIN received_file f "
        "ON f.sha256 = s.sha256")}
    yield eng, code, sample_province, ids, unreadable
    eng.dispose()


def test_a_report_sent_twice_has_two_versions(loaded):
    eng, code, _, ids, _ = loaded
    first, second = ids["bieu04.xlsx"], ids["bieu04_sua.xlsx"]
    detail = submission_detail(eng, second)
    assert detail is not None
    assert [v.id for v in detail.versions] == [first, second]  # oldest first
    old, new = detail.versions
    assert (old.status, old.superseded_by) == ("superseded", second)
    assert (new.status, new.superseded_by) == ("accepted", None)
    assert (new.form, new.period, new.province_code, new.unit_key) == ("04", PERIOD, code, code)
    assert detail.supersedes() == [first] and detail.supersedes(first) == []
    assert detail.submission == new and detail.province == code
    # the earlier version shows the same history, and each its own original file
    assert [v.id for v in submission_detail(eng, first).versions] == [first, second]
    [(value,)] = rows("SELECT value FROM mart_indicator_values WHERE submission_id = :s AND indicator_code = '20'",
                      s=second)
    assert value == 90  # the changed value is what counts
    assert detail.file_name == "bieu04_sua.xlsx" and detail.source_path.endswith("/bieu04_sua.xlsx")
    first_file = submission_detail(eng, first).archive_path
    assert detail.archive_path.is_file() and first_file.is_file()
    assert detail.archive_path.read_bytes() == (detail.archive_path.parent.parent.parent / "inbox" /
                                                detail.source_path).read_bytes() != first_file.read_bytes()
    assert submission_detail(eng, 10**9) is None


def test_submissions_newest_first_filtered_and_paged(loaded):
    eng, code, sample_province, ids, _ = loaded
    everything, total = submissions(eng)
    assert total == len(everything) == rows("SELECT COUNT(*) AS n FROM submission")[0].n
    order = [(r.received_at, r.id) for r in everything]
    assert order == sorted(order, reverse=True)
    pages = [submissions(eng, limit=7, offset=o)[0] for o in range(0, total, 7)]
    assert [r.id for p in pages for r in p] == [r.id for r in everything]  # each exactly once, same order

    mine, n = submissions(eng, province_code=code)
    assert n == len(mine)
    unreadable = {v for k, v in ids.items() if "hong" in k}
    # its two Biểu 04 and the unreadable file of its folder; not the one at the top nor the one of folder 99
    assert {r.id for r in mine} == {ids["bieu04.xlsx"], ids["bieu04_sua.xlsx"],
                                    ids[next(k for k in ids if k.endswith("/22 Quảng Ninh/hong.xlsx"))]}
    sample, n = submissions(eng, province_code=sample_province, form="04", period=PERIOD)
    assert n == 1 and sample[0].province_code == sample_province
    their = {r.id for r in submissions(eng, province_code=sample_province)[0]}
    assert ids["bieu04.xlsx"] not in their and len(their & unreadable) == 1  # the sample's own bao_cao_hong.xlsx
    assert submissions(eng, province_code="99") == ([], 0)
    [(b04,)] = rows("SELECT COUNT(*) FROM submission WHERE period = :p AND form = '04'", p=PERIOD)
    assert submissions(eng, period=PERIOD, form="04", limit=1)[1] == b04 >= 2  # its two versions, the sample's
    with pytest.raises(ValueError, match="offset"):
        submissions(eng, offset=-1)


@pytest.mark.parametrize("path, province", [
    ("12 Lai Châu/bieu04.xlsx", "12"), ("12 Lai Châu/22 Quảng Ninh/a.xlsx", "12"), ("22_tinh-quang-ninh/a.xlsx", "22"),
    ("12/a.xlsx", "12"), ("12 Lai Châu.xlsx", None), ("a/12 Lai Châu/a.xlsx", None), ("99 Không rõ/a.xlsx", None),
    ("123/a.xlsx", None), ("", None), (None, None)])
def test_folder_province(path, province):
    assert folder_province(path) == province


def test_who_may_see_a_submission_and_its_findings(loaded):
    eng, code, sample_province, ids, unreadable = loaded
    assert submission_province(eng, ids["bieu04_sua.xlsx"]) == code
    by_path = {k: v for k, v in ids.items() if "hong" in k}
    inbox = unreadable["top"].parent
    expected = {"in_folder": code, "top": None, "no_province": None}
    for what, path in unreadable.items():
        sid = by_path[path.relative_to(inbox).as_posix()]
        assert rows("SELECT province_code FROM submission WHERE submission_id = :s", s=sid)[0][0] is None
        assert submission_province(eng, sid) == expected[what], what
        [(fid,)] = rows("SELECT finding_id FROM validation_finding WHERE submission_id = :s", s=sid)
        assert finding_province(eng, fid) == expected[what], what
    sample_finding = rows("SELECT v.finding_id FROM validation_finding v JOIN submission s "
                          "ON s.submission_id = v.submission_id WHERE s.province_code = :p", p=sample_province)[0][0]
    assert finding_province(eng, sample_finding) == sample_province
    assert submission_province(eng, 10**9) is None and finding_province(eng, 10**9) is None


def test_findings_page_by_page(loaded):
    eng, code, sample_province, _, _ = loaded
    [(count,)] = rows("SELECT COUNT(*) FROM mart_findings")
    seen, page = [], 1
    while True:
        df, total = findings_page(eng, page=page, per_page=3)
        assert total == count
        if df.empty:
            break
        assert len(df) <= 3
        seen += list(df.finding_id)
        page += 1
    assert page - 1 == -(-count // 3) and count > 10
    assert seen == list(list_findings(eng).finding_id)  # every finding once, in the reading order of ccn findings
    rules = finding_rules(eng)
    assert rules == sorted(set(list_findings(eng).rule_id)) and "file.unreadable" in rules

    # filters are counted in SQL: the total is that of the whole selection, not of the page
    unread, n = findings_page(eng, rule="file.unreadable", per_page=1)
    assert n == 4 and len(unread) == 1  # the sample's and the three above
    mine, n = findings_page(eng, province=code)
    assert n == 1 and list(mine.rule_id) == ["file.unreadable"]  # the one of its folder
    errors, n = findings_page(eng, province=sample_province, severity="error", per_page=MAX_PER_PAGE)
    assert n == len(errors) > 0 and set(errors.severity) == {"error"}
    assert set(errors.province_code.dropna()) == {sample_province}
    _, n = findings_page(eng, period=PERIOD, form="02", severity="warning")
    assert n == len(list_findings(eng, period=PERIOD, form="02", severity="warning"))

    target = int(unread.finding_id.iloc[0])
    waive(eng, target, "tệp thử nghiệm", "Kiểm thử")
    waived, n = findings_page(eng, waived=True)
    assert n == 1 and list(waived.finding_id) == [target] and waived.waived_by.iloc[0] == "Kiểm thử"
    assert findings_page(eng, waived=False)[1] == count - 1
    for bad in ({"page": 0}, {"per_page": 0}, {"per_page": MAX_PER_PAGE + 1}):
        with pytest.raises(ValueError, match="per_page"):
            findings_page(eng, **bad)
