"""Regenerate the office-suite corpus: workbooks drafted with openpyxl, computed and saved by LibreOffice.

Issue 11 ("A corpus from a real office suite").  Every case is drafted from the project's own writers
(``pipelines.steward.templates.write_form_layout`` with data made by ``pipelines.sample``, or ``write_template`` for
the filled templates), so identification lines name real 2025 units and the period 2026-H1 and the files would be
accepted when nothing is wrong.  LibreOffice (headless, a throw-away profile whose locale is vi-VN and which
recalculates on load) then opens each draft, computes every formula and saves it as ``.xlsx``, ``.xls`` and
``.ods`` under ``files/<format>/``.  What a person sees is then taken from LibreOffice itself, not from the draft:
each saved file is exported again, every sheet to CSV with "save cell contents as shown" (a second profile that
never recalculates, so the text shown is the cached result the file carries), and the text of every result cell
is recorded in ``truth.json``.

Run (not in CI; the generated files are committed)::

    .venv/bin/python tests/corpus/make_corpus.py            # all cases
    .venv/bin/python tests/corpus/make_corpus.py --only err_div0 --keep-drafts /tmp/drafts

Truth format (``tests/corpus/truth.json``)::

    {"locale": "vi-VN",                       # how LibreOffice displayed numbers: "1.234,50", "63,44%", "12,50 ha"
     "period": "2026-H1",
     "files": [
      {"file": "xlsx/formulas_03.xlsx",       # relative to tests/corpus/files
       "case": "formulas_03", "format": "xlsx",
       "classes": ["formula", "number_format"],               # what the case exercises (see CASES)
       "sheets": [                                            # every sheet holding a form, hidden ones included
        {"sheet": "Biểu 03", "form": "03", "hidden": false,
         "cells": {"1": ["D20", "12"], "19": ["D44", "63,44%"], ...},   # code -> [result cell, text shown]
         "other": {"D20": "10", ...},                         # other cells of interest (a hidden column's results)
         "hidden_cells": ["D20", ...]}],                      # which of those cells LibreOffice keeps on a hidden
                                                              # row or column ("hidden": the sheet is hidden)
       "expected": {
         "status": "accepted" | "rejected",
         # accepted: the numbers a reader must load, derived from the text shown ("63,44%" on a % row -> 63.44,
         # "1.234,50" -> 1234.5, "-" in an accounting format -> 0, "12,50 ha" -> 12.5); tolerance = half a unit
         # of the last digit shown ("63%" -> 0.5, "63,44%" -> 0.005); a cell shown blank has no value
         "reports": [{"sheet": "Biểu 03", "form": "03", "values": {"1": 12.0, ...}, "tolerance": {"1": 0.5, ...},
                      "percent_formatted": ["19"]}],          # codes whose cell has a percent number format
         # rejected: every error a reader must report; "cell": null = about the sheet, any cell
         "errors": [{"rule_id": "value.formula_error", "sheet": "Biểu 03", "cell": "D44"}],
         "warnings": [{"rule_id": "structure.hidden_column_ignored", "sheet": "Biểu 02", "cell": null}]}}]}

Rule ids of the classes the reader learns in issue 11: ``value.formula_error`` (error at the cell showing it),
``value.hidden`` (error: a result on a hidden row, or the only result column hidden; at that cell),
``structure.hidden_column_ignored`` (warning: a hidden column also headed as result was ignored),
``structure.value_column_ambiguous`` (error: two visible result columns), ``structure.form_on_hidden_sheet``
(error: the only form is on a hidden sheet; a hidden copy of a visible form is ignored silently).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from openpyxl import Workbook, load_workbook  # noqa: E402
from openpyxl.cell.rich_text import CellRichText, TextBlock  # noqa: E402
from openpyxl.cell.text import InlineFont  # noqa: E402
from openpyxl.styles import Font, Protection  # noqa: E402
from openpyxl.utils import column_index_from_string, get_column_letter  # noqa: E402
from openpyxl.utils.cell import coordinate_from_string  # noqa: E402
from openpyxl.workbook.defined_name import DefinedName  # noqa: E402
from openpyxl.worksheet.datavalidation import DataValidation  # noqa: E402

from pipelines.sample import generator as sample  # noqa: E402
from pipelines.steward.templates import (  # noqa: E402
    FormContent,
    Identification,
    Typing,
    write_form_layout,
    write_template,
)
from schemas.admin import admin  # noqa: E402
from schemas.forms import load_forms  # noqa: E402
from schemas.periods import Period  # noqa: E402

PERIOD = Period.parse("2026-H1")
FORMATS = ("xlsx", "xls", "ods")
LOCALE = "vi-VN"
CSV_FILTER = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false,false,-1"  # as shown, all sheets
ACCOUNTING = '_-* #,##0.00_-;-* #,##0.00_-;_-* "-"??_-;_-@_-'  # zero shown as "-"
ERRORS = ("#DIV/0!", "#N/A", "#REF!", "#VALUE!", "#NAME?", "#NUM!", "#NULL!")


# --- units and numbers: real units, figures made by pipelines.sample -------------------------------------------
class World:
    """Hands out distinct real units (a province per Biểu 04, a commune per Biểu 03, a cluster per Biểu 02, a
    project per Biểu 01) so that no two cases report for the same unit and the pipeline keeps every one."""

    def __init__(self, seed: int = 11):
        self.rng = random.Random(seed)
        self.a = admin()
        self.provinces = sorted(self.a.provinces)
        self.next_province = 0
        self.pool: list[tuple[str, list[sample.Cluster]]] = []

    def province(self) -> tuple[str, list[sample.Cluster]]:
        """A fresh province and its clusters (all operating, so every form has figures)."""
        code = self.provinces[(7 + 3 * self.next_province) % len(self.provinces)]
        self.next_province += 1
        communes = sorted((c for c in self.a.communes.values() if c.province_code == code), key=lambda c: c.code)
        chosen = self.rng.sample(communes, 6)
        while True:
            clusters = sample._clusters_for(self.rng, code, chosen, 10)
            for c in clusters:
                c.status = "operating"
                sample._fill_cluster(self.rng, c, PERIOD)
            if all(c.projects for c in clusters):
                break
        return code, clusters

    def _cluster(self) -> sample.Cluster:
        if not self.pool or not self.pool[-1][1]:
            code, clusters = self.province()
            self.pool.append((code, list(clusters)))
        return self.pool[-1][1].pop()

    def ident(self, pcode: str, **kw) -> Identification:
        return Identification(province=self.a.provinces[pcode].label, period=PERIOD, **kw)

    def b04(self) -> FormContent:
        code, clusters = self.province()
        prov = self.a.provinces[code]
        return FormContent("04", self.ident(code, sender=f"Sở Công Thương {prov.name}"), sample.aggregate(clusters))

    def b03(self) -> FormContent:
        code, clusters = self.province()
        ccode = clusters[0].commune_code
        commune = self.a.communes[ccode]
        mine = [c for c in clusters if c.commune_code == ccode]
        return FormContent("03", self.ident(code, commune=commune.label, sender=f"Ủy ban nhân dân {commune.name}"),
                           sample.aggregate(mine))

    def b03_pair(self) -> list[FormContent]:
        """Biểu 03 of two communes of one province (a bundle)."""
        code, clusters = self.province()
        out = []
        for ccode in sorted({c.commune_code for c in clusters})[:2]:
            commune = self.a.communes[ccode]
            mine = [c for c in clusters if c.commune_code == ccode]
            out.append(FormContent("03", self.ident(code, commune=commune.label,
                                                    sender=f"Ủy ban nhân dân {commune.name}"), sample.aggregate(mine)))
        return out

    def b02(self, c: sample.Cluster | None = None) -> FormContent:
        c = c or self._cluster()
        commune = self.a.communes[c.commune_code]
        return FormContent("02", self.ident(c.province_code, commune=commune.label, cluster=c.name,
                                            tax_code=c.tax_code, sender=c.investor), dict(c.b02))

    def b01(self, c: sample.Cluster | None = None) -> FormContent:
        c = c or self._cluster()
        p = c.projects[0]
        commune = self.a.communes[c.commune_code]
        return FormContent("01", self.ident(c.province_code, commune=commune.label, cluster=c.name,
                                            tax_code=p["tax_code"], project=p["name"], sector=p["sector"],
                                            sender=p["company"]), dict(p["values"]))

    def b02_01(self) -> list[FormContent]:
        c = self._cluster()
        return [self.b02(c), self.b01(c)]


# --- drafting helpers --------------------------------------------------------------------------------------------
@dataclass
class SheetDraft:
    sheet: str
    form: str
    cells: dict[str, str]  # code -> result cell
    hidden: bool = False
    other: list[str] = field(default_factory=list)  # other cells whose shown text is recorded
    percent: list[str] = field(default_factory=list)  # codes with a percent number format
    hidden_cells: list[str] = field(default_factory=list)  # result (and other) cells on a hidden row or column


@dataclass
class Draft:
    sheets: list[SheetDraft]
    status: str  # accepted | rejected
    errors: list[tuple[str, str, str | None]] = field(default_factory=list)  # rule, sheet, cell
    warnings: list[tuple[str, str, str | None]] = field(default_factory=list)
    intended: dict[str, dict[str, float]] = field(default_factory=dict)  # sheet -> code -> what the draft meant


def _spec(form: str):
    return load_forms()[form]


def _unit(form: str, code: str) -> str:
    return _spec(form).row(code).unit


def put_form(ws, content: FormContent, typing: Typing | None = None) -> dict[str, dict[str, str]]:
    return write_form_layout(ws, content, typing)


def shift_cell(ref: str, at: int, n: int = 1) -> str:
    col, row = coordinate_from_string(ref)
    c = column_index_from_string(col)
    return f"{get_column_letter(c + n if c >= at else c)}{row}"


def insert_column(ws, at: int, layout: dict[str, dict[str, str]]) -> None:
    """Insert a column before column ``at`` (1-based), moving merged ranges, widths and the layout's cells."""
    merged = [(m.min_row, m.min_col, m.max_row, m.max_col) for m in ws.merged_cells.ranges]
    for m in list(ws.merged_cells.ranges):
        ws.unmerge_cells(str(m))
    widths = {column_index_from_string(k): v.width for k, v in ws.column_dimensions.items() if v.width}
    ws.insert_cols(at)
    for r1, c1, r2, c2 in merged:
        ws.merge_cells(start_row=r1, start_column=c1 + (c1 >= at), end_row=r2, end_column=c2 + (c2 >= at))
    for c, w in sorted(widths.items(), reverse=True):
        ws.column_dimensions[get_column_letter(c + (c >= at))].width = w
    ws.column_dimensions[get_column_letter(at)].width = widths.get(at, 16)
    for part in layout.values():
        for k, ref in part.items():
            part[k] = shift_cell(ref, at)


