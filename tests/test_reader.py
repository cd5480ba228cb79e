"""The reader's structural decisions on real workbooks: which form, which rows, and the errors when a sheet cannot
be read exactly (Biểu 03 vs 04 undecidable, a code contradicting its text, a row twice, a row missing, files
that are no workbook)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.read.workbook import read_workbook
from pipelines.steward.templates import FormContent, Identification, Typing, write_form
from schemas.forms import load_forms
from schemas.periods import Period

F = load_forms()


def _sheet_rows(path: Path, rows: list[list[object]], title: str = "Sheet1") -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = title
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


def _b03_rows(values: dict[str, object]) -> list[list[object]]:
    return [["TT", "Chỉ tiêu", "Đơn vị tính", "Kết quả", "Ghi chú"]] + [
        [r.code, r.label_vi, r.unit_vi, values.get(r.code, 12)] for r in F["03"].rows]


def test_biểu_03_and_04_without_title_are_told_apart_by_sender_and_receiver(tmp_path):
    b03 = _sheet_rows(tmp_path / "a.xlsx", [["Đơn vị gửi báo cáo: UBND xã Phú Thịnh"], [], *_b03_rows({})])
    b04 = _sheet_rows(tmp_path / "b.xlsx", [["Đơn vị nhận báo cáo: Ủy ban nhân dân cấp tỉnh, Bộ Công Thương"],
                                            *_b03_rows({})])
    neither = _sheet_rows(tmp_path / "c.xlsx", [["Báo cáo cụm công nghiệp"], *_b03_rows({})])
    assert [r.form for r in read_workbook(b03).reports] == ["03"]
    assert [r.form for r in read_workbook(b04).reports] == ["04"]
    (report,) = read_workbook(neither).reports
    assert [(f.rule_id, f.cell, f.severity) for f in report.findings] == [("structure.form_ambiguous", "B2", "error")]


def test_a_code_that_contradicts_its_text_is_an_error_not_a_value(tmp_path):
    rows = _b03_rows({})
    rows[3][1] = F["03"].row("20").label_vi  # row coded 3 reads "Tổng số dự án đầu tư sản xuất kinh doanh …"
    path = _sheet_rows(tmp_path / "x.xlsx", [["Biểu số 03. Tổng hợp tình hình cụm công nghiệp trên địa bàn cấp xã"],
                                             *rows])
    (report,) = read_workbook(path).reports
    assert "3" not in report.values
    assert ("structure.row_label_mismatch", "B5", "3") in {(f.rule_id, f.cell, f.indicator_code)
                                                           for f in report.findings}


def test_a_row_twice_and_a_row_missing(tmp_path):
    rows = _b03_rows({"5": 2})
    rows.append(["5", F["03"].row("5").label_vi, "Cụm", 3])  # row 5 again, further down
    del rows[1 + [r.code for r in F["03"].rows].index("11")]  # row 11 gone
    path = _sheet_rows(tmp_path / "x.xlsx", [["BIỂU SỐ 03"], *rows])
    (report,) = read_workbook(path).reports
    found = {(f.rule_id, f.indicator_code) for f in report.findings}
    assert ("structure.row_duplicate", "5") in found and ("structure.row_missing", "11") in found
    assert report.values["5"].value == 2.0  # the first one counts, the second is the error


def test_a_shortened_label_without_codes_is_an_error_not_a_guess(tmp_path):
    rows = [["Chỉ tiêu", "Đơn vị tính", "Kết quả"], *([r.label_vi, r.unit_vi, 12] for r in F["03"].rows)]
    # 15.1 cut down to words many rows share
    rows[1 + [r.code for r in F["03"].rows].index("15.1")][0] = "Số lượng cụm công nghiệp"
    path = _sheet_rows(tmp_path / "x.xlsx", [["Biểu số 04. Tổng hợp tình hình cụm công nghiệp trên địa bàn cấp tỉnh"],
                                             *rows])
    (report,) = read_workbook(path).reports
    assert "15.1" not in report.values
    assert ("structure.row_missing", "15.1") in {(f.rule_id, f.indicator_code) for f in report.findings}
    assert len(report.values) == len(F["04"].rows) - 1


def test_form_far_down_and_right_with_a_logo_line_and_several_sheets(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = "Ghi chú"
    wb.active["A1"] = "Sheet này để trống"
    cells = []
    for name, form in (("CCN 1", "02"), ("CCN 2", "02"), ("Tổng hợp", "04")):
        ws = wb.create_sheet(name)
        ident = Identification(province="Bắc Ninh", commune="Phường Kinh Bắc", cluster=f"Cụm công nghiệp {name}",
                               period=Period(2026, "Y"))
        values = {r.code: 1 if r.unit == "flag" else 12 for r in F[form].rows}
        cells.append(write_form(ws, FormContent(form, ident, values),
                                Typing(row_offset=25, col_offset=12, title_style="code", merged_header=True)))
    wb.create_chartsheet("Biểu đồ")
    path = tmp_path / "many.xlsx"
    wb.save(path)
    reading = read_workbook(path)
    assert [(r.sheet, r.form) for r in reading.reports] == [("CCN 1", "02"), ("CCN 2", "02"), ("Tổng hợp", "04")]
    assert all(len(r.values) == len(F[r.form].rows) for r in reading.reports)
    assert [{c: v.cell for c, v in r.values.items()} for r in reading.reports] == cells
    assert cells[0]["1"].startswith("P")  # column (4) after 12 blank columns


@pytest.mark.parametrize("name,content,rule", [
    ("data.csv", b"TT,Chi tieu\n1,2\n", "file.type"), ("bao_cao.ods", b"PK\x03\x04", "file.unreadable"),
    ("bao_cao.pdf", b"%PDF-1.4", "file.type"), ("bao_cao", b"", "file.type"),
    ("empty.xlsx", b"", "file.unreadable"), ("broken.xls", b"\xd0\xcf\x11\xe0 not really", "file.unreadable"),
])
def test_files_that_are_no_workbook_are_rejected_with_a_reason(tmp_path, name, content, rule):
    path = tmp_path / name
    path.write_bytes(content)
    reading = read_workbook(path)
    assert reading.reports == [] and [f.rule_id for f in reading.findings] == [rule]
    assert reading.findings[0].message_vi and reading.findings[0].message_en


def test_an_xls_saved_under_an_xlsx_name_still_reads(tmp_path):
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    sh = book.add_sheet("Biểu 01")
    sh.write(0, 0, "Biểu số 01. Tình hình hoạt động của dự án đầu tư trong cụm công nghiệp")
    for c, h in enumerate(["TT", "Chỉ tiêu", "Đơn vị tính", "Kết quả"]):
        sh.write(2, c, h)
    for i, r in enumerate(F["01"].rows):
        sh.write(3 + i, 0, float(r.code))
        sh.write(3 + i, 1, r.label_vi)
        sh.write(3 + i, 2, r.unit_vi)
        sh.write(3 + i, 3, "1.234,5" if r.code == "1" else 7)
    path = tmp_path / "renamed.xlsx"
    book.save(str(path))
    (report,) = read_workbook(path).reports
    assert report.values["1"].value == 1234.5 and report.values["3"].value == 7.0


def test_a_workbook_without_any_form(tmp_path):
    path = _sheet_rows(tmp_path / "x.xlsx", [["Danh sách cán bộ"], ["Họ và tên", "Chức vụ"],
                                             ["Nguyễn Văn A", "Chuyên viên"]])
    reading = read_workbook(path)
    assert reading.reports == [] and [f.rule_id for f in reading.findings] == ["structure.form_not_found"]
