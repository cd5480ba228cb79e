"""The national report of a period as a workbook (``ccn export national``), a report of the Ministry of Industry
and Trade (Bộ Công Thương) that prints on A4.

Sheets: ``Toàn quốc`` — Biểu 04 summed over the provinces with an accepted report, in the official layout (ratios
recomputed from their parts) under the Ministry's own title, receiver and signature block, with a line saying
which provinces reported and which did not; ``Vùng`` — the same per socio-economic region, rows in the form's
order; one sheet per 2025 province with its own Biểu 04 and, in column (5), what its communes' Biểu 03 add up to
where that differs; ``Tình hình báo cáo`` — expected, received, on time, late and missing reports per form and
province; and ``Chưa báo cáo`` — every expected report not received, by the names of the unit, its cluster,
commune and province.  Periods before 2025-07-01 are shown on the 2025 provinces (their old provinces summed);
their coverage line counts the 63 provinces that had to report then.

Every sheet prints on A4 one page wide, its table header repeated on each page (``templates.print_setup``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.pagebreak import Break
from sqlalchemy import text
from sqlalchemy.engine import Engine

from pipelines.report.completeness import completeness, refresh_expected
from pipelines.steward.feedback import set_text
from pipelines.steward.templates import (
    LINE_POINTS,
    FormContent,
    Identification,
    print_setup,
    wrapped_lines,
    write_form,
)
from schemas.admin import REGIONS, admin
from schemas.forms import RowSpec, load_forms
from schemas.geography import generation_of
from schemas.periods import Period

FORM_NAMES = {"01": "Biểu 01 (dự án)", "02": "Biểu 02 (cụm CN)", "03": "Biểu 03 (cấp xã/huyện)",
              "04": "Biểu 04 (cấp tỉnh)"}

# The national report.  Circular 14/2024 (Art. 3.3.d) has each Department of Industry and Trade send its Biểu 04
# to "Bộ Công Thương (<department>)" — the department named in forms.toml's receiver of the period's wording
# (Cục Công Thương địa phương, later Cục Đổi mới sáng tạo, Chuyển đổi xanh và Khuyến công); that department
# compiles the provinces' reports and reports to the Ministry's leadership.  The Circular sets no form for this
# national report: the title, receiver and signature below are the Ministry's usual wording, not a legal text.
MINISTRY = "Bộ Công Thương"
NATIONAL_TITLE = "Báo cáo tổng hợp tình hình cụm công nghiệp toàn quốc"
NATIONAL_RECEIVER = "Lãnh đạo Bộ Công Thương"
SIGNATURE_NOTE = "(Chữ ký, họ và tên, chức danh, dấu)"  # the Circular's words under a signer

THIN = Side(style="thin")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
BOLD = Font(bold=True)


@dataclass(frozen=True)
class ExportResult:
    path: Path
    provinces: int
    national_rows: int
    missing_reports: int


def _read(engine: Engine, sql: str, period: Period) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(text(sql), conn, params={"p": period.code})


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value))


def rounded(value: object, row: RowSpec) -> float | int | None:
    """A value as the form asks for it: to its unit's decimals (forms.toml ``[unit_decimals]``: whole numbers for
    counts, 3 decimals for tỷ đồng, 2 for ha and %), as the views round it."""
    if _blank(value):
        return None
    return row.rounded(float(value))  # type: ignore[arg-type]


def _values(df: pd.DataFrame, column: str) -> dict[str, float | int]:
    spec = load_forms()["04"]
    out: dict[str, float | int] = {}
    for r in df.itertuples():
        v = rounded(getattr(r, column), spec.row(r.indicator_code))
        if v is not None:
            out[r.indicator_code] = v
    return out


def compiling_department(generation: str) -> str:
    """The Ministry's department the provinces send Biểu 04 to, in the wording of ``generation`` (forms.toml)."""
    receiver = next(g for g in load_forms()["04"].generations if g.name == generation).receiver
    found = re.search(rf"{MINISTRY} \(([^)]+)\)", receiver)
    return found[1] if found else MINISTRY


