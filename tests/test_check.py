"""``ccn check``: a province checks its workbooks offline before sending them; every finding is printed with its
sheet and cell in Vietnamese and English, and the exit status is 1 on any error."""

from __future__ import annotations

import json
from pathlib import Path

from pipelines.steward.check import check_file
from pipelines.steward.templates import FormContent, Identification, Typing, write_form
from schemas.admin import admin
from schemas.periods import Period
from schemas.text import bilingual
from tests.helpers import ccn
from tests.test_validation import B0304, communes_of, findings_by_file, run_stages, write_report
from validations.catalogue import WithinFormRule, rules

B02 = {"1": 250.0, "2": 120.5, "3": 30.0, "4": 21.75, "5": 72.5, "6": 9, "7": 1, "8": 8, "9": 4.2, "10": 0.31,
       "11": 12, "12": 8.5, "13": 1, "14": 1}


def _b02(path: Path, values: dict, typing: Typing | None = None, sheet: str = "Biểu 02") -> dict[str, str]:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ident = Identification(province="15 - Tỉnh Lào Cai", commune="Xã Đông Cuông", cluster="Cụm công nghiệp Bắc Văn Yên",
                           tax_code="5200123456", sender="Công ty CP Hạ tầng Văn Yên", period=Period(2026, "H1"))
    cells = write_form(ws, FormContent("02", ident, values), typing)
    wb.save(path)
    return cells


def test_a_clean_workbook_passes(tmp_path, capsys):
    path = tmp_path / "bieu02_bac_van_yen.xlsx"
    _b02(path, B02)
    assert ccn("check", str(path)) == 0
    out = capsys.readouterr().out
    assert ("Biểu số 02 · 2026-H1 · Tỉnh Lào Cai · Xã Đông Cuông · Cụm công nghiệp Bắc Văn Yên: "
            "14 giá trị — 14 values") in out
    assert "1 tệp (0 tệp có lỗi): 0 lỗi, 0 cảnh báo; có thể gửi." in out and "OK" in out
    assert "1 files (0 with errors): 0 errors, 0 warnings; ready to send." in out


def test_errors_are_listed_with_sheet_and_cell_and_exit_1(tmp_path, capsys):
    path = tmp_path / "bieu02.xlsx"
    bad = dict(B02, **{"6": "khoảng 20", "4": 45.0, "12": None})  # words for a count; leased land > ready land
    cells = _b02(path, bad)
    assert ccn("check", str(path)) == 1
    out = capsys.readouterr().out
    assert f"Biểu 02!{cells['6']}" in out and "value.not_a_number" in out
    assert "\"khoảng 20\" không phải là số" in out and "\"khoảng 20\" is not a number" in out
    assert f"Biểu 02!{cells['12']}" in out and "value.blank" in out
    # the within-form rule of the catalogue on leased (4) ≤ ready land (3)
    assert f"Biểu 02!{cells['4']}            b02.leased_le_ready" in out
    assert "Leased land 45 ha exceeds the land ready to lease, 30 ha (row 3)" in out
    assert "1 tệp (1 tệp có lỗi): 2 lỗi, 1 cảnh báo" in out and "1 files (1 with errors): 2 errors, 1 warnings" in out


def test_warnings_only_exit_0(tmp_path, capsys):
    path = tmp_path / "bieu02.xlsx"
    _b02(path, dict(B02, **{"5": 0.725}), Typing(percent_style="number"))  # a fraction for a percentage
    assert ccn("check", str(path)) == 0
    out = capsys.readouterr().out
    assert "value.percent_assumed" in out and "Read 0.725 as 72.5%" in out


def test_several_files_json_and_unreadable_ones(tmp_path, capsys):
    good, bad = tmp_path / "good.xlsx", tmp_path / "bad.xlsx"
    _b02(good, B02)
    _b02(bad, dict(B02, **{"13": 2}))
    text = tmp_path / "notes.txt"
    text.write_text("not a workbook", encoding="utf-8")
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04garbage")
    assert ccn("check", "--json", str(good), str(bad), str(text), str(broken), str(tmp_path / "missing.xlsx")) == 1
    result = json.loads(capsys.readouterr().out)
    by_file = {Path(r["file"]).name: r for r in result}
    assert by_file["good.xlsx"]["errors"] == 0
    assert [f["rule_id"] for s in by_file["bad.xlsx"]["sheets"] for f in s["findings"]] == ["value.flag_not_binary"]
    assert by_file["notes.txt"]["findings"][0]["rule_id"] == "file.type"
    assert by_file["broken.xlsx"]["findings"][0]["rule_id"] == "file.unreadable"
    assert by_file["missing.xlsx"]["findings"][0]["rule_id"] == "file.unreadable"
    f = by_file["bad.xlsx"]["sheets"][0]["findings"][0]
    assert f["sheet"] == "Biểu 02" and f["cell"] and f["message_vi"] and f["message_en"]