def header_row_of(ws, cells: dict[str, str], value_header: str) -> int:
    first = min(int(coordinate_from_string(r)[1]) for r in cells.values())
    for r in range(first - 1, 0, -1):
        if any(ws.cell(r, c).value == value_header for c in range(1, ws.max_column + 1)):
            return r
    raise ValueError("header not found")


def col_of(ref: str) -> int:
    return column_index_from_string(coordinate_from_string(ref)[0])


def row_of(ref: str) -> int:
    return coordinate_from_string(ref)[1]


def with_col(ref: str, col: int) -> str:
    return f"{get_column_letter(col)}{row_of(ref)}"


def plain_values(content: FormContent) -> dict[str, float]:
    return {k: float(v) for k, v in content.values.items() if isinstance(v, (int, float))}


def new_book() -> Workbook:
    wb = Workbook()
    wb.remove(wb.active)
    return wb


def one_form(content: FormContent, typing: Typing | None = None, sheet: str | None = None):
    wb = new_book()
    ws = wb.create_sheet(sheet or f"Biểu {content.form}")
    layout = put_form(ws, content, typing)
    return wb, ws, layout


# --- the cases ---------------------------------------------------------------------------------------------------
def case_formulas_03(w: World, path: Path) -> Draft:
    """Biểu 03 whose totals are formulas: 15 = 15.1 + 15.2, 16 = SUM(16.1:16.2), 19 = ROUND(18/17*100, 2)."""
    content = w.b03()
    wb, ws, layout = one_form(content)
    c = layout["values"]
    ws[c["15"]] = f"={c['15.1']}+{c['15.2']}"
    ws[c["16"]] = f"=SUM({c['16.1']}:{c['16.2']})"
    ws[c["19"]] = f"=ROUND({c['18']}/{c['17']}*100,2)"
    for code, ref in c.items():
        counts = ("clusters", "projects", "persons", "flag")
        ws[ref].number_format = "#,##0" if _unit("03", code) in counts else "#,##0.00"
    wb.save(path)
    return Draft([SheetDraft(ws.title, "03", c)], "accepted", intended={ws.title: plain_values(content)})


