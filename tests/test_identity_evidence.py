"""A unit only on evidence (issue 11, part 3): a report is the unit its identification lines, its sender, the
register or a tax code name; a file, folder or sheet name that is merely the province's name names no district or
commune; what stays unknown is an ``identity.*_unresolved`` error for a steward (docs/architecture.md).  Two sheets
of one file never supersede each other: the same form, period and unit twice in one file is an error on both.  A
feedback workbook (``ccn feedback``) corrected and sent back is the report it carries.

Workbooks are written with the project's own form writer (pipelines/steward/templates.py) and, in
``tests/fixtures/identity/``, the same workbooks as LibreOffice saved them (``regenerate.py`` there rebuilds them;
the tests do not need LibreOffice).  Every workbook is dropped into the inbox folder of its province, ``Lào Cai``,
whose name is also the name of a ward (Phường Lào Cai) and, before 2025-07-01, of a city (Thành phố Lào Cai).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pipelines.read.identify import resolve_units
from pipelines.read.workbook import read_workbook
from pipelines.steward.check import check_file
from pipelines.steward.templates import FormContent, Identification, Typing, write_form
from schemas.admin import admin
from schemas.periods import Period
from tests.helpers import ccn, rows
from tests.test_validation import B0304

FIXTURES = Path(__file__).parent / "fixtures" / "identity"
FOLDER = "Lào Cai"  # the inbox folder of province 15
GIA_PHU, BAO_THANG = "02923", "02905"  # Xã Gia Phú, Xã Bảo Thắng (province 15, 2025 codes)
H1_2026, H1_2025 = Period(2026, "H1"), Period(2025, "H1")

# name -> (period, [(sheet, sender)]): the sheets carry no identification lines, only the sender line
WORKBOOKS: dict[str, tuple[Period, list[tuple[str, str]]]] = {
    # two communes and a third sheet that names no unit at all
    "bieu03_cac_xa.xlsx": (H1_2026, [("BC xa 1", "UBND xã Gia Phú"), ("BC xa 2", "UBND xã Bảo Thắng"),
                                     ("BC xa 3", "Ủy ban nhân dân")]),
    # the same two communes reporting for 2025-H1, when Biểu 03 was the district's report
    "bieu03_cac_xa_2025.xlsx": (H1_2025, [("BC xa 1", "UBND xã Xuân Quang"), ("BC xa 2", "UBND xã Gia Phú")]),
    # one commune twice
    "bieu03_trung.xlsx": (H1_2026, [("Gia Phu", "UBND xã Gia Phú"), ("Gia Phu (2)", "Ủy ban nhân dân xã Gia Phú")]),
}
FEEDBACK_FIXTURE = "phan_hoi_da_sua.xlsx"  # a feedback workbook, corrected and saved by LibreOffice


def write_workbook(path: Path, period: Period, sheets: list[tuple[str, str]]) -> None:
    """One Biểu 03 per sheet, each with its own sender line and slightly different figures."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for i, (sheet, sender) in enumerate(sheets):
        content = FormContent("03", Identification(sender=sender, period=period), {**B0304, "20": 80 + i},
                              generation="commune" if period == H1_2026 else "district")
        write_form(wb.create_sheet(sheet), content, Typing(identification=False))
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)


