"""The feedback workbook a steward sends back to the reporting office (``ccn feedback``).

It is the workbook as it was received (from the archive), with every cell that a finding points at filled
(red: error, yellow: warning, grey: waived) and commented with the rule, the message and what was expected,
and a first sheet listing every finding of the submission, each linked to its cell.

Nothing typed by an office may turn into a live formula in the file we send back: text that starts with ``=``
is written as text.  A ``.xlsx`` is re-saved cell by cell as it was read (openpyxl keeps each cell's type); a
legacy ``.xls`` is copied value by value into a new ``.xlsx`` with the same sheet names.

The office corrects the marked cells and sends the workbook back (to the province's inbox folder): it is then the
report it carries.  Beside the findings the sheet keeps the identification the warehouse settled for the report,
which identifies the form sheet where that sheet does not say it itself (a report identified from its file name
keeps its unit under the name the steward gave the feedback file); :mod:`pipelines.read.feedback_record` holds that
layout and how the reader reads it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook, load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from python_calamine import CalamineWorkbook
from sqlalchemy import select
from sqlalchemy.engine import Engine

from pipelines.read.feedback_record import (
    FEEDBACK_MARK,
    RECORD_COLUMN,
    RECORD_FIELDS,
    RECORD_NOTE,
    RECORD_TITLE,
    SUMMARY_SHEET,
)
from schemas.admin import MERGER_DATE, admin
from schemas.forms import load_forms
from schemas.periods import Period
from schemas.tables import cluster, finding_waiver, project, received_file, submission, validation_finding
from schemas.text import bilingual

FILL = {"error": "FFC7CE", "warning": "FFEB9C", "waived": "D9D9D9"}
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

    with open(path, "rb") as fh:
        magic = fh.read(8)
    if magic[:2] == b"PK":
        return load_workbook(path)  # each cell keeps the type it was stored with: text stays text
    if magic[:4] == b"\xd0\xcf\x11\xe0":
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
    raise FeedbackError(bilingual("tệp lưu trữ không phải là bảng tính", "the archived file is not a workbook"))


def write_feedback(engine: Engine, submission_id: int, out: Path) -> Feedback:
    s, f, w, rf = submission.c, validation_finding.c, finding_waiver.c, received_file.c
    with engine.connect() as conn:
        sub = conn.execute(select(s.submission_id, s.form, s.period, s.unit_name, s.unit_key, s.status, s.sheet,
                                  s.province_code, s.commune_code, s.cluster_id, s.project_key,
                                  rf.file_name, rf.archive_path, rf.sha256)
                           .join(received_file, rf.sha256 == s.sha256).where(s.submission_id == submission_id)).first()
        if sub is None:
            raise FeedbackError(bilingual(f"không có hồ sơ {submission_id} (xem `ccn findings`)",
                                          f"submission {submission_id} does not exist (see `ccn findings`)"))
        rows = conn.execute(select(f.finding_id, f.rule_id, f.severity, f.sheet, f.cell, f.indicator_code, f.message,
                                   f.expected, w.waived_by, w.reason)
                            .outerjoin(finding_waiver, w.finding_id == f.finding_id)
                            .where(f.submission_id == submission_id).order_by(f.finding_id)).all()
        record = _record(conn, sub)
    out = Path(out)
    if out.resolve() == Path(sub.archive_path).resolve():
        raise FeedbackError(bilingual("không ghi đè lên tệp lưu trữ", "refusing to overwrite the archived file"))
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
                       f"{sub.period or '?'} · {sub.unit_name or sub.unit_key or '?'} · "
                       f"trạng thái / status: {sub.status}")
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
    for col, width in zip("ABCDEFGHI", (8, 12, 34, 14, 8, 10, 90, 28, 30), strict=True):
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
    set_text(ws.cell(1, RECORD_COLUMN), RECORD_TITLE)
    ws.cell(1, RECORD_COLUMN).font = Font(bold=True)
    set_text(ws.cell(2, RECORD_COLUMN), RECORD_NOTE)
    for i, (label, value) in enumerate(record, start=3):
        set_text(ws.cell(i, RECORD_COLUMN), label)
        set_text(ws.cell(i, RECORD_COLUMN + 1), value)
    ws.column_dimensions[get_column_letter(RECORD_COLUMN)].width = 30
    ws.column_dimensions[get_column_letter(RECORD_COLUMN + 1)].width = 40