def coverage_lines(comp: pd.DataFrame, missing: pd.DataFrame, generation: str) -> tuple[str, str]:
    """"3 trên 34 tỉnh, thành phố đã báo cáo; chưa báo cáo: …" and its English line: the provinces of the
    period's generation (63 before 2025-07-01) with an accepted Biểu 04, and the names of the others."""
    b04 = comp[comp["form"] == "04"]
    expected, received = int(b04["expected"].sum()), int(b04["received"].sum())
    names = [str(n) for n in missing[missing["form"] == "04"].sort_values("unit_key")["unit_name"]]
    old_vi, old_en = ((" (trước ngày 01/7/2025)", " (before 1 July 2025)") if generation == "district"
                      else ("", ""))
    vi = f"{received} trên {expected} tỉnh, thành phố{old_vi} đã báo cáo"
    en = f"{received} of {expected} provinces{old_en} reported"
    if names:
        vi += f"; chưa báo cáo: {', '.join(names)}."
        en += f"; missing: {', '.join(names)}."
    return vi, en


def export_national(engine: Engine, period: Period, out: Path, refresh: bool = True) -> ExportResult:
    """Write the national report of ``period`` to ``out`` (an .xlsx); returns what it holds."""

    if refresh:
        refresh_expected(engine, period)
    national = _read(engine, "SELECT * FROM mart_national_summary WHERE period = :p", period)
    provinces = _read(engine, "SELECT * FROM mart_province_summary WHERE period = :p", period)
    regions = _read(engine, "SELECT * FROM mart_region_summary WHERE period = :p", period)
    comp = completeness(engine, period)
    missing = _read(engine, "SELECT * FROM mart_missing_reports WHERE period = :p ORDER BY form, province_code, "
                            "unit_key", period)
    generation = "district" if generation_of(period) == "pre2025" else "commune"
    department = compiling_department(generation)

    wb = Workbook()
    wb.remove(wb.active)
    ws = wb.create_sheet("Toàn quốc")
    write_form(ws, FormContent(
        "04", Identification(sender=f"{MINISTRY} ({department})", period=period, province="Toàn quốc"),
        _values(national, "value"), generation=generation,
        title=f"{NATIONAL_TITLE} {period.label_vi[0].lower()}{period.label_vi[1:]}", receiver=NATIONAL_RECEIVER,
        notes=coverage_lines(comp, missing, generation),
        signer=(MINISTRY.upper(), department.upper(), SIGNATURE_NOTE)))

    _region_sheet(wb.create_sheet("Vùng"), regions, period)
    names = {}
    for code, part in provinces.groupby("province_code", sort=True):
        name = str(part["province_name"].iloc[0])
        names[code] = name
        ws = wb.create_sheet(_sheet_name(code, name))
        cells = write_form(ws, FormContent("04", Identification(sender=f"Sở Công Thương {name}", period=period,
                                                                province=f"{code} - {name}"),
                                           _values(part, "reported_value"), generation=generation))
        computed = _values(part, "computed_value")
        reported = _values(part, "reported_value")
        spec = load_forms()["04"]
        for code_row, a1 in cells.items():  # both rounded as the form asks: any difference is one
            if code_row in computed and computed[code_row] != reported.get(code_row, 0):
                note = ws[a1].offset(column=1)
                note.value = f"Tổng hợp từ Biểu 03: {spec.row(code_row).shown(computed[code_row])}"
                note.alignment = Alignment(wrap_text=True, vertical="top")
    _completeness_sheet(wb.create_sheet("Tình hình báo cáo"), comp, period)
    _missing_sheet(wb.create_sheet("Chưa báo cáo"), missing, period)
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    return ExportResult(out, len(names), len(national), len(missing))


def _sheet_name(code: str, name: str) -> str:
    bad = '[]:*?/\\'
    return "".join(ch for ch in f"{code} {name}" if ch not in bad)[:31]


@dataclass(frozen=True)
class Column:
    header: str  # "Vietnamese / English gloss"
    width: float
    number_format: str | None = None