def test_legacy_xls_is_checked_too(tmp_path, capsys):
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    sh = book.add_sheet("BC")
    lines = ["Biểu số 04. Tổng hợp tình hình cụm công nghiệp trên địa bàn cấp tỉnh",
             "Đơn vị gửi báo cáo: Sở Công Thương tỉnh Ninh Bình", "Kỳ báo cáo: Năm 2025"]
    for r, text in enumerate(lines):
        sh.write(r, 0, text)
    for c, h in enumerate(["TT", "Chỉ tiêu", "Đơn vị tính", "Kết quả", "Ghi chú"]):
        sh.write(4, c, h)
    sh.write(5, 0, "1")
    sh.write(5, 1, "Số lượng cụm công nghiệp theo phương án phát triển cụm công nghiệp")
    sh.write(5, 2, "Cụm")
    sh.write(5, 3, "khoảng 20")
    path = tmp_path / "bieu04.xls"
    book.save(str(path))
    assert ccn("check", str(path)) == 1
    out = capsys.readouterr().out
    assert "Biểu số 04 · 2025-Y · Tỉnh Ninh Bình" in out and "BC!D6" in out and "structure.row_missing" in out


def test_a_register_is_checked_as_a_register(tmp_path, capsys):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["Danh sách cụm công nghiệp tỉnh Lào Cai"])
    ws.append(["TT", "Tên cụm công nghiệp", "Xã, phường", "Hiện trạng", "Diện tích (ha)"])
    ws.append([1, "Âu Lâu", "phường Âu Lâu", "Đã thành lập", "50"])
    ws.append([2, "Bảo Minh", "phường Âu Lâu", "Sắp thành lập", "60"])
    path = tmp_path / "ccn.xlsx"
    wb.save(path)
    assert ccn("check", str(path)) == 1
    out = capsys.readouterr().out
    assert "Danh sách cụm công nghiệp · Tỉnh Lào Cai: 2 cụm — 2 clusters" in out and "Sheet!D4" in out
    assert "register.choice_unknown" in out


def test_ccn_check_and_the_pipeline_word_a_finding_alike(tmp_path, monkeypatch):
    """One Biểu 03 breaking a within-form rule (established area, row 4, above the planned area, row 2) and leaving
    a part of 15 = 15.1 + 15.2 blank: `ccn check` and the pipeline (read, validated by Great Expectations,
    published into a SQLite warehouse) give the same within-form findings, word for word."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("CCN_HOME", str(home))
    monkeypatch.setenv("CCN_WAREHOUSE_URL", f"sqlite:///{home / 'warehouse.sqlite'}")
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    province = min(admin().provinces)
    path = tmp_path / "inbox" / "bieu03_xa.xlsx"
    cells = write_report(path, "03", {**B0304, "4": 401.0, "15.2": None}, province=province,
                         commune=communes_of(province)[0])

    def within(findings):
        return sorted((f for f in findings if isinstance(rules()[f.rule_id], WithinFormRule)),
                      key=lambda f: (f.rule_id, f.cell))

    checked = within(f for s in check_file(path).sheets for f in s.findings)
    run_stages(path.parent)
    stored = within(findings_by_file()["bieu03_xa.xlsx"])
    assert [(f.rule_id, f.severity, f.sheet, f.cell) for f in checked] == [
        ("b0304.established_area_le_planned", "error", "Biểu 03", cells["4"]),
        ("b0304.operating_count_sum", "warning", "Biểu 03", cells["15"])]
    assert [(g.rule_id, g.severity, g.sheet, g.cell) for g in stored] == [
        (f.rule_id, f.severity, f.sheet, f.cell) for f in checked]
    for f, g in zip(checked, stored, strict=True):
        assert g.message == bilingual(f.message_vi, f.message_en) and g.expected == f.expected, f.rule_id
    breach, skipped = checked
    assert breach.message_vi == "Diện tích cụm đã thành lập 401 ha lớn hơn diện tích theo phương án 400 ha (dòng 2)"
    assert breach.message_en == "Established cluster area 401 ha exceeds the planned area 400 ha (row 2)"
    assert breach.expected == "<= dòng/row 2 = 400"
    assert skipped.message_en == ("Rule \"Operating clusters (15) = 15.1 + 15.2\" cannot be checked: "
                                  "row 15.2 has no value")
