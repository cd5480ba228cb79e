"""Who sent a report and for which period (pipelines/read/identify.py), against both administrative generations.

Every case writes a real workbook with the national template (or without its identification lines) and reads it
back; an unresolved unit must be an error finding, never a guess.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.read.identify import resolve_units
from pipelines.read.workbook import read_workbook
from pipelines.steward.templates import FormContent, Identification, Typing, write_form
from schemas.admin import admin
from schemas.periods import Period

H1_2026, H1_2025, Y_2024 = Period(2026, "H1"), Period(2025, "H1"), Period(2024, "Y")


def _identify(tmp_path: Path, form: str, ident: Identification, *, lines: bool = True, generation: str = "commune",
              file_name: str = "bao_cao.xlsx", sheet: str = "Sheet1", folders: list[str] | None = None):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    write_form(ws, FormContent(form, ident, {}, generation=generation), Typing(identification=lines))
    path = tmp_path / file_name
    wb.save(path)
    (report,) = read_workbook(path).reports
    return resolve_units(report, file_name, folders or [])


def _rules(who) -> list[str]:
    return [f.rule_id for f in who.findings]


@pytest.mark.parametrize("typed,code", [
    ("01 - Thành phố Hà Nội", "01"), ("Ha Noi", "01"), ("TP. Hà Nội", "01"), ("tp ha noi", "01"),
    ("THÀNH PHỐ HỒ CHÍ MINH", "79"), ("Tp Ho Chi Minh", "79"), ("Tỉnh Thanh Hoá", "38"), ("Thanh Hóa", "38"),
    ("Khánh Hoà", "56"), ("tỉnh lào cai", "15"), ("Lao Cai", "15"), ("15", "15"),
])
def test_province_as_typed(tmp_path, typed, code):
    who = _identify(tmp_path, "04", Identification(province=typed, period=H1_2026))
    assert (who.province_code, _rules(who)) == (code, [])
    assert who.generation == "2025" and who.old_province_code is None


def test_an_old_province_named_in_a_2025_report_resolves_to_its_successor(tmp_path):
    who = _identify(tmp_path, "04", Identification(province="Tỉnh Nam Định", period=H1_2026))
    assert (who.province_code, who.old_province_code, who.province_name) == ("37", "36", "Tỉnh Ninh Bình")


@pytest.mark.parametrize("typed,detail", [("Tỉnh Hà Tây Nam", "is not a province"), ("36", "is not a province")])
def test_an_unknown_province_is_an_error_never_a_guess(tmp_path, typed, detail):
    # "36" was Nam Định's code before 2025-07-01 and is no 2025 code: a bare old code in a 2025 report is refused
    who = _identify(tmp_path, "04", Identification(province=typed, period=H1_2026))
    assert _rules(who) == ["identity.province_unresolved"] and who.province_code is None
    assert detail in who.findings[0].message_en and who.findings[0].cell == "C6"  # the value cell


@pytest.mark.parametrize("typed", ["Xã Phố Bảng", "Xã Phó Bảng", "xa pho bang", "00745 - Xã Phó Bảng", "00745"])
def test_commune_spellings_of_both_releases(tmp_path, typed):
    # name_changes_v3.0.2_to_v4.2.0_2026.csv: Xã Phó Bảng (2025-07) was respelt Xã Phố Bảng (2026-07)
    who = _identify(tmp_path, "03", Identification(province="Tuyên Quang", commune=typed, period=H1_2026))
    assert (who.commune_code, _rules(who)) == ("00745", [])


def test_a_commune_name_that_two_communes_share_without_diacritics_is_an_error(tmp_path):
    # "Van Lang" is both Xã Văn Lang and Xã Văn Lăng in province 19: the reader must not pick one
    who = _identify(tmp_path, "03", Identification(province="Thái Nguyên", commune="Xa Van Lang", period=H1_2026))
    assert _rules(who) == ["identity.commune_unresolved"] and who.commune_code is None
    exact = _identify(tmp_path, "03", Identification(province="Thái Nguyên", commune="Xã Văn Lăng", period=H1_2026))
    assert exact.commune_code == admin().find_commune("Xã Văn Lăng", "19")[0].code and not exact.findings


def test_pre_2025_district_report_exposes_district_old_province_and_successor(tmp_path):
    who = _identify(tmp_path, "03", Identification(province="Tỉnh Lào Cai", district="Huyện Bảo Thắng", period=H1_2025),
                    generation="district")
    assert _rules(who) == []
    assert (who.generation, who.old_province_code, who.province_code, who.district_code) == (
        "pre2025", "10", "15", "086")
    assert who.old_province_name == "Tỉnh Lào Cai" and who.district_name == "Huyện Bảo Thắng"


def test_pre_2025_report_from_sender_and_folder_only(tmp_path):
    who = _identify(tmp_path, "03", Identification(sender="UBND huyen Van Ban", period=Y_2024), lines=False,
                    generation="district", folders=["inbox", "10_lao-cai"])
    assert _rules(who) == []
    assert (who.old_province_code, who.province_code, who.district_name) == ("10", "15", "Huyện Văn Bàn")


def test_pre_2025_old_commune_maps_to_its_single_2025_successor(tmp_path):
    a = admin()
    old = next(u for u in a.old_communes.values() if u.province_code == "10" and len(a.successors(u.code)) == 1)
    who = _identify(tmp_path, "02", Identification(province="Lào Cai", district=old.parent_name, commune=old.name,
                                                   cluster="CCN Bắc Duyên Hải", period=H1_2025), generation="district")
    assert who.old_commune_code == old.code and who.commune_code == a.successors(old.code)[0].code


def test_unresolved_district_is_an_error(tmp_path):
    who = _identify(tmp_path, "03", Identification(province="Lào Cai", district="Huyện Không Có", period=H1_2025),
                    generation="district")
    assert _rules(who) == ["identity.district_unresolved"]


def test_province_from_sheet_name_and_file_name(tmp_path):
    by_sheet = _identify(tmp_path, "04", Identification(sender="Sở Công Thương", period=H1_2026), lines=False,
                         sheet="Ninh Bình")
    assert by_sheet.province_code == "37" and not by_sheet.findings
    by_file = _identify(tmp_path, "04", Identification(sender="Sở Công Thương", period=H1_2026), lines=False,
                        file_name="BC_CCN_tinh_Quang_Ninh_2026.xlsx")
    assert by_file.province_code == "22" and not by_file.findings
    nothing = _identify(tmp_path, "04", Identification(sender="Sở Công Thương", period=H1_2026), lines=False)
    assert _rules(nothing) == ["identity.province_unresolved"]


def test_a_ward_named_like_a_province_is_not_the_province(tmp_path):
    # "Phường Lào Cai" is a ward; its name must not make the report a province's
    who = _identify(tmp_path, "04", Identification(sender="UBND phường Lào Cai", period=H1_2026), lines=False)
    assert _rules(who) == ["identity.province_unresolved"]


def test_commune_code_in_the_file_name(tmp_path):
    code = next(c.code for c in admin().communes.values() if c.province_code == "37")
    who = _identify(tmp_path, "03", Identification(sender="Ủy ban nhân dân", period=H1_2026), lines=False,
                    file_name=f"bieu03_{code}.xlsx", folders=["37_ninh-binh"])
    assert (who.province_code, who.commune_code, _rules(who)) == ("37", code, [])


@pytest.mark.parametrize("text,file_name,expected", [
    ("6 tháng đầu năm 2026", "x.xlsx", "2026-H1"), ("Năm 2025", "x.xlsx", "2025-Y"),
    ("6 tháng đầu năm", "BC_2026_H1.xlsx", "2026-H1"), ("Cả năm", "bao cao nam 2025.xlsx", "2025-Y"),
    ("…", "bieu04_2026-H1.xlsx", "2026-H1"),
])
def test_period_sources(tmp_path, text, file_name, expected):
    ident = Identification(province="Ninh Bình", period_text=text)
    who = _identify(tmp_path, "04", ident, file_name=file_name)
    assert who.period == Period.parse(expected) and not who.findings


def test_the_unfilled_template_period_is_an_error(tmp_path):
    who = _identify(tmp_path, "04", Identification(province="Ninh Bình", period_text="6 tháng/năm"),
                    file_name="bieu04_2026-H1.xlsx")
    assert _rules(who) == ["identity.period_ambiguous"] and who.period is None
    assert who.findings[0].cell == "A4"


def test_no_period_anywhere_is_an_error(tmp_path):
    who = _identify(tmp_path, "04", Identification(province="Ninh Bình", period_text="…"), file_name="bieu04.xlsx")
    assert _rules(who) == ["identity.period_missing"]


def test_a_typed_commune_that_is_not_found_is_an_error_even_where_optional(tmp_path):
    # Biểu 02 does not need the commune, but a commune line that names none is not dropped silently
    who = _identify(tmp_path, "02", Identification(province="Lào Cai", commune="Xã Không Có Thật",
                                                   cluster="CCN Bắc Văn Yên", period=H1_2026))
    assert _rules(who) == ["identity.commune_unresolved"] and who.cluster_name == "CCN Bắc Văn Yên"


def test_english_headings_are_read(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Form 04"
    ws.append(["Biểu số 04. Tổng hợp tình hình cụm công nghiệp trên địa bàn cấp tỉnh"])
    ws.append(["Đơn vị gửi báo cáo: Sở Công Thương Hà Nội"])
    ws.append(["Kỳ báo cáo: Năm 2025"])
    ws.append(["No.", "Indicator", "Unit", "Result", "Note"])
    ws.append(["1", "Số lượng cụm công nghiệp theo phương án phát triển cụm công nghiệp", "Cụm", 71])
    path = tmp_path / "en.xlsx"
    wb.save(path)
    (report,) = read_workbook(path).reports
    assert report.values["1"].value == 71.0 and report.values["1"].cell == "D5"
    assert resolve_units(report, path.name).province_code == "01"


def test_the_kind_word_tells_namesake_districts_apart(tmp_path):
    # Hậu Giang had both Thị xã Long Mỹ (937) and Huyện Long Mỹ: the sender's kind word decides, a bare name does not
    who = _identify(tmp_path, "03", Identification(sender="Ủy ban nhân dân Thị xã Long Mỹ", period=Y_2024), lines=False,
                    generation="district", folders=["93_hau-giang"])
    assert (who.district_code, who.old_province_code, who.province_code, _rules(who)) == ("937", "93", "92", [])
    bare = _identify(tmp_path, "03", Identification(province="Hậu Giang", district="Long Mỹ", period=Y_2024),
                     generation="district")
    assert _rules(bare) == ["identity.district_unresolved"]
