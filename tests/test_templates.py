"""``ccn template``: the forms to fill in follow the official text of Circular 14 (read here from the Word file of
the Circular itself), keep their labels locked, offer drop-down lists, and a filled template reads back exactly.
Workbooks built from the Biểu tables of the official text read back exactly too."""

from __future__ import annotations

import random
import zipfile
from pathlib import Path

import pytest

from pipelines.read.identify import resolve_units
from pipelines.read.workbook import read_workbook
from pipelines.steward.templates import LISTS_SHEET, write_register_template, write_template
from schemas.admin import admin
from schemas.forms import load_forms, load_register
from schemas.periods import Period
from tests.helpers import ccn

OFFICIAL = Path("/work/shared/reference/circular14/TT-14-2024-TT-BCT_official_text.docx")
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _docx_forms() -> dict[str, dict]:
    """Appendix I of the Circular: for each Biểu, its title and header paragraphs and its table rows."""
    from defusedxml import ElementTree as ET

    if not OFFICIAL.exists():
        pytest.skip(f"the official text is not on this machine ({OFFICIAL})")
    body = ET.fromstring(zipfile.ZipFile(OFFICIAL).read("word/document.xml")).find(f"{W}body")
    forms: dict[str, dict] = {}
    current = None
    for el in body:
        if el.tag == f"{W}p":
            text = "".join(t.text or "" for t in el.iter(f"{W}t")).strip()
            if text.startswith("Biểu số 0") and ". " in text:
                current = text[8:10]
                forms[current] = {"title": text, "lines": [], "rows": []}
            elif current and text and not forms[current]["rows"]:
                forms[current]["lines"].append(text)
        elif el.tag == f"{W}tbl" and current and not forms[current]["rows"]:
            for tr in el.iter(f"{W}tr"):
                cells = ["".join(t.text or "" for t in tc.iter(f"{W}t")).strip() for tc in tr.findall(f"{W}tc")]
                forms[current]["rows"].append(cells)
            if forms[current]["rows"] and forms[current]["rows"][0][0] != "TT":
                forms[current]["rows"] = []  # a signature table, not the form
    return forms


def test_form_definitions_equal_the_official_text():
    official = _docx_forms()
    assert sorted(official) == ["01", "02", "03", "04"]
    forms = load_forms()
    for code, doc in official.items():
        spec = forms[code]
        district = next(g for g in spec.generations if g.name == "district")
        assert doc["title"] == f"{spec.label}. {district.title}"
        assert f"Đơn vị gửi báo cáo: {district.sender}" in [line.strip() for line in doc["lines"]]
        assert f"Đơn vị nhận báo cáo: {district.receiver}" in doc["lines"]
        header, numbers, *rows = doc["rows"]
        assert header[:5] == ["TT", "Chỉ tiêu", "Đơn vị tính", spec.value_header, "Ghi chú"]
        assert numbers[:5] == ["(1)", "(2)", "(3)", "(4)", "(5)"]
        indicator_rows = [r for r in rows if r[0] not in ("I", "II", "III")]
        assert [r[0] for r in indicator_rows] == [r.code for r in spec.rows]
        for cells, row in zip(indicator_rows, spec.rows, strict=True):
            assert " ".join(cells[1].split()) == row.label_vi and cells[2] == row.unit_vi
        sections = [f"{r[0]}. {r[1]}" for r in rows if r[0] in ("I", "II", "III")]
        assert sections == list(dict.fromkeys(r.section for r in spec.rows if r.section))


