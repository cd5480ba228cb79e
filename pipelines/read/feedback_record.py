"""The findings sheet of a feedback workbook and the identification record beside it (issue #11).

``ccn feedback`` (:mod:`pipelines.steward.feedback`) writes the workbook as sent with a first sheet listing the
findings; the office corrects the marked cells and sends the workbook back, which is then the report it carries.
This module holds what the writer and the reader must agree on: the findings sheet's name and first line, and the
record of the identification the warehouse settled for the report (form, sheet, period, province, commune or district,
cluster, project).  The reader (:func:`pipelines.read.workbook.read_workbook`) skips the findings sheet and lets the
record fill the identification lines the form sheet lacks; what the form sheet writes itself always wins.
"""

from __future__ import annotations

import re
from unicodedata import normalize

from pipelines.read.report import Report
from schemas.periods import period_kind
from schemas.text import clean, loose_key

SUMMARY_SHEET = "Kết quả kiểm tra"
FEEDBACK_MARK = "Kết quả kiểm tra báo cáo / Validation of the report"
RECORD_TITLE = "Nhận dạng báo cáo / Identification of the report"
RECORD_NOTE = "(giữ nguyên khi gửi lại / keep as it is when sending the report back)"
# the identification record beside the findings: label -> field of the reader's identification lines
RECORD_FIELDS = {
    "Biểu số / Form": "form", "Trang tính / Sheet": "sheet", "Kỳ báo cáo / Period": "period",
    "Tỉnh, thành phố / Province": "province", "Quận, huyện / District": "district",
    "Xã, phường, đặc khu / Commune": "commune", "Cụm công nghiệp / Cluster": "cluster",
    "Mã số thuế / Tax code": "tax_code", "Tên dự án / Project": "project",
}
RECORD_COLUMN = 11  # K: labels, L: values (right of the findings list, within the rows a reader looks at first)


def is_findings_sheet(sheet: str, grid: list[list[object]]) -> bool:
    """True for the findings sheet of a feedback workbook: named ``SUMMARY_SHEET``, its first line ``FEEDBACK_MARK``."""
    if normalize("NFC", sheet or "").strip().casefold() != SUMMARY_SHEET.casefold():
        return False
    first = next((clean(v) for row in grid[:3] for v in row[:3] if isinstance(v, str) and clean(v)), "")
    return loose_key(first).startswith(loose_key(FEEDBACK_MARK))


def read_record(grid: list[list[object]]) -> dict[str, str]:
    """The identification record of a findings sheet (the labels under ``RECORD_TITLE``, each value right of its
    label): field -> value, only the fields with a value."""
    title = loose_key(RECORD_TITLE)
    at = next(((r, c) for r, row in enumerate(grid[:80]) for c, v in enumerate(row[:40])
               if isinstance(v, str) and loose_key(v) == title), None)
    if at is None:
        return {}
    labels = {loose_key(label): field for label, field in RECORD_FIELDS.items()}
    out: dict[str, str] = {}
    for row in grid[at[0] + 1:at[0] + 3 + len(RECORD_FIELDS)]:
        label = row[at[1]] if len(row) > at[1] else None
        field = labels.get(loose_key(label)) if isinstance(label, str) else None
        value = row[at[1] + 1] if len(row) > at[1] + 1 else None
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # a tax code a spreadsheet turned into a number
        value = clean(value) if isinstance(value, str) else "" if value in ("", None) else str(value)
        if field and value and field not in out:
            out[field] = value
    return out


def apply_record(reports: list[Report], record: dict[str, str]) -> None:
    """Fill the identification lines that the record's form sheet lacks from the record; a line the sheet has wins
    (a period line is replaced only when it names no period and year, as the template's ``6 tháng/năm``)."""
    target = [r for r in reports if r.sheet == record.get("sheet")]
    if len(target) != 1 or ("form" in record and not loose_key(record["form"]).endswith(target[0].form)):
        return
    report = target[0]
    for field in ("province", "district", "commune", "cluster", "tax_code", "project"):
        if field in record and field not in report.header:
            report.header[field] = (record[field], None)
            report.empty_lines.pop(field, None)
    if "period" in record:
        text, cell = report.header.get("period", ("", None))
        if period_kind(text) not in ("H1", "Y") or not re.search(r"(?<!\d)20\d\d(?!\d)", text):
            report.header["period"] = (record["period"], cell)