@dataclass(frozen=True)
class Number:
    """A number written with its own format (rows of one column in different units)."""
    value: float | int | None
    number_format: str


@dataclass(frozen=True)
class Heading:
    """A row across the whole table (a region's name above its rows)."""
    text: str


def _table(ws, title: tuple[str, str], columns: list[Column], rows: Iterable[list | Heading],
           bold_rows: Iterable[int] = (), heading_on_new_page: bool = False) -> int:
    """A table that prints: its title (Vietnamese, then English) over the whole width, the header row wrapped,
    bold and repeated on every printed page, columns as wide as ``columns`` says, rows as tall as their wrapped
    text, A4 one page wide (landscape when the columns would not fit portrait at a readable size); with
    ``heading_on_new_page`` each heading row but the first starts a page.  Text from the reports (unit names)
    stays text even when it starts with ``=``.  Returns the header's row."""

    n = len(columns)
    total = sum(c.width for c in columns)
    for r, (line, font) in enumerate(zip(title, (Font(bold=True, size=12), Font(italic=True)), strict=True),
                                     start=1):
        cell = ws.cell(row=r, column=1)
        set_text(cell, line)
        cell.font, cell.alignment = font, Alignment(wrap_text=True, vertical="top")
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=n)
        ws.row_dimensions[r].height = LINE_POINTS * wrapped_lines(line, total)
    header_row = len(title) + 2
    for c, col in enumerate(columns, start=1):
        cell = ws.cell(row=header_row, column=c)
        set_text(cell, col.header)
        cell.font, cell.border, cell.fill = BOLD, BORDER, HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(c)].width = col.width
    ws.row_dimensions[header_row].height = LINE_POINTS * max(wrapped_lines(c.header, c.width) for c in columns)
    bold = set(bold_rows)
    r = header_row
    for i, row in enumerate(rows):
        r += 1
        if isinstance(row, Heading):
            if heading_on_new_page and i:
                ws.row_breaks.append(Break(id=r - 1))
            cell = ws.cell(row=r, column=1)
            set_text(cell, row.text)
            cell.font, cell.border, cell.alignment = BOLD, BORDER, Alignment(wrap_text=True)
            ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=n)
            ws.row_dimensions[r].height = LINE_POINTS * wrapped_lines(row.text, total)
            continue
        height = 1
        for c, (col, given) in enumerate(zip(columns, row, strict=True), start=1):
            cell = ws.cell(row=r, column=c)
            value, fmt = (given.value, given.number_format) if isinstance(given, Number) else (given, col.number_format)
            set_text(cell, None if _blank(value) else value)
            cell.border = BORDER
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            if isinstance(value, str):
                height = max(height, wrapped_lines(value, col.width))
            elif fmt and value is not None:
                cell.number_format = fmt
            if i in bold:
                cell.font = BOLD
        ws.row_dimensions[r].height = LINE_POINTS * height
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
    print_setup(ws, title_rows=f"{header_row}:{header_row}", area=f"A1:{get_column_letter(n)}{max(r, header_row)}",
                landscape=total > 140)
    return header_row


def _period_title(what_vi: str, what_en: str, period: Period) -> tuple[str, str]:
    return f"{what_vi} — {period.label_vi}", f"{what_en}, {period.code}"