@pytest.mark.parametrize("form", ["01", "02", "03", "04"])
def test_workbook_typed_from_the_official_text_reads_back(tmp_path, form):
    """The Biểu as printed in the Circular (title, header lines, table with its section rows), typed cell by cell
    into a sheet with a result in column (4): every value comes back from its own cell."""
    from openpyxl import Workbook

    doc = _docx_forms()[form]
    spec = load_forms()[form]
    rng = random.Random(form)
    wb = Workbook()
    ws = wb.active
    ws.append([doc["title"]])
    for line in doc["lines"]:
        ws.append([line.replace("6 tháng/năm", "6 tháng đầu năm 2025")])
    ws.append(["Tỉnh, thành phố:", "Tỉnh Bắc Giang"])
    if spec.sender_level in ("commune", "cluster", "project"):
        ws.append(["Quận, huyện, thị xã:", "Huyện Lục Nam"])
    if spec.sender_level in ("cluster", "project"):
        ws.append(["Cụm công nghiệp:", "Cụm công nghiệp Đồi Ngô"])
    ws.append([])
    expected, cells = {}, {}
    for cells_text in doc["rows"]:
        code = cells_text[0]
        row = [*cells_text[:5]] + [""] * (5 - len(cells_text[:5]))
        if code in spec.rows_by_code:
            r = spec.row(code)
            value = float(rng.randint(0, 1)) if r.unit == "flag" else float(rng.randint(0, 900)) if r.is_integer \
                else rng.randint(150, 9999) / 100
            row[3] = value
            expected[code] = value
            cells[code] = f"D{ws.max_row + 1}"
        ws.append(row)
    path = tmp_path / f"bieu{form}.xlsx"
    wb.save(path)
    (report,) = read_workbook(path).reports
    assert report.form == form and report.wording == "district"
    assert {c: v.value for c, v in report.values.items()} == expected
    assert {c: v.cell for c, v in report.values.items()} == cells
    assert report.findings == []
    who = resolve_units(report, path.name)
    assert (who.period, who.old_province_code, who.province_code) == (Period(2025, "H1"), "24", "24")
    if spec.sender_level != "province":
        assert who.district_name == "Huyện Lục Nam"


@pytest.mark.parametrize("form,generation", [("01", "commune"), ("02", "commune"), ("03", "commune"),
                                             ("04", "commune"), ("03", "district")])
def test_template_layout_protection_and_drop_downs(tmp_path, form, generation):
    from openpyxl import load_workbook

    path = tmp_path / f"t{form}.xlsx"
    layout = write_template(path, form, generation=generation)
    wb = load_workbook(path)
    spec = load_forms()[form]
    ws = wb[spec.label]
    assert wb[LISTS_SHEET].sheet_state == "hidden"
    assert ws.protection.sheet is True
    # the official title and wording of the generation
    gen = next(g for g in spec.generations if g.name == generation)
    assert ws["A1"].value == f"{spec.label}. {gen.title}"
    texts = {str(c.value) for row in ws.iter_rows() for c in row if c.value is not None}
    assert f"Đơn vị nhận báo cáo: {gen.receiver}" in texts
    # labels locked, column (4) and the identification values open
    notes = {f"E{ref[1:]}" for ref in layout["values"].values()}  # Ghi chú beside each value
    open_cells = set(layout["values"].values()) | set(layout["ident"].values()) | notes
    for row in ws.iter_rows():
        for c in row:
            if c.coordinate in open_cells:
                assert c.protection.locked is False, c.coordinate
            elif c.value is not None:
                assert c.protection.locked is not False, c.coordinate
    for code, ref in layout["values"].items():
        r = ws[ref].row
        assert ws.cell(r, 2).value == spec.row(code).label_vi and ws.cell(r, 3).value == spec.row(code).unit_vi
        unit = spec.row(code).unit
        assert ws[ref].number_format == {"billion_vnd": "#,##0.000", "ha": "#,##0.00", "percent": "#,##0.00",
                                         "million_vnd_per_person_month": "#,##0.00"}.get(unit, "#,##0")
    # drop-down lists: province from the hidden sheet, commune/district by INDIRECT on the province's code
    validations = {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}
    province = validations[layout["ident"]["province"]]
    assert province.type == "list" and LISTS_SHEET in province.formula1
    lower = "district" if generation == "district" else "commune"
    if lower in layout["ident"]:
        assert validations[layout["ident"][lower]].formula1.startswith("INDIRECT(")
    assert validations[layout["ident"]["period"]].formula1 == '"6 tháng đầu năm,Năm"'
    n_provinces = 63 if generation == "district" else 34
    assert wb[LISTS_SHEET].cell(n_provinces + 1, 1).value and wb[LISTS_SHEET].cell(n_provinces + 2, 1).value is None
    assert f"DS_{'15' if generation == 'commune' else '10'}" in wb.defined_names