def case_formats_04(w: World, path: Path) -> Draft:
    """Biểu 04 in the number formats offices use: accounting (zero shown as "-"), ``0.00" ha"`` on hectare rows,
    ``#,##0`` on counts and the average occupancy (19) as a fraction in ``0.00%``, computed by ROUND(18/17, 4)."""
    content = w.b04()
    content.values["6"] = 0.0
    content.values["5"] = 0.0
    content.values["21"] = 0.0
    wb, ws, layout = one_form(content)
    c = layout["values"]
    for code, ref in c.items():
        unit = _unit("04", code)
        ws[ref].number_format = {"ha": '0.00" ha"', "billion_vnd": ACCOUNTING, "percent": "0.00%"}.get(unit, "#,##0")
    ws[c["6"]].number_format = ACCOUNTING  # an area of 0 shown as "-"
    ws[c["21"]].number_format = '_-* #,##0_-;-* #,##0_-;_-* "-"_-;_-@_-'
    ws[c["19"]] = f"=ROUND({c['18']}/{c['17']},4)"
    wb.save(path)
    return Draft([SheetDraft(ws.title, "04", c, percent=["19"])], "accepted",
                 intended={ws.title: plain_values(content)})


def case_percent_02(w: World, path: Path) -> Draft:
    """Biểu 02 with the occupancy (5) as a fraction in ``0%``: 0.6344 shows "63%", which is what a person reads."""
    content = w.b02()
    wb, ws, layout = one_form(content)
    c = layout["values"]
    ws[c["5"]] = round(content.values["5"] / 100, 4)
    ws[c["5"]].number_format = "0%"
    wb.save(path)
    return Draft([SheetDraft(ws.title, "02", c, percent=["5"])], "accepted", intended={ws.title: plain_values(content)})


def case_formulas_01(w: World, path: Path) -> Draft:
    """Biểu 01 whose budget payment (2) is ``=ROUND(revenue * rate, 2)`` and revenue a SUM of two halves."""
    content = w.b01()
    wb, ws, layout = one_form(content)
    c = layout["values"]
    rev = content.values["1"]
    half = round(rev / 2, 2)
    ws["H1"], ws["H2"] = half, round(rev - half, 2)
    ws["G1"], ws["G2"] = "Quý I", "Quý II"
    ws[c["1"]] = "=SUM(H1:H2)"
    rate = round(content.values["2"] / rev, 4) if rev else 0
    ws["H3"], ws["G3"] = rate, "Tỷ lệ nộp NSNN"
    ws[c["2"]] = f"=ROUND({c['1']}*H3,2)"
    wb.save(path)
    # the budget payment becomes what the formula computes; the displayed figure is the truth anyway
    intended = plain_values(content)
    intended["2"] = round(round(half + round(rev - half, 2), 2) * rate, 2)
    return Draft([SheetDraft(ws.title, "01", c)], "accepted", intended={ws.title: intended})