def _region_sheet(ws, regions: pd.DataFrame, period: Period) -> None:
    """Each region under its name, Biểu 04's rows in the form's order (1, 2, … 15, 15.1 … 27), numbers rounded
    and formatted as the form's unit asks."""
    spec = load_forms()["04"]
    order = {name: i for i, name in enumerate(REGIONS)}
    rows: list[list | Heading] = []
    for region in sorted(regions["region"].dropna().unique(), key=lambda g: (order.get(g, len(order)), g)):
        part = {r.indicator_code: r for r in regions[regions["region"] == region].itertuples()}
        reporting = max((int(r.provinces_reporting) for r in part.values()), default=0)
        rows.append(Heading(f"{region} ({reporting} tỉnh, thành phố báo cáo / provinces reporting)"))
        for row in spec.rows:
            r = part.get(row.code)
            fmt = row.number_format
            rows.append([row.code, row.label_vi, row.unit_vi,
                         Number(rounded(r.reported_value, row) if r else None, fmt),
                         Number(rounded(r.computed_value, row) if r else None, fmt),
                         int(r.provinces_reporting) if r else None])
    _table(ws, _period_title("Tổng hợp tình hình cụm công nghiệp theo vùng kinh tế - xã hội",
                             "Industrial clusters by socio-economic region", period),
           [Column("TT / No.", 6), Column("Chỉ tiêu / Indicator", 58), Column("Đơn vị tính / Unit", 9),
            Column("Kết quả (tỉnh báo cáo) / Reported by the provinces", 17),
            Column("Tổng hợp từ Biểu 03 / Sum of the communes' Biểu 03", 17),
            Column("Số tỉnh báo cáo / Provinces reporting", 12, "#,##0")], rows, heading_on_new_page=True)


def _province(code: str) -> str:
    units = admin().provinces
    return units[code].name if code in units else ""


def _completeness_sheet(ws, comp: pd.DataFrame, period: Period) -> None:
    totals = comp.groupby("form")[["expected", "received", "on_time", "late", "missing"]].sum()
    body = [[FORM_NAMES.get(r.form, r.form), r.province_code, _province(r.province_code),
             int(r.expected), int(r.received), int(r.on_time), int(r.late), int(r.missing)] for r in comp.itertuples()]
    national = [[FORM_NAMES.get(f, f), "", "Cả nước", int(t.expected), int(t.received), int(t.on_time), int(t.late),
                 int(t.missing)] for f, t in totals.iterrows()]
    _table(ws, _period_title("Tình hình báo cáo theo biểu và tỉnh, thành phố",
                             "Reports expected and received, per form and province", period),
           [Column("Biểu / Form", 24), Column("Mã tỉnh / Code", 10), Column("Tỉnh, thành phố / Province", 24),
            Column("Phải báo cáo / Expected", 11, "#,##0"), Column("Đã nhận / Received", 11, "#,##0"),
            Column("Đúng hạn / On time", 11, "#,##0"), Column("Trễ hạn / Late", 11, "#,##0"),
            Column("Chưa báo cáo / Missing", 11, "#,##0")],
           body + national, bold_rows=range(len(body), len(body) + len(national)))


def _sender(form: str, name: str | None) -> str | None:
    """Who sends the report: a province's Biểu 04 comes from its Department of Industry and Trade (forms.toml)."""
    if form == "04" and name:
        return f"{load_forms()['04'].generations[-1].sender} {name}"
    return name


def _missing_sheet(ws, missing: pd.DataFrame, period: Period) -> None:
    """Every expected report not received, by names: the unit (project, cluster, commune or province), the
    cluster and commune a project or cluster lies in, the province beside its code, a project's tax code."""

    def text_or_none(value: object) -> str | None:
        return None if _blank(value) else str(value)

    ordered = missing.assign(_name=missing["unit_name"].fillna("")).sort_values(
        ["form", "province_code", "_name", "unit_key"], kind="stable")
    rows = [[FORM_NAMES.get(r.form, r.form), r.province_code,
             text_or_none(r.province_name) or _province(r.province_code),
             text_or_none(r.commune_name) if r.form in ("01", "02") else None,
             text_or_none(r.cluster_name) if r.form == "01" else None,
             _sender(r.form, text_or_none(r.unit_name)), text_or_none(r.tax_code)] for r in ordered.itertuples()]
    _table(ws, _period_title("Danh sách đơn vị chưa báo cáo", "Units whose report has not been received", period),
           [Column("Biểu / Form", 21), Column("Mã tỉnh / Code", 9), Column("Tỉnh, thành phố / Province", 23),
            Column("Xã, phường, đặc khu / Commune", 17), Column("Cụm công nghiệp / Cluster", 24),
            Column("Đơn vị chưa báo cáo / Unit not reported", 33), Column("Mã số thuế / Tax code", 13)], rows)