@pytest.mark.parametrize("form", ["01", "02", "03", "04"])
def test_a_filled_template_reads_back_exactly(tmp_path, form):
    """A steward picks province and commune from the drop-downs (the list sheet's own entries) and types values."""
    from openpyxl import load_workbook

    path = tmp_path / f"t{form}.xlsx"
    layout = write_template(path, form, province_code="15")
    wb = load_workbook(path)
    spec = load_forms()[form]
    ws, lists = wb[spec.label], wb[LISTS_SHEET]
    ident = layout["ident"]
    ws[ident["province"]] = lists["A2"].value
    assert lists["A2"].value == "15 - Tỉnh Lào Cai" and lists["A3"].value is None  # --province 15: one province
    commune = lists["B40"].value
    if "commune" in ident:
        ws[ident["commune"]] = commune
    if "cluster" in ident:
        ws[ident["cluster"]] = "Cụm công nghiệp Bắc Văn Yên"
        ws[ident["tax_code"]] = "5200123456"
    if "project" in ident:
        ws[ident["project"]] = "Nhà máy chế biến gỗ Văn Yên"
    ws[ident["sender"]] = "Sở Công Thương tỉnh Lào Cai" if form == "04" else "Ủy ban nhân dân xã Đông Cuông"
    ws[ident["period"]] = "6 tháng đầu năm"
    ws[ident["year"]] = 2026
    rng = random.Random(form)
    expected = {}
    ws[f"E{layout['values'][spec.rows[0].code][1:]}"] = "Số liệu ước tính"
    for code, ref in layout["values"].items():
        row = spec.row(code)
        value = float(rng.randint(0, 1)) if row.unit == "flag" else float(rng.randint(0, 5000)) if row.is_integer \
            else rng.randint(150, 999_999) / 100
        ws[ref] = value
        expected[code] = value
    wb.save(path)
    (report,) = read_workbook(path).reports
    assert report.findings == []
    assert {c: v.value for c, v in report.values.items()} == expected
    assert {c: v.note for c, v in report.values.items() if v.note} == {spec.rows[0].code: "Số liệu ước tính"}
    who = resolve_units(report, path.name)
    assert who.findings == [] and (who.province_code, who.period) == ("15", Period(2026, "H1"))
    if "commune" in ident:
        assert who.commune_code == commune.split(" - ")[0]
    if form == "02":
        assert (who.cluster_name, who.tax_code) == ("Cụm công nghiệp Bắc Văn Yên", "5200123456")


def test_register_template(tmp_path):
    from openpyxl import load_workbook

    path = tmp_path / "reg.xlsx"
    layout = write_register_template(path, province_code="15")
    wb = load_workbook(path)
    ws = wb["Danh sách CCN"]
    reg = load_register()
    assert [ws.cell(layout["header_row"], j).value for j in range(1, len(reg.columns) + 2)] == \
        ["TT"] + [c.label for c in reg.columns]
    assert ws.protection.sheet is True and wb[LISTS_SHEET].sheet_state == "hidden"
    first = layout["first_row"]
    assert ws.cell(first, 2).protection.locked is False and ws.cell(layout["header_row"], 2).protection.locked is True
    kinds = {str(dv.sqref).split(":")[0][:1]: dv for dv in ws.data_validations.dataValidation}
    status_col = "E"  # TT, name, commune, kind, status
    assert kinds[status_col].formula1 == '"' + ",".join(reg.columns[3].choices) + '"'
    assert kinds["C"].formula1.startswith(f"'{LISTS_SHEET}'!$B$2")  # one province: its communes directly
    n = len([c for c in admin().communes.values() if c.province_code == "15"])
    assert kinds["C"].formula1.endswith(f"${n + 1}")


def test_ccn_template_command(tmp_path, capsys):
    out = tmp_path / "b02.xlsx"
    assert ccn("template", "02", "--out", str(out)) == 0
    assert out.exists() and "Biểu số 02" in capsys.readouterr().out
    assert ccn("template", "register", "--province", "15", "--out", str(tmp_path / "r.xlsx")) == 0
    assert ccn("template", "03", "--generation", "district", "--province", "10", "--out", str(tmp_path / "d.xlsx")) == 0
    assert ccn("template", "03", "--province", "99", "--out", str(tmp_path / "x.xlsx")) == 2
    assert "not a province code" in capsys.readouterr().err
    assert ccn("template", "03", "--out", str(tmp_path / "x.xls")) == 2
    with pytest.raises(SystemExit):
        ccn("template", "05", "--out", str(tmp_path / "y.xlsx"))