def case_features_02(w: World, path: Path) -> Draft:
    """Biểu 02 as a careful office leaves it: rich-text labels, merged notes, a named range over the results,
    sheet protection with the results open, data validation on the result column, frozen panes."""
    content = w.b02()
    wb, ws, layout = one_form(content, sheet="CCN")
    c = layout["values"]
    spec = _spec("02")
    for ref in c.values():
        label_ref = with_col(ref, col_of(ref) - 2)
        text = ws[label_ref].value
        first, _, rest = text.partition(" ")
        ws[label_ref] = CellRichText([TextBlock(InlineFont(b=True, color="FF1F4E79"), first), " " + rest])
        ws[ref].protection = Protection(locked=False)
    rows = sorted(row_of(r) for r in c.values())
    note_col = col_of(c["1"]) + 1
    ws.cell(rows[0], note_col, "Số liệu lũy kế")
    ws.merge_cells(start_row=rows[0], start_column=note_col, end_row=rows[2], end_column=note_col)
    vc = get_column_letter(col_of(c["1"]))
    wb.defined_names["KetQua"] = DefinedName("KetQua", attr_text=f"'CCN'!${vc}${rows[0]}:${vc}${rows[-1]}")
    wb.defined_names["TyLeLapDay"] = DefinedName("TyLeLapDay", attr_text=f"'CCN'!${vc}${row_of(c['5'])}")
    dv = DataValidation(type="decimal", operator="greaterThanOrEqual", formula1="0", allow_blank=True,
                        showErrorMessage=True, error="Ghi một con số không âm")
    ws.add_data_validation(dv)
    dv.add(f"{vc}{rows[0]}:{vc}{rows[-1]}")
    flags = DataValidation(type="whole", operator="between", formula1="0", formula2="1", showErrorMessage=True)
    ws.add_data_validation(flags)
    flags.add(c["13"])
    flags.add(c["14"])
    ws.protection.sheet = True
    ws.freeze_panes = f"A{rows[0]}"
    assert spec.rows
    wb.save(path)
    return Draft([SheetDraft(ws.title, "02", c)], "accepted", intended={ws.title: plain_values(content)})


def case_offset_03(w: World, path: Path) -> Draft:
    """Biểu 03 starting at row 8, column C: a logo line and the agency's letterhead first, the header over two
    merged rows, no (1)…(5) row, a footnote and signatures below."""
    content = w.b03()
    wb = new_book()
    ws = wb.create_sheet("BC 6 thang")
    layout = put_form(ws, content, Typing(row_offset=7, col_offset=2, merged_header=True, numbered_row=False,
                                          footnotes=True))
    ws["C2"] = "ỦY BAN NHÂN DÂN"
    ws["C3"] = content.ident.sender.upper()
    ws.merge_cells("C3:E3")
    ws["C3"].font = Font(bold=True)
    c = layout["values"]
    ws[c["15"]] = f"={c['15.1']}+{c['15.2']}"
    wb.save(path)
    return Draft([SheetDraft(ws.title, "03", c)], "accepted", intended={ws.title: plain_values(content)})


def case_bundle_03(w: World, path: Path) -> Draft:
    """One workbook, the Biểu 03 of two communes of one province, one sheet each, sheets named by commune."""
    wb = new_book()
    sheets, intended = [], {}
    for content in w.b03_pair():
        name = content.ident.commune.split(" - ", 1)[1][:31]
        ws = wb.create_sheet(name)
        layout = put_form(ws, content)
        c = layout["values"]
        ws[c["16"]] = f"={c['16.1']}+{c['16.2']}"
        sheets.append(SheetDraft(name, "03", c))
        intended[name] = plain_values(content)
    wb.save(path)
    return Draft(sheets, "accepted", intended=intended)


def case_bundle_02_01(w: World, path: Path) -> Draft:
    """A cluster investor's workbook: its Biểu 02 and the Biểu 01 of one project, plus a notes sheet."""
    wb = new_book()
    notes = wb.create_sheet("Ghi chú")
    notes["A1"] = "Báo cáo gửi kèm: Biểu 02 của chủ đầu tư hạ tầng và Biểu 01 của dự án trong cụm."
    sheets, intended = [], {}
    for content, name in zip(w.b02_01(), ("Bieu 02 CDT", "Bieu 01 du an"), strict=True):
        ws = wb.create_sheet(name)
        layout = put_form(ws, content, Typing(col_offset=1))
        sheets.append(SheetDraft(name, content.form, layout["values"]))
        intended[name] = plain_values(content)
    wb.save(path)
    return Draft(sheets, "accepted", intended=intended)


def _cells_in(formula: str, c: dict[str, str]) -> str:
    """``{18}`` -> the result cell of row 18; ``{note:17}`` -> the Ghi chú cell beside it."""
    def one(m):
        ref = c[m.group(2)]
        return with_col(ref, col_of(ref) + 1) if m.group(1) else ref
    return re.sub(r"\{(note:)?([\d.]+)\}", one, formula)


def _error_case(form: str, code: str, formula: str, shows: str, doc: str, note_text: str | None = None):
    def build(w: World, path: Path) -> Draft:
        content = getattr(w, f"b{form}")()
        wb, ws, layout = one_form(content)
        c = layout["values"]
        ws["H1"], ws["I1"] = "Bảng tra", "Giá trị"
        ws["H2"], ws["I2"] = "Lương bình quân 2025", 8.5
        ws[c[code]] = _cells_in(formula, c)
        if note_text:
            ws[with_col(c[code], col_of(c[code]) + 1)] = note_text
        wb.save(path)
        intended = plain_values(content)
        intended.pop(code, None)
        return Draft([SheetDraft(ws.title, form, c)], "rejected", errors=[("value.formula_error", ws.title, c[code])],
                     intended={ws.title: intended})

    build.__doc__ = doc
    build.shows = shows
    return build


case_err_div0 = _error_case("03", "19", "=ROUND({18}/{note:17}*100,2)", "#DIV/0!",
                            "Biểu 03: the average occupancy divides by the (empty) note column: #DIV/0!")
case_err_na = _error_case("02", "12", '=VLOOKUP("Lương bình quân 2026",H2:I2,2,0)', "#N/A",
                          "Biểu 02: the average wage looked up in a table that lacks the year: #N/A")