def write_original(path: Path) -> str:
    """A Biểu 03 whose only evidence of its commune is the commune code in its file name, with row 15 wrong;
    returns the cell of row 15."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Biểu 03"
    cells = write_form(ws, FormContent("03", Identification(sender="Ủy ban nhân dân", period=H1_2026),
                                       {**B0304, "15": 7}), Typing(identification=False))
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return cells["15"]


def _workbook(tmp_path: Path, name: str, saved_by: str) -> Path:
    """The workbook ``name`` in a folder named like the province: written now, or the LibreOffice fixture."""
    path = tmp_path / FOLDER / name
    if saved_by == "libreoffice":
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(FIXTURES / name, path)
    else:
        write_workbook(path, *WORKBOOKS[name])
    return path


def _rules(sheet_check) -> list[str]:
    return sorted(f.rule_id for f in sheet_check.findings if f.is_error)


def _submissions() -> list:
    return rows("SELECT s.submission_id, f.file_name, s.sheet, s.unit_key, s.unit_name, s.status, s.superseded_by "
                "FROM submission s JOIN received_file f ON f.sha256 = s.sha256 ORDER BY s.submission_id")


def _errors(submission_id: int) -> list[str]:
    return sorted(r.rule_id for r in rows(
        "SELECT rule_id FROM validation_finding WHERE submission_id = :s AND severity = 'error'", s=submission_id))


def _run(home: Path, *paths: Path) -> list:
    inbox = home / "inbox" / FOLDER
    inbox.mkdir(parents=True, exist_ok=True)
    for p in paths:
        shutil.copy2(p, inbox / p.name)
    assert ccn("run", "--inbox", str(home / "inbox")) == 0
    return _submissions()


# ───────────────────────────── sender lines, not names that are the province's ─────────────────────────────
@pytest.mark.parametrize("saved_by", ["openpyxl", "libreoffice"])
def test_communes_of_one_workbook_come_from_their_sender_lines(tmp_path, saved_by):
    path = _workbook(tmp_path, "bieu03_cac_xa.xlsx", saved_by)
    result = check_file(path)
    (one, two, three) = result.sheets
    assert "Xã Gia Phú" in one.what and _rules(one) == []
    assert "Xã Bảo Thắng" in two.what and _rules(two) == []
    # the third sheet names no commune: the folder "Lào Cai" is the province's, not Phường Lào Cai's
    assert _rules(three) == ["identity.commune_unresolved"] and "Phường" not in three.what


@pytest.mark.slow
@pytest.mark.parametrize("saved_by", ["openpyxl", "libreoffice"])
def test_both_communes_load_and_the_unnamed_sheet_waits_for_a_steward(home, tmp_path, saved_by):
    subs = _run(home, _workbook(tmp_path, "bieu03_cac_xa.xlsx", saved_by))
    by_sheet = {s.sheet: s for s in subs}
    assert (by_sheet["BC xa 1"].unit_key, by_sheet["BC xa 2"].unit_key) == (GIA_PHU, BAO_THANG)
    assert {by_sheet["BC xa 1"].status, by_sheet["BC xa 2"].status} <= {"accepted", "accepted_with_warnings"}
    third = by_sheet["BC xa 3"]
    assert (third.unit_key, third.status) == (None, "rejected")
    assert _errors(third.submission_id) == ["identity.commune_unresolved"]
    assert not [s for s in subs if s.superseded_by is not None]


@pytest.mark.slow
@pytest.mark.parametrize("saved_by", ["openpyxl", "libreoffice"])
def test_a_district_era_report_sent_by_communes_guesses_no_district(home, tmp_path, saved_by):
    # 2025-H1: Biểu 03 was the district's report; the senders name two communes of Huyện Bảo Thắng and the folder
    # the province, so no district is named (before: both became Thành phố Lào Cai and one superseded the other)
    path = _workbook(tmp_path, "bieu03_cac_xa_2025.xlsx", saved_by)
    checked = check_file(path)
    for sheet, commune in zip(checked.sheets, ("Xã Xuân Quang", "Xã Gia Phú"), strict=True):
        assert _rules(sheet) == ["identity.district_unresolved"] and "Thành phố Lào Cai" not in sheet.what
        (f,) = [f for f in sheet.findings if f.is_error]
        assert commune in f.message_en and "Huyện Bảo Thắng" in f.message_en
    subs = _run(home, path)
    assert [(s.unit_key, s.status, s.superseded_by) for s in subs] == [(None, "rejected", None)] * 2


@pytest.mark.slow
@pytest.mark.parametrize("saved_by", ["openpyxl", "libreoffice"])
def test_the_same_unit_twice_in_one_file_is_an_error_on_both_sheets(home, tmp_path, saved_by):
    path = _workbook(tmp_path, "bieu03_trung.xlsx", saved_by)
    for sheet in check_file(path).sheets:
        assert _rules(sheet) == ["identity.unit_repeated_in_file"]
        (f,) = [f for f in sheet.findings if f.is_error]
        assert '"Gia Phu", "Gia Phu (2)"' in f.message_en and "Xã Gia Phú" in f.message_vi
    subs = _run(home, path)
    assert [(s.unit_key, s.status, s.superseded_by) for s in subs] == [(GIA_PHU, "rejected", None)] * 2
    assert all(_errors(s.submission_id) == ["identity.unit_repeated_in_file"] for s in subs)


@pytest.mark.parametrize("source,typed", [
    ("folder", "Lào Cai"), ("folder", "Lao Cai"), ("folder", "Tỉnh Lào Cai"), ("file", "Lào Cai.xlsx"),
    ("sheet", "Lào Cai"), ("sender", "UBND tỉnh Lào Cai"),
])
def test_the_province_s_own_name_is_no_commune(tmp_path, source, typed):
    sender = typed if source == "sender" else "Ủy ban nhân dân"
    name = typed if source == "file" else "bao_cao.xlsx"
    sheet = typed if source == "sheet" else "Sheet1"
    who = _resolve(tmp_path, sender, H1_2026, file_name=name, sheet=sheet,
                   folders=["inbox", typed if source == "folder" else "15"])
    assert who.province_code == "15" and who.commune_code is None
    assert [f.rule_id for f in who.findings] == ["identity.commune_unresolved"]


@pytest.mark.parametrize("sender,period,folders,expected", [
    ("UBND phường Lào Cai", H1_2026, [FOLDER], ("commune", "02647")),  # the ward, named with its kind word
    ("Lào Cai", H1_2026, [FOLDER, "Phường Lào Cai"], ("commune", "02647")),  # a folder that names the ward
    ("UBND thành phố Lào Cai", H1_2025, [FOLDER], ("district", "080")),  # the city of a Tỉnh, before 2025-07
    ("UBND huyện Bảo Thắng", H1_2025, ["10_lao-cai"], ("district", "086")),
])
def test_a_lower_unit_named_with_its_kind_word_still_counts(tmp_path, sender, period, folders, expected):
    who = _resolve(tmp_path, sender, period, folders=["inbox", *folders])
    level, code = expected
    assert (who.commune_code if level == "commune" else who.district_code) == code and not who.findings


def _resolve(tmp_path: Path, sender: str, period: Period, *, file_name: str = "bao_cao.xlsx", sheet: str = "Sheet1",
             folders: list[str]):
    path = tmp_path / "one.xlsx"
    write_workbook(path, period, [(sheet, sender)])
    (report,) = read_workbook(path).reports
    return resolve_units(report, file_name, folders)


# ───────────────────────────── a feedback workbook sent back ─────────────────────────────
def _no_finding_about_the_findings_sheet() -> None:
    about = rows("SELECT rule_id FROM validation_finding WHERE sheet = :s", s="Kết quả kiểm tra")
    assert about == []


@pytest.mark.slow
def test_a_corrected_feedback_workbook_is_the_report_it_carries(home, tmp_path):
    from openpyxl import load_workbook

    original = tmp_path / "bieu03_02923.xlsx"  # its commune is known from the code in its name only
    cell = write_original(original)
    os.utime(original, (original.stat().st_atime, original.stat().st_mtime - 3600))
    (first,) = _run(home, original)
    assert (first.unit_key, first.status) == (GIA_PHU, "rejected")

    fb = tmp_path / "phan_hoi.xlsx"
    assert ccn("feedback", str(first.submission_id), "--out", str(fb)) == 0
    wb = load_workbook(fb)
    assert wb.sheetnames == ["Kết quả kiểm tra", "Biểu 03"]
    wb["Biểu 03"][cell] = 6  # the office corrects the marked cell and sends the workbook back
    corrected = tmp_path / "back" / "phan_hoi_xa_sua.xlsx"
    corrected.parent.mkdir()
    wb.save(corrected)

    checked = check_file(_in_folder(tmp_path, corrected))
    assert [s.sheet for s in checked.sheets] == ["Biểu 03"] and checked.errors == 0
    assert "Xã Gia Phú" in checked.sheets[0].what

    subs = _run(home, corrected)
    again = [s for s in subs if s.file_name == corrected.name]
    assert [(s.sheet, s.unit_key, s.unit_name) for s in again] == [("Biểu 03", GIA_PHU, "Xã Gia Phú")]
    assert again[0].status in ("accepted", "accepted_with_warnings")
    assert [s.status for s in subs if s.file_name == original.name] == ["superseded"]
    _no_finding_about_the_findings_sheet()


@pytest.mark.slow
def test_a_feedback_workbook_saved_by_libreoffice_keeps_its_identification(home, tmp_path):
    path = _in_folder(tmp_path, FIXTURES / FEEDBACK_FIXTURE)
    checked = check_file(path)
    assert [s.sheet for s in checked.sheets] == ["Biểu 03"] and checked.errors == 0
    assert "Xã Gia Phú" in checked.sheets[0].what and "2026-H1" in checked.sheets[0].what
    subs = _run(home, path)
    assert [(s.sheet, s.unit_key, s.status in ("accepted", "accepted_with_warnings")) for s in subs] == \
        [("Biểu 03", GIA_PHU, True)]
    _no_finding_about_the_findings_sheet()


def test_a_findings_sheet_alone_is_no_report(tmp_path):
    # the findings sheet names its form ("Biểu số 03"): with the form sheet deleted, nothing is left to read
    from openpyxl import load_workbook

    wb = load_workbook(FIXTURES / FEEDBACK_FIXTURE)
    del wb["Biểu 03"]
    path = tmp_path / FOLDER / "chi_ket_qua.xlsx"
    path.parent.mkdir()
    wb.save(path)
    checked = check_file(path)
    assert checked.sheets == [] and [f.rule_id for f in checked.findings] == ["structure.form_not_found"]


def _in_folder(tmp_path: Path, path: Path) -> Path:
    dest = tmp_path / "check" / FOLDER / path.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(path, dest)
    return dest


def test_the_fixtures_are_what_regenerate_writes():
    # the committed LibreOffice saves are of the workbooks this module describes (regenerate.py writes them)
    for name, (_period, sheets) in WORKBOOKS.items():
        (reading) = read_workbook(FIXTURES / name)
        assert [r.sheet for r in reading.reports] == [s for s, _ in sheets]
        assert [r.header["sender"][0] for r in reading.reports] == [s for _, s in sheets]
    assert admin().communes[GIA_PHU].name == "Xã Gia Phú" and admin().communes[BAO_THANG].name == "Xã Bảo Thắng"
