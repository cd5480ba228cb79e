"""The national report of a period as a workbook (``ccn export national``).

Sheets: ``Toàn quốc`` — Biểu 04 summed over the provinces with an accepted report, in the official layout
(ratios recomputed from their parts); ``Vùng`` — the same per socio-economic region; one sheet per 2025
province with its own Biểu 04 and, in column (5), what its communes' Biểu 03 add up to where that differs;
``Tình hình báo cáo`` — expected, received, on time, late and missing reports per form and province; and
``Chưa báo cáo`` — every expected report not received.  Periods before 2025-07-01 are shown on the 2025
provinces (their old provinces summed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import text
from sqlalchemy.engine import Engine

from pipelines.report.completeness import completeness, refresh_expected
from pipelines.steward.feedback import set_text
from pipelines.steward.templates import FormContent, Identification, write_form
from schemas.admin import admin
from schemas.geography import generation_of
from schemas.periods import Period

FORM_NAMES = {"01": "Biểu 01 (dự án)", "02": "Biểu 02 (cụm CN)", "03": "Biểu 03 (cấp xã/huyện)",
              "04": "Biểu 04 (cấp tỉnh)"}
TOLERANCE = 0.005


@dataclass(frozen=True)
class ExportResult:
    path: Path
    provinces: int
    national_rows: int
    missing_reports: int


def _read(engine: Engine, sql: str, period: Period) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(text(sql), conn, params={"p": period.code})


def _values(df: pd.DataFrame, column: str) -> dict[str, float]:
    return {r.indicator_code: float(getattr(r, column)) for r in df.itertuples()
            if getattr(r, column) is not None and not pd.isna(getattr(r, column))}


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

    wb = Workbook()
    wb.remove(wb.active)
    ws = wb.create_sheet("Toàn quốc")
    write_form(ws, FormContent("04", Identification(sender="Bộ Công Thương — tổng hợp toàn quốc", period=period,
                                                    province="Toàn quốc"),
                               _values(national, "value"), generation=generation))

    _region_sheet(wb.create_sheet("Vùng"), regions, Font(bold=True))
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
        for code_row, a1 in cells.items():
            if code_row in computed and abs(computed[code_row] - reported.get(code_row, 0.0)) > TOLERANCE:
                note = ws[a1].offset(column=1)
                note.value = f"Tổng hợp từ Biểu 03: {computed[code_row]:,.2f}"
    _completeness_sheet(wb.create_sheet("Tình hình báo cáo"), comp, Font(bold=True))
    _missing_sheet(wb.create_sheet("Chưa báo cáo"), missing, Font(bold=True))
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    return ExportResult(out, len(names), len(national), len(missing))


def _sheet_name(code: str, name: str) -> str:
    bad = '[]:*?/\\'
    return "".join(ch for ch in f"{code} {name}" if ch not in bad)[:31]


def _table(ws, header: list[str], rows, bold) -> None:
    """A header and rows; text from the reports (unit names) stays text even when it starts with ``=``."""

    for c, name in enumerate(header, start=1):
        set_text(ws.cell(row=1, column=c), name)
        ws.cell(row=1, column=c).font = bold
    for r, row in enumerate(rows, start=2):
        for c, v in enumerate(row, start=1):
            set_text(ws.cell(row=r, column=c), None if (isinstance(v, float) and pd.isna(v)) else v)
    ws.freeze_panes = ws.cell(row=2, column=1)


def _region_sheet(ws, regions: pd.DataFrame, bold) -> None:
    _table(ws, ["Vùng", "TT", "Chỉ tiêu", "Đơn vị tính", "Kết quả (tỉnh báo cáo)", "Tổng hợp từ Biểu 03",
                "Số tỉnh báo cáo"],
           ([r.region, r.indicator_code, r.indicator_name, r.unit, r.reported_value, r.computed_value,
             int(r.provinces_reporting)] for r in regions.itertuples()), bold)


def _completeness_sheet(ws, comp: pd.DataFrame, bold) -> None:
    a = admin()
    totals = comp.groupby("form")[["expected", "received", "on_time", "late", "missing"]].sum()
    _table(ws, ["Biểu", "Mã tỉnh", "Tỉnh, thành phố", "Phải báo cáo", "Đã nhận", "Đúng hạn", "Trễ hạn",
                "Chưa báo cáo"],
           [[FORM_NAMES.get(r.form, r.form), r.province_code,
             a.provinces[r.province_code].name if r.province_code in a.provinces else "",
             int(r.expected), int(r.received), int(r.on_time), int(r.late), int(r.missing)] for r in comp.itertuples()]
           + [[FORM_NAMES.get(f, f), "", "Cả nước", int(t.expected), int(t.received), int(t.on_time), int(t.late),
               int(t.missing)] for f, t in totals.iterrows()], bold)


def _missing_sheet(ws, missing: pd.DataFrame, bold) -> None:
    _table(ws, ["Biểu", "Mã tỉnh", "Đơn vị", "Tên đơn vị"],
           ([FORM_NAMES.get(r.form, r.form), r.province_code, r.unit_key, r.unit_name] for r in missing.itertuples()),
           bold)