case_err_ref = _error_case("04", "13", "=SUM(#REF!)+{14}", "#REF!",
                           "Biểu 04: a total whose source rows were deleted: #REF!")
case_err_value = _error_case("01", "3", "={note:3}+0", "#VALUE!",
                             "Biểu 01: the workers count adds the words typed in its note: #VALUE!", "khoảng 20")
case_err_name = _error_case("02", "9", "=SUMM(H2:I2)", "#NAME?",
                            "Biểu 02: a misspelt function: #NAME?")
case_err_num = _error_case("03", "13", "={14}*10^400", "#NUM!",
                           "Biểu 03: a result too large for a number: #NUM!")
case_err_null = _error_case("04", "23", "=SUM({24},#NULL!)", "#NULL!",
                            "Biểu 04: a formula keeping the #NULL! Excel wrote for an empty intersection (LibreOffice "
                            "computes an empty intersection as #REF!, so the error is written as a constant): #NULL!")
case_err_lo502 = _error_case("02", "1", "=SQRT(-{2})*10", ("Err:502", "#NUM!", "#VALUE!"),
                             "Biểu 02: an invalid argument (square root of a negative number): LibreOffice shows its "
                             "own code Err:502, and what it writes for it depends on the format")


def case_hidden_prev_column(w: World, path: Path) -> Draft:
    """Biểu 02 keeping last period's results in a hidden column, also headed "Kết quả", left of the visible one:
    the visible column is read and the hidden one ignored with a warning."""
    content = w.b02()
    wb, ws, layout = one_form(content)
    spec = _spec("02")
    value_col = col_of(layout["values"]["1"])
    insert_column(ws, value_col, layout)
    hidden_col = value_col
    c = layout["values"]
    hr = header_row_of(ws, c, spec.value_header)
    ws.cell(hr, hidden_col, spec.value_header).font = Font(bold=True)
    ws.cell(hr + 1, hidden_col, "(4)")
    rng = random.Random(2)
    other = []
    for code, ref in c.items():
        v = content.values[code]
        if _unit("02", code) == "flag":
            old = v
        elif isinstance(v, float) and not v.is_integer():
            old = round(v * rng.uniform(0.6, 0.9), 2)
        else:
            old = max(0, int(v) - rng.randint(1, 3))
        ws.cell(row_of(ref), hidden_col, old)
        other.append(with_col(ref, hidden_col))
    ws.column_dimensions[get_column_letter(hidden_col)].hidden = True
    wb.save(path)
    return Draft([SheetDraft(ws.title, "02", c, other=other, hidden_cells=other)], "accepted",
                 warnings=[("structure.hidden_column_ignored", ws.title, None)],
                 intended={ws.title: plain_values(content)})


def case_two_result_columns(w: World, path: Path) -> Draft:
    """Biểu 02 with two visible columns headed "Kết quả" (last period's and this one's): which is the report
    cannot be told, the sheet is refused."""
    content = w.b02()
    wb, ws, layout = one_form(content)
    spec = _spec("02")
    value_col = col_of(layout["values"]["1"])
    insert_column(ws, value_col, layout)
    c = layout["values"]
    hr = header_row_of(ws, c, spec.value_header)
    ws.cell(hr, value_col, spec.value_header).font = Font(bold=True)
    ws.cell(hr + 1, value_col, "(4)")
    other = []
    for code, ref in c.items():
        ws.cell(row_of(ref), value_col, content.values[code])
        other.append(with_col(ref, value_col))
    wb.save(path)
    return Draft([SheetDraft(ws.title, "02", c, other=other)], "rejected",
                 errors=[("structure.value_column_ambiguous", ws.title, None)],
                 intended={ws.title: plain_values(content)})


def case_hidden_result_column(w: World, path: Path) -> Draft:
    """Biểu 03 whose only result column is hidden: a person sees no figures, none may be loaded."""
    content = w.b03()
    wb, ws, layout = one_form(content)
    c = layout["values"]
    ws.column_dimensions[get_column_letter(col_of(c["1"]))].hidden = True
    wb.save(path)
    errors = [("value.hidden", ws.title, ref) for ref in c.values()]
    return Draft([SheetDraft(ws.title, "03", c, hidden_cells=list(c.values()))], "rejected", errors=errors,
                 intended={ws.title: plain_values(content)})


def case_hidden_row(w: World, path: Path) -> Draft:
    """Biểu 04 with row 15.3 (craft-village clusters) hidden, its figure still in the cell."""
    content = w.b04()
    wb, ws, layout = one_form(content)
    c = layout["values"]
    ws.row_dimensions[row_of(c["15.3"])].hidden = True
    wb.save(path)
    return Draft([SheetDraft(ws.title, "04", c, hidden_cells=[c["15.3"]])], "rejected",
                 errors=[("value.hidden", ws.title, c["15.3"])],
                 intended={ws.title: plain_values(content)})


def case_hidden_blank_row(w: World, path: Path) -> Draft:
    """Biểu 02 with an empty spare row hidden inside the table (between rows 8 and 9): nothing hidden holds a value,
    the file is read as shown."""
    content = w.b02()
    wb, ws, layout = one_form(content)
    c = layout["values"]
    at = row_of(c["9"])
    merged = [(m.min_row, m.min_col, m.max_row, m.max_col) for m in ws.merged_cells.ranges]
    for m in list(ws.merged_cells.ranges):
        ws.unmerge_cells(str(m))
    ws.insert_rows(at)
    for r1, c1, r2, c2 in merged:
        ws.merge_cells(start_row=r1 + (r1 >= at), start_column=c1, end_row=r2 + (r2 >= at), end_column=c2)
    for code, ref in list(c.items()):
        if row_of(ref) >= at:
            c[code] = f"{coordinate_from_string(ref)[0]}{row_of(ref) + 1}"
    ws.row_dimensions[at].hidden = True
    wb.save(path)
    return Draft([SheetDraft(ws.title, "02", c)], "accepted", intended={ws.title: plain_values(content)})


