"""The feedback workbook a steward sends back to the reporting office (``ccn feedback``).

It is the workbook as it was received (from the archive), with every cell that a finding points at filled
(red: error, yellow: warning, grey: waived) and commented with the rule, the message and what was expected,
and a first sheet listing every finding of the submission, each linked to its cell.

Nothing typed by an office may turn into a live formula in the file we send back: text that starts with ``=``
is written as text.  A ``.xlsx`` is re-saved cell by cell as it was read (openpyxl keeps each cell's type); a
legacy ``.xls`` is copied value by value into a new ``.xlsx`` with the same sheet names.

The office corrects the marked cells and sends the workbook back (to the province's inbox folder): it is then the
report it carries.  Its findings sheet is recognised by its name and its first line (``FEEDBACK_MARK``) and is not
read as a form; beside the findings it keeps the identification the warehouse settled for the report
(``RECORD_TITLE``: form, sheet, period, province, commune or district, cluster, project), which identifies the form
sheet where that sheet does not say it itself (a report identified from its file name keeps its unit under the
name the steward gave the feedback file).  What the form sheet itself writes always wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from typing import TYPE_CHECKING

from schemas.text import clean, loose_key

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from pipelines.reader import Report, WorkbookReading

FILL = {"error": "FFC7CE", "warning": "FFEB9C", "waived": "D9D9D9"}
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
HEAD = ["STT / #", "Mức độ / Severity", "Quy tắc / Rule", "Sheet", "Ô / Cell", "Dòng / Row",
        "Nội dung / Message", "Yêu cầu / Expected", "Miễn trừ / Waiver"]


class FeedbackError(ValueError):
    pass


@dataclass(frozen=True)
class Feedback:
    path: Path
    findings: int
    cells_marked: int


def set_text(cell, value) -> None:
    """Write ``value``; a string is always stored as text, even when it starts with ``=``."""
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"


def _load(path: Path):
    """The archived workbook as an openpyxl Workbook (a .xls is copied value by value)."""
    from openpyxl import Workbook, load_workbook

    with open(path, "rb") as fh:
        magic = fh.read(8)
    if magic[:2] == b"PK":
        return load_workbook(path)  # each cell keeps the type it was stored with: text stays text
    if magic[:4] == b"\xd0\xcf\x11\xe0":
        from python_calamine import CalamineWorkbook

        book = CalamineWorkbook.from_path(str(path))
        wb = Workbook()
        wb.remove(wb.active)
        for name in book.sheet_names:
            ws = wb.create_sheet(name[:31])
            for r, values in enumerate(book.get_sheet_by_name(name).to_python(skip_empty_area=False), start=1):
                for c, v in enumerate(values, start=1):
                    if v not in ("", None):
                        set_text(ws.cell(r, c), v if isinstance(v, (int, float, str)) else str(v))
        return wb
    raise FeedbackError("tệp lưu trữ không phải là bảng tính — the archived file is not a workbook")


def write_feedback(engine: Engine, submission_id: int, out: Path) -> Feedback:
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill
    from sqlalchemy import select

    from schemas.warehouse import finding_waiver, received_file, submission, validation_finding

    s, f, w, rf = submission.c, validation_finding.c, finding_waiver.c, received_file.c
    with engine.connect() as conn:
        sub = conn.execute(select(s.submission_id, s.form, s.period, s.unit_name, s.unit_key, s.status, s.sheet,
                                  s.province_code, s.commune_code, s.cluster_id, s.project_key,
                                  rf.file_name, rf.archive_path, rf.sha256)
                           .join(received_file, rf.sha256 == s.sha256).where(s.submission_id == submission_id)).first()
        if sub is None:
            raise FeedbackError(f"không có hồ sơ {submission_id} (xem `ccn findings`) — "
                                 f"submission {submission_id} does not exist (see `ccn findings`)")
        rows = conn.execute(select(f.finding_id, f.rule_id, f.severity, f.sheet, f.cell, f.indicator_code, f.message,
                                   f.expected, w.waived_by, w.reason)
                            .outerjoin(finding_waiver, w.finding_id == f.finding_id)
                            .where(f.submission_id == submission_id).order_by(f.finding_id)).all()
        record = _record(conn, sub)
    out = Path(out)
    if out.resolve() == Path(sub.archive_path).resolve():
        raise FeedbackError("không ghi đè lên tệp lưu trữ — refusing to overwrite the archived file")
    try:
        wb = _load(Path(sub.archive_path))
    except FeedbackError:
        raise
    except Exception:  # noqa: BLE001 - an unreadable file still gets its list of findings
        wb = Workbook()
        wb.remove(wb.active)

    notes: dict[tuple[str, str], list] = {}
    for r in rows:
        if r.sheet and r.cell and r.sheet in wb.sheetnames:
            notes.setdefault((r.sheet, r.cell), []).append(r)
    marked = 0
    for (sheet, ref), found in notes.items():
        ws = wb[sheet]
        try:
            cell = ws[ref]
        except (ValueError, KeyError):
            continue
        if type(cell).__name__ == "MergedCell":
            continue
        kind = "error" if any(x.severity == "error" and not x.waived_by for x in found) else \
            "warning" if any(not x.waived_by for x in found) else "waived"
        cell.fill = PatternFill("solid", start_color=FILL[kind], end_color=FILL[kind])
        body = "\n\n".join(
            f"[{x.severity}{' — waived' if x.waived_by else ''}] {x.rule_id}\n{x.message}"
            + (f"\nYêu cầu / expected: {x.expected}" if x.expected else "") for x in found)
        comment = Comment(body, "CCN")
        comment.width, comment.height = 420, min(600, 90 + 70 * len(found))
        cell.comment = comment
        marked += 1

    ws = wb.create_sheet(SUMMARY_SHEET, 0)
    set_text(ws["A1"], f"{FEEDBACK_MARK}: {sub.file_name}")
    ws["A1"].font = Font(bold=True, size=13)
    set_text(ws["A2"], f"Mã hồ sơ / Submission {sub.submission_id} · Biểu {sub.form or '?'} · kỳ / period "
                       f"{sub.period or '?'} · {sub.unit_name or sub.unit_key or '?'} · trạng thái / status: {sub.status}")
    set_text(ws["A3"], "Ô tô đỏ: lỗi phải sửa; ô tô vàng: cảnh báo cần xem lại; ô tô xám: đã được chấp nhận. "
                       "Red: error to correct; yellow: warning to review; grey: waived.")
    for c, h in enumerate(HEAD, start=1):
        set_text(ws.cell(5, c), h)
        ws.cell(5, c).font = Font(bold=True)
    for i, r in enumerate(rows, start=1):
        waived = f"{r.waived_by}: {r.reason}" if r.waived_by else ""
        for c, v in enumerate([i, r.severity, r.rule_id, r.sheet or "", r.cell or "", r.indicator_code or "",
                               r.message, r.expected or "", waived], start=1):
            set_text(ws.cell(5 + i, c), v)
        kind = "waived" if r.waived_by else r.severity
        ws.cell(5 + i, 2).fill = PatternFill("solid", start_color=FILL[kind], end_color=FILL[kind])
        ws.cell(5 + i, 7).alignment = Alignment(wrap_text=True, vertical="top")
        if r.sheet and r.cell and (r.sheet, r.cell) in notes:
            target = ws.cell(5 + i, 5)
            target.hyperlink = f"#'{r.sheet}'!{r.cell}"
            target.font = Font(color="0563C1", underline="single")
    if not rows:
        set_text(ws.cell(6, 1), "Không có phát hiện nào / No findings")
    for col, width in zip("ABCDEFGHI", (8, 12, 34, 14, 8, 10, 90, 28, 30)):
        ws.column_dimensions[col].width = width
    _write_record(ws, record)
    wb.active = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    return Feedback(out, len(rows), marked)


# --- the identification record, and reading a feedback workbook sent back ----------------------------------------
def _record(conn, sub) -> list[tuple[str, str]]:
    """(label, value) of the identification the warehouse settled for a submission, in the wording the reader takes
    as identification lines (``15 - Tỉnh Lào Cai``, ``02923 - Xã Gia Phú``, ``6 tháng đầu năm 2026``)."""
    from sqlalchemy import select

    from schemas.admin import MERGER_DATE, admin
    from schemas.forms import load_forms
    from schemas.periods import Period
    from schemas.warehouse import cluster, project

    a = admin()
    values: dict[str, str] = {"form": f"Biểu số {sub.form}" if sub.form else "", "sheet": sub.sheet or ""}
    pre2025 = False
    if sub.period:
        period = Period.parse(sub.period)
        values["period"] = period.label_vi
        pre2025 = period.end < MERGER_DATE
    spec = load_forms().get(sub.form) if sub.form else None
    level = spec.sender_level if spec else None
    if pre2025:  # the old province and the district it was reported under (the 2025 codes are other units' codes)
        if level == "province" and sub.unit_key in a.old_provinces:
            values["province"] = a.old_provinces[sub.unit_key].label
        elif level == "commune" and sub.unit_key in a.old_districts:
            district = a.old_districts[sub.unit_key]
            values["district"] = district.label
            if district.province_code in a.old_provinces:
                values["province"] = a.old_provinces[district.province_code].label
    else:
        if sub.province_code in a.provinces:
            values["province"] = a.provinces[sub.province_code].label
        if sub.commune_code in a.communes:
            values["commune"] = a.communes[sub.commune_code].label
    if sub.cluster_id:
        name = conn.execute(select(cluster.c.name).where(cluster.c.cluster_id == sub.cluster_id)).scalar()
        values["cluster"] = name or ""
    if sub.project_key:
        found = conn.execute(select(project.c.name, project.c.tax_code)
                             .where(project.c.project_key == sub.project_key)).first()
        if found:
            values["project"], values["tax_code"] = found.name or "", found.tax_code or ""
    return [(label, values.get(field, "")) for label, field in RECORD_FIELDS.items()]


def _write_record(ws, record: list[tuple[str, str]]) -> None:
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    set_text(ws.cell(1, RECORD_COLUMN), RECORD_TITLE)
    ws.cell(1, RECORD_COLUMN).font = Font(bold=True)
    set_text(ws.cell(2, RECORD_COLUMN), RECORD_NOTE)
    for i, (label, value) in enumerate(record, start=3):
        set_text(ws.cell(i, RECORD_COLUMN), label)
        set_text(ws.cell(i, RECORD_COLUMN + 1), value)
    ws.column_dimensions[get_column_letter(RECORD_COLUMN)].width = 30
    ws.column_dimensions[get_column_letter(RECORD_COLUMN + 1)].width = 40


def is_findings_sheet(grid: list[list[object]]) -> bool:
    """True for the findings sheet of a feedback workbook: its first line is ``FEEDBACK_MARK``."""
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


def as_returned(reading: WorkbookReading) -> WorkbookReading:
    """``reading`` with a feedback workbook sent back read as the report it carries (see ``returned_reports``); a
    workbook whose only form-like sheet was the findings sheet holds no form."""
    from validations.catalogue import finding

    reports = returned_reports(reading.path, reading.reports)
    if reading.reports and not reports:
        reading.findings.append(finding("structure.form_not_found"))
    reading.reports = reports
    return reading


def returned_reports(path: Path, reports: list[Report]) -> list[Report]:
    """The reports of a workbook, a feedback workbook sent back being the report it carries: its findings sheet is
    dropped (it is no form and no finding is about it), and its identification record fills the identification
    lines its form sheet does not have.  Any other workbook's reports come back unchanged.  The sheet is read again
    only when a report sits on a sheet named like the findings sheet (a feedback workbook's always does: its record
    names the form), so other workbooks cost nothing more."""
    from unicodedata import normalize

    def named_like(sheet: str) -> bool:
        return normalize("NFC", sheet or "").strip().casefold() == SUMMARY_SHEET.casefold()

    candidates = [r for r in reports if named_like(r.sheet)]
    if not candidates:
        return reports
    try:
        grid = _sheet_grid(path, candidates[0].sheet)
    except Exception:  # noqa: BLE001 - the reader opened it a moment ago; if not now, it is read as it is
        return reports
    if not is_findings_sheet(grid):
        return reports
    record = read_record(grid)
    kept = [r for r in reports if r is not candidates[0]]
    target = [r for r in kept if r.sheet == record.get("sheet")]
    if len(target) == 1 and ("form" not in record or loose_key(record["form"]).endswith(target[0].form)):
        _apply(target[0], record)
    return kept


def _sheet_grid(path: Path, sheet: str) -> list[list[object]]:
    from python_calamine import CalamineWorkbook

    with open(path, "rb") as fh:
        wb = CalamineWorkbook.from_filelike(fh)
    try:
        return wb.get_sheet_by_name(sheet).to_python(skip_empty_area=False, nrows=80)
    finally:
        wb.close()


def _apply(report: Report, record: dict[str, str]) -> None:
    """Fill the identification lines the form sheet lacks from the record; a line the sheet has wins."""
    import re

    from pipelines.identify import period_kind

    for field in ("province", "district", "commune", "cluster", "tax_code", "project"):
        if field in record and field not in report.header:
            report.header[field] = (record[field], None)
            report.empty_lines.pop(field, None)
    if "period" in record:
        text, cell = report.header.get("period", ("", None))
        if period_kind(text) not in ("H1", "Y") or not re.search(r"(?<!\d)20\d\d(?!\d)", text):
            report.header["period"] = (record["period"], cell)
