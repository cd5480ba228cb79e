"""What a sheet shows beyond its values (issue #11), on one sheet saved by LibreOffice as .xlsx, .xls and .ods
(tests/fixtures/marks/make.py): every format gives the same error cells, hidden rows and columns and percent
cells; the streaming scan of large sheets finds what the quick scan of small ones finds."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from pipelines.intake import safety
from pipelines.intake.sheet_marks import (
    DIFFERENT,
    HIDDEN,
    PERCENT,
    XlsxMarksScan,
    format_kind,
    xlsx_marks_small,
    xlsx_style_kinds,
)

HERE = Path(__file__).parent / "fixtures" / "marks"
# what LibreOffice shows in column C (it computes SQRT(-1) as #VALUE! and an empty intersection as #REF!)
ERRORS = {(0, 2): "#DIV/0!", (1, 2): "#N/A", (2, 2): "#REF!", (3, 2): "#VALUE!", (4, 2): "#NAME?",
          (5, 2): "#VALUE!", (6, 2): "#REF!"}


@pytest.mark.parametrize("ext", ["xlsx", "xls", "ods"])
def test_marks_of_a_sheet_saved_by_libreoffice(ext):
    inspection = safety.inspect(HERE / f"marks.{ext}")
    assert inspection.kind == ext
    marks = inspection.marks["Biểu 04"]
    errors = dict(marks.errors)
    if ext == "ods":  # OpenDocument keeps LibreOffice's own code for the square root of -1
        assert errors.pop((5, 2)) == "Err:502"
        errors[(5, 2)] = "#VALUE!"
    assert errors == ERRORS
    assert marks.hidden_rows == {7} and marks.hidden_cols == {1}
    assert marks.formats[(0, 3)] == PERCENT and marks.formats[(1, 3)] == PERCENT
    assert (2, 3) not in marks.formats and (3, 3) not in marks.formats and (6, 3) not in marks.formats
    assert marks.formats[(4, 3)] == HIDDEN and marks.formats[(5, 3)] == DIFFERENT
    assert (0, 4) not in marks.errors  # =A3*2, computed by LibreOffice
    assert set(inspection.marks) == {"Biểu 04", "Ẩn"}


def test_streaming_scan_finds_what_the_quick_scan_finds():
    from defusedxml import ElementTree

    with zipfile.ZipFile(HERE / "marks.xlsx") as z:
        data = z.read("xl/worksheets/sheet1.xml")
        kinds = xlsx_style_kinds(z.read("xl/styles.xml"))
    quick = xlsx_marks_small(data, kinds)
    scan = XlsxMarksScan(kinds)
    parser = ElementTree.XMLParser(target=scan)
    parser.feed(data)
    parser.close()
    assert quick == scan.close() and quick.errors == ERRORS
    # without cell references the quick scan gives up and the streaming one still places every mark
    bare = data.replace(b' r="C1"', b"")  # C1 follows B1: without its reference it is still C1
    assert xlsx_marks_small(bare, kinds) is None
    scan = XlsxMarksScan(kinds)
    parser = ElementTree.XMLParser(target=scan)
    parser.feed(bare)
    parser.close()
    assert scan.close().errors == ERRORS


@pytest.mark.parametrize("code, kind", [
    ("0%", PERCENT), ("0.00%", PERCENT), ("0.0%;-0.0%;\"-\"", PERCENT), ("#,##0.00", None), ("#,##0", None),
    ('0.00" ha"', None), ('_(* #,##0.00_);_(* (#,##0.00);_(* "-"??_);_(@_)', None), ("General", None), ("@", None),
    ("0.00\\%", None), ("[Red]0.00", None), ('#,##0.00 "tỷ"', None), (";;;", HIDDEN), ("#,##0,", DIFFERENT),
    ("0.0,,", DIFFERENT), ('"Có"', DIFFERENT), ("dd/mm/yyyy", DIFFERENT),
])
def test_number_format_kinds(code, kind):
    assert format_kind(code) == kind


def test_a_sheet_too_large_to_hold_is_marked_while_it_streams(tmp_path):
    """A worksheet part over SMALL_SHEET_BYTES is followed element by element: its error cell, formula without a
    result, hidden row and column and percent cell are found as in a small one."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    for r in range(1, 9_001):
        for c in range(5, 11):
            ws.cell(r, c, r * 1.5 + c)
    ws["C5"] = "#DIV/0!"
    ws["C5"].data_type = "e"
    ws["C6"] = "=1+1"  # openpyxl saves no result
    ws["C7"] = 0.25
    ws["C7"].number_format = "0.00%"
    ws.row_dimensions[9].hidden = True
    ws.column_dimensions["D"].hidden = True
    path = tmp_path / "big.xlsx"
    wb.save(path)
    with zipfile.ZipFile(path) as z:
        assert z.getinfo("xl/worksheets/sheet1.xml").file_size > safety.SMALL_SHEET_BYTES
    marks = safety.inspect(path).marks["Sheet"]
    assert marks.errors == {(4, 2): "#DIV/0!", (5, 2): ""}
    assert marks.formats == {(6, 2): PERCENT}
    assert marks.hidden_rows == {8} and marks.hidden_cols == {3}


def test_opendocument_runs_of_repeated_rows_are_marked_row_by_row_and_hidden_ones_within_the_limits(tmp_path):
    """Two identical rows of a percent and an error cell are written once with number-rows-repeated: both rows are
    marked.  A million hidden empty rows after the table (what "hide the rows below" saves) are marked only up to
    CCN_MAX_ROWS, past which no cell holding something is read anyway."""
    from pipelines.settings import Limits
    from tests.hostile_corpus import ODS_MIME, honest, ods_content, raw_zip

    rows = (b'<table:table-row table:number-rows-repeated="2"><table:table-cell office:value-type="percentage" '
            b'office:value="0.5"/><table:table-cell office:value-type="string" '
            b'xmlns:calcext="urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0" '
            b'calcext:value-type="error"><text:p>#N/A</text:p></table:table-cell></table:table-row>'
            b'<table:table-row table:visibility="collapse" table:number-rows-repeated="1048000"><table:table-cell/>'
            b'</table:table-row>')
    path = tmp_path / "lap.ods"
    path.write_bytes(raw_zip([honest("mimetype", ODS_MIME), honest("content.xml", ods_content(rows))]))
    marks = safety.inspect(path).marks["B04"]
    assert marks.formats == {(0, 0): PERCENT, (1, 0): PERCENT}
    assert marks.errors == {(0, 1): "#N/A", (1, 1): "#N/A"}
    assert marks.hidden_rows == set(range(2, Limits().max_rows))