def case_hidden_sheet_copy(w: World, path: Path) -> Draft:
    """Biểu 02 on a visible sheet and last period's copy of it on a hidden sheet: one report, the visible one."""
    content = w.b02()
    wb = new_book()
    ws = wb.create_sheet("Biểu 02")
    layout = put_form(ws, content)
    old = FormContent("02", content.ident, {k: (v if _unit("02", k) == "flag" else round(float(v) * 0.8, 2))
                                            for k, v in content.values.items()})
    for code in ("6", "7", "8", "11"):
        old.values[code] = float(int(old.values[code]))
    ws2 = wb.create_sheet("Biểu 02 (kỳ trước)")
    layout2 = put_form(ws2, old)
    ws2.sheet_state = "hidden"
    wb.save(path)
    return Draft([SheetDraft(ws.title, "02", layout["values"]),
                  SheetDraft(ws2.title, "02", layout2["values"], hidden=True)], "accepted",
                 intended={ws.title: plain_values(content)})


def case_form_on_hidden_sheet(w: World, path: Path) -> Draft:
    """The only Biểu 03 of the workbook sits on a hidden sheet; the visible sheet holds only a cover note."""
    content = w.b03()
    wb = new_book()
    cover = wb.create_sheet("Bìa")
    cover["A1"] = "BÁO CÁO TÌNH HÌNH CỤM CÔNG NGHIỆP 6 THÁNG ĐẦU NĂM 2026"
    cover["A3"] = content.ident.sender
    ws = wb.create_sheet("Biểu 03")
    layout = put_form(ws, content)
    ws.sheet_state = "hidden"
    wb.active = 0
    wb.save(path)
    return Draft([SheetDraft(ws.title, "03", layout["values"], hidden=True)], "rejected",
                 errors=[("structure.form_on_hidden_sheet", ws.title, None)], intended={})


def _template_case(form: str):
    def build(w: World, path: Path) -> Draft:
        content = getattr(w, f"b{form}")()
        pcode = content.ident.province.split(" - ", 1)[0]
        layout = write_template(path, form, province_code=pcode)
        wb = load_workbook(path)
        ws = wb[_spec(form).label]
        ident = layout["ident"]
        i = content.ident
        a = w.a
        fills = {"province": f"{pcode} - {a.provinces[pcode].name}", "sender": i.sender, "period": "6 tháng đầu năm",
                 "year": PERIOD.year, "cluster": i.cluster, "tax_code": i.tax_code, "project": i.project,
                 "sector": i.sector}
        if i.commune:
            ccode = i.commune.split(" - ", 1)[0]
            fills["commune"] = f"{ccode} - {a.communes[ccode].name}"
        for name, ref in ident.items():
            if fills.get(name) not in (None, ""):
                ws[ref] = fills[name]
        spec = _spec(form)
        for code, ref in layout["values"].items():
            v = float(content.values[code])
            ws[ref] = int(v) if spec.row(code).is_integer or spec.row(code).unit == "flag" else v
        wb.save(path)
        return Draft([SheetDraft(ws.title, form, layout["values"])], "accepted",
                     intended={ws.title: plain_values(content)})

    build.__doc__ = f"The `ccn template {form} --province …` workbook, filled in by typing, re-saved by LibreOffice."
    return build


CASES = {
    # name: (builder, classes)
    "formulas_03": (case_formulas_03, ["formula", "number_format"]),
    "formulas_01": (case_formulas_01, ["formula"]),
    "formats_04": (case_formats_04, ["number_format", "accounting_zero", "unit_format", "percent_format", "formula"]),
    "percent_02": (case_percent_02, ["percent_format"]),
    "features_02": (case_features_02, ["rich_text", "merged", "named_range", "protection", "data_validation"]),
    "offset_03": (case_offset_03, ["offset", "merged", "formula"]),
    "bundle_03": (case_bundle_03, ["bundle", "formula"]),
    "bundle_02_01": (case_bundle_02_01, ["bundle", "offset"]),
    "err_div0": (case_err_div0, ["formula_error"]),
    "err_na": (case_err_na, ["formula_error"]),
    "err_ref": (case_err_ref, ["formula_error"]),
    "err_value": (case_err_value, ["formula_error"]),
    "err_name": (case_err_name, ["formula_error"]),
    "err_num": (case_err_num, ["formula_error"]),
    "err_null": (case_err_null, ["formula_error"]),
    "err_lo502": (case_err_lo502, ["formula_error"]),
    "hidden_prev_column": (case_hidden_prev_column, ["hidden_column"]),
    "two_result_columns": (case_two_result_columns, ["result_column_ambiguous"]),
    "hidden_result_column": (case_hidden_result_column, ["hidden_column"]),
    "hidden_row": (case_hidden_row, ["hidden_row"]),
    "hidden_blank_row": (case_hidden_blank_row, ["hidden_row"]),
    "hidden_sheet_copy": (case_hidden_sheet_copy, ["hidden_sheet", "bundle"]),
    "form_on_hidden_sheet": (case_form_on_hidden_sheet, ["hidden_sheet"]),
    "template_01": (_template_case("01"), ["template", "protection", "data_validation", "named_range"]),
    "template_02": (_template_case("02"), ["template", "protection", "data_validation", "named_range"]),
    "template_03": (_template_case("03"), ["template", "protection", "data_validation", "named_range"]),
    "template_04": (_template_case("04"), ["template", "protection", "data_validation", "named_range"]),
}


# --- LibreOffice ---------------------------------------------------------------------------------------------------
def _profile(root: Path, recalc: str) -> str:
    """A throw-away LibreOffice user profile: locale vi-VN; recalculation on load ``0`` always / ``1`` never."""
    user = root / "user"
    user.mkdir(parents=True, exist_ok=True)
    items = [("/org.openoffice.Setup/L10N", "ooSetupSystemLocale", LOCALE),
             ("/org.openoffice.Setup/L10N", "ooLocale", "en-US"),
             ("/org.openoffice.Office.Calc/Formula/Load", "OOXMLRecalcMode", recalc),
             ("/org.openoffice.Office.Calc/Formula/Load", "ODFRecalcMode", recalc)]
    body = "".join(f'<item oor:path="{p}"><prop oor:name="{n}" oor:op="fuse"><value>{v}</value></prop></item>\n'
                   for p, n, v in items)
    (user / "registrymodifications.xcu").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<oor:items xmlns:oor="http://openoffice.org/2001/registry" '
        'xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
        + body + "</oor:items>\n", encoding="utf-8")
    return root.as_uri()


def soffice(exe: str, profile: str, target: str, outdir: Path, files: list[Path]) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    cmd = [exe, f"-env:UserInstallation={profile}", "--headless", "--norestore", "--convert-to", target,
           "--outdir", str(outdir), *map(str, files)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise SystemExit(f"soffice failed ({done.returncode}): {done.stderr}")


def shown_texts(csv_dir: Path, stem: str, sheets: list[str]) -> dict[str, list[list[str]]]:
    """Each sheet's cells as LibreOffice shows them (its CSV export "as shown": ``<stem>-<sheet>.csv`` per sheet,
    hidden sheets, rows and columns included, from A1)."""
    out = {}
    for sheet in sheets:
        path = csv_dir / f"{stem}-{sheet}.csv"
        with path.open(encoding="utf-8", newline="") as fh:
            out[sheet] = list(csv.reader(fh))
    return out


def cell_text(grid: list[list[str]], ref: str) -> str:
    r, c = row_of(ref) - 1, col_of(ref) - 1
    return grid[r][c] if r < len(grid) and c < len(grid[r]) else ""


def hidden_state(ws, refs: list[str]) -> tuple[bool, list[str]]:
    """Whether LibreOffice keeps the sheet hidden, and which of ``refs`` sit on a hidden row or column (read from
    LibreOffice's own .xlsx of the saved file, whatever its format)."""
    cols = set()
    for key, dim in ws.column_dimensions.items():
        if dim.hidden:
            lo = dim.min or column_index_from_string(key)
            cols.update(range(lo, (dim.max or lo) + 1))
    hidden = [ref for ref in refs if col_of(ref) in cols or ws.row_dimensions[row_of(ref)].hidden]
    return ws.sheet_state != "visible", hidden


def is_error_text(text: str) -> bool:
    """What a spreadsheet shows for a formula error: ``#DIV/0!`` … or LibreOffice's own ``Err:502``."""
    return text in ERRORS or re.fullmatch(r"Err:\d{3}", text) is not None


_NUMBER = re.compile(r"^-?\d{1,3}(?:\.\d{3})*(?:,\d+)?$|^-?\d+(?:,\d+)?$")


def number_shown(text: str, unit: str) -> tuple[float, float] | None:
    """The number a person reads in a cell shown (vi-VN) as ``text``, and the tolerance of what is shown (half a
    unit of its last digit): "1.234,50" -> 1234.5 ± 0.005, "63%" on a % row -> 63 ± 0.5, "-" -> 0 ± 0,
    "12,50 ha" -> 12.5 ± 0.005.  None for a blank; ValueError for anything else."""
    t = text.replace("\xa0", " ").strip()
    if not t:
        return None
    if t == "-":  # accounting format: zero shown as a dash
        return 0.0, 0.0
    if t.endswith("%"):
        if unit != "percent":
            raise ValueError(f"{text!r}: a percentage on a row of unit {unit}")
        t = t[:-1].strip()
    if t.endswith(" ha"):
        t = t[:-3].strip()
    if not _NUMBER.match(t):
        raise ValueError(f"{text!r} is not a number as vi-VN shows it")
    plain = t.replace(".", "").replace(",", ".")
    decimals = len(plain.split(".")[1]) if "." in plain else 0
    return float(plain), 0.5 * 10 ** -decimals


def build(args) -> int:
    out = Path(args.out)
    files_dir = out / "files"
    world = World()
    names = list(CASES)
    work = Path(tempfile.mkdtemp(prefix="ccn_corpus_"))
    drafts_dir = Path(args.keep_drafts) if args.keep_drafts else work / "drafts"
    drafts_dir.mkdir(parents=True, exist_ok=True)
    drafts: dict[str, Draft] = {}
    for name in names:  # every case is drafted (the units handed out stay those of the full set)
        builder, _ = CASES[name]
        drafts[name] = builder(world, drafts_dir / f"{name}.xlsx")
    chosen = [n for n in names if not args.only or n in args.only]
    unknown = set(args.only or []) - set(names)
    if unknown:
        raise SystemExit(f"unknown cases: {sorted(unknown)}")
    save_profile = _profile(work / "save_profile", "0")
    show_profile = _profile(work / "show_profile", "1")
    for fmt in FORMATS:
        soffice(args.soffice, save_profile, fmt, files_dir / fmt, [drafts_dir / f"{n}.xlsx" for n in chosen])
        saved = [files_dir / fmt / f"{n}.{fmt}" for n in chosen]
        soffice(args.soffice, show_profile, CSV_FILTER, work / "csv" / fmt, saved)  # what is shown
        soffice(args.soffice, show_profile, "xlsx", work / "back" / fmt, saved)  # what stays hidden

    truth_path = out / "truth.json"
    old = json.loads(truth_path.read_text(encoding="utf-8")) if args.only and truth_path.exists() else {"files": []}
    entries = [f for f in old["files"] if f["case"] not in chosen]
    problems = []
    for name in chosen:
        draft = drafts[name]
        builder, classes = CASES[name]
        for fmt in FORMATS:
            grids = shown_texts(work / "csv" / fmt, name, [s.sheet for s in draft.sheets])
            entry = {"file": f"{fmt}/{name}.{fmt}", "case": name, "format": fmt, "classes": classes,
                     "doc": " ".join((builder.__doc__ or "").split()), "sheets": [], "expected": {}}
            reports = []
            back = load_workbook(work / "back" / fmt / f"{name}.xlsx")
            for s in draft.sheets:
                grid = grids[s.sheet]
                cells = {code: [ref, cell_text(grid, ref)] for code, ref in s.cells.items()}
                sheet_hidden, hidden_cells = hidden_state(back[s.sheet], list(s.cells.values()) + s.other)
                if sheet_hidden != s.hidden or sorted(hidden_cells) != sorted(s.hidden_cells):
                    problems.append(f"{fmt}/{name} {s.sheet}: LibreOffice keeps sheet hidden={sheet_hidden}, hidden "
                                    f"cells {hidden_cells}; drafted {s.hidden}, {s.hidden_cells}")
                entry["sheets"].append({"sheet": s.sheet, "form": s.form, "hidden": sheet_hidden, "cells": cells,
                                        "other": {ref: cell_text(grid, ref) for ref in s.other},
                                        "hidden_cells": hidden_cells})
                if s.hidden and draft.status == "accepted":
                    continue  # a hidden copy of a visible form is no report
                values, tolerance = {}, {}
                for code, (ref, text) in cells.items():
                    if is_error_text(text):
                        continue
                    got = number_shown(text, _unit(s.form, code))
                    if got is None:
                        continue
                    values[code], tolerance[code] = got
                    meant = draft.intended.get(s.sheet, {}).get(code)
                    if meant is not None and abs(meant - got[0]) > got[1] + 1e-9:
                        problems.append(f"{fmt}/{name} {s.sheet}!{ref} (row {code}): shows {text!r}, "
                                        f"draft meant {meant}")
                reports.append({"sheet": s.sheet, "form": s.form, "values": values, "tolerance": tolerance,
                                "percent_formatted": s.percent})
                shows = getattr(builder, "shows", None)
                if shows:
                    for _rule, sheet, ref in draft.errors:
                        text = cell_text(grid, ref)
                        if not is_error_text(text):
                            problems.append(f"{fmt}/{name} {sheet}!{ref}: shows {text!r}, not an error ({shows})")
                        elif text not in ((shows,) if isinstance(shows, str) else shows):
                            print(f"note: {fmt}/{name} {sheet}!{ref} shows {text} (drafted for {shows})")
            if draft.status == "accepted":
                entry["expected"] = {"status": "accepted", "reports": reports}
            else:
                entry["expected"] = {"status": "rejected",
                                     "errors": [{"rule_id": r, "sheet": s, "cell": c} for r, s, c in draft.errors]}
            entry["expected"]["warnings"] = [{"rule_id": r, "sheet": s, "cell": c} for r, s, c in draft.warnings]
            entries.append(entry)
    entries.sort(key=lambda e: (FORMATS.index(e["format"]), names.index(e["case"]) if e["case"] in names else 999))
    truth = {"locale": LOCALE, "period": PERIOD.code,
             "made_by": "tests/corpus/make_corpus.py (openpyxl drafts, computed and saved by LibreOffice)",
             "files": entries}
    truth_path.write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    if not args.keep_drafts:
        shutil.rmtree(work, ignore_errors=True)
    for p in problems:
        print("PROBLEM:", p, file=sys.stderr)
    print(f"{len(entries)} files in {truth_path}")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Regenerate tests/corpus: workbooks drafted with openpyxl from the project's writers, computed "
                    "and saved by LibreOffice as .xlsx, .xls and .ods, with truth.json taken from what LibreOffice "
                    "shows.  Cases: " + ", ".join(CASES))
    ap.add_argument("--out", default=str(HERE), help="corpus folder (default: %(default)s)")
    ap.add_argument("--only", nargs="+", metavar="CASE", help="regenerate only these cases (truth.json is merged)")
    ap.add_argument("--keep-drafts", metavar="DIR", help="keep the openpyxl drafts (and the CSV exports) in DIR")
    ap.add_argument("--soffice", default=shutil.which("soffice") or "soffice",
                    help="LibreOffice (default: %(default)s)")
    ap.add_argument("--list", action="store_true", help="list the cases and what each exercises")
    args = ap.parse_args(argv)
    if args.list:
        for name, (builder, classes) in CASES.items():
            print(f"{name:22} {', '.join(classes):40} {' '.join((builder.__doc__ or '').split())}")
        return 0
    return build(args)


if __name__ == "__main__":
    sys.exit(main())
