"""The feedback workbook a steward sends back to the reporting office (``ccn feedback``).

It is the workbook as it was received (from the archive), with every cell that a finding points at filled
(red: error, yellow: warning, grey: waived) and commented with the rule, the message and what was expected,
and a first sheet listing every finding of the submission, each linked to its cell, in words a steward reads
(severity, the rule's description, the sheet row of the cell) and set to print on A4 portrait, one page wide, its
header on every page and every row as tall as its wrapped text (issue 13); the received sheets print on A4 too.

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
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import coordinate_from_string
from openpyxl.worksheet.properties import PageSetupProperties
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
from pipelines.steward.templates import LINE_POINTS, print_setup, wrapped_lines
from pipelines.steward.upload import given_name
from schemas.admin import MERGER_DATE, admin
from schemas.forms import load_forms
from schemas.periods import Period
from schemas.status import status_label
from schemas.tables import cluster, finding_waiver, project, received_file, submission, validation_finding
from schemas.text import bilingual
from validations.catalogue import SEVERITY_WORDS, rules

FILL = {"error": "FFC7CE", "warning": "FFEB9C", "waived": "D9D9D9"}
SEVERITY = {k: f"{vi[:1].upper()}{vi[1:]} / {en.capitalize()}" for k, (vi, en) in SEVERITY_WORDS.items()}
# the findings table, (header, width in characters): one A4 portrait page wide; every header word fits its column
COLUMNS = [("STT / #", 5), ("Mức độ / Severity", 11), ("Ô / Cell", 8), ("Dòng / Row", 7),
           ("Chỉ tiêu / Indicator", 11), ("Quy tắc / Rule", 28), ("Nội dung / Message", 46)]
HEAD = [h for h, _ in COLUMNS]
HEAD_ROW = 5  # the table header, repeated on every printed page; one finding a row below it
TABLE_WIDTH = sum(w for _, w in COLUMNS)
UNREADABLE = (("Không mở được tệp đã nhận như một bảng tính, nên bảng tính phản hồi không kèm theo trang tính nào "
              "của tệp; hãy xem các lỗi dưới đây và gửi lại báo cáo."),
              ("The file received could not be opened as a workbook, so no sheet of it comes with this feedback; see "
              "the errors below and send the report again."))


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
            _fit_columns(ws)
        return wb
    raise FeedbackError(bilingual("tệp lưu trữ không phải là bảng tính", "the archived file is not a workbook"))


def _fit_columns(ws, widest: int = 60) -> None:
    """Column widths from the text of a sheet copied value by value (a .xls keeps its widths where calamine does not
    read them), long text wrapped and its row tall enough, so that the copy prints legibly.  A row with one cell is
    a title line that runs across the columns and sets no width."""
    rows = [[c for c in row if c.value not in (None, "")] for row in ws.iter_rows()]
    widths: dict[int, int] = {}
    for filled in rows:
        for c in filled if len(filled) > 1 else ():
            widths[c.column] = max(widths.get(c.column, 0), len(str(c.value)) + 2)
    for col, width in widths.items():
        ws.column_dimensions[get_column_letter(col)].width = min(widest, max(6, width))
    for filled in rows:
        if len(filled) > 1:
            lines = max(wrapped_lines(str(c.value), min(widest, max(6, widths[c.column]))) for c in filled)
            if lines > 1:
                for c in filled:
                    c.alignment = Alignment(wrap_text=True, vertical="top")
                ws.row_dimensions[filled[0].row].height = LINE_POINTS * lines


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
        unreadable = False
    except FeedbackError:
        raise
    except Exception:  # noqa: BLE001 - an unreadable file still gets its list of findings
        wb = Workbook()
        wb.remove(wb.active)
        unreadable = True

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
        body = "\n\n".join(f"{_severity(x)}: {_rule(x.rule_id)}\n{_message(x)}" for x in found)
        comment = Comment(body, "CCN")
        comment.width, comment.height = 420, min(600, 120 + 90 * len(found))
        cell.comment = comment
        marked += 1
    for sheet in wb.worksheets:
        _printable(sheet)

    ws = wb.create_sheet(SUMMARY_SHEET, 0)
    _write_findings(ws, sub, rows, notes, unreadable)
    _write_record(ws, record)
    wb.active = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    return Feedback(out, len(rows), marked)


def _severity(r) -> str:
    return SEVERITY["waived" if r.waived_by else r.severity]


def _rule(rule_id: str) -> str:
    """The rule in words (its description in the catalogue, validations/rules.toml), its id after it."""
    rule = rules().get(rule_id)
    return f"{rule.description_vi}\n({rule_id})" if rule else rule_id


def _message(r) -> str:
    """The finding's message, the Vietnamese line above the English one, then what was expected and the waiver."""
    vi, dash, en = r.message.partition(" — ")
    lines = [vi, en] if dash else [r.message]
    if r.expected:
        lines.append(f"Yêu cầu / Expected: {r.expected}")
    if r.waived_by:
        lines.append(f"Miễn trừ / Waived by {r.waived_by}: {r.reason}")
    return "\n".join(lines)


def _row_of(ref: str | None) -> int | None:
    """The sheet row of a cell (``D14`` → 14)."""
    try:
        return coordinate_from_string(ref)[1] if ref else None
    except ValueError:
        return None


def _write_findings(ws, sub, rows, notes, unreadable: bool) -> None:
    """The findings sheet: the file and the report, how cells are marked, then one finding a row; set to print on
    A4 portrait, one page wide, the table header on every page, every wrapped line shown."""
    wrap = Alignment(wrap_text=True, vertical="top")
    last = get_column_letter(len(COLUMNS))
    unit = sub.unit_name or sub.unit_key
    lines = [
        (f"{FEEDBACK_MARK}: {given_name(sub.file_name)}", Font(bold=True, size=13)),  # as its sender named it
        (" · ".join(part for part, known in (
            (f"Mã hồ sơ / Submission {sub.submission_id}", True), (f"Biểu {sub.form}", sub.form),
            (f"trang tính / sheet {sub.sheet}", sub.sheet), (f"kỳ / period {sub.period}", sub.period), (unit, unit),
            (f"trạng thái / status: {status_label(sub.status)}", True)) if known), None),
        (("Ô tô đỏ: lỗi phải sửa; ô tô vàng: cảnh báo cần xem lại; ô tô xám: đã được chấp nhận.\n"
         "Red: error to correct; yellow: warning to review; grey: waived."), None),
    ]
    if unreadable:
        lines[2] = ("\n".join(UNREADABLE), Font(bold=True, color="C00000"))
    for row, (text, font) in enumerate(lines, start=1):
        set_text(ws.cell(row, 1), text)
        ws.merge_cells(f"A{row}:{last}{row}")
        ws.cell(row, 1).alignment = wrap
        if font:
            ws.cell(row, 1).font = font
        size = font.size if font and font.size else 11
        ws.row_dimensions[row].height = LINE_POINTS * size / 11 * wrapped_lines(text, TABLE_WIDTH * 11 / size)
    thin = Side(style="thin")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    for c, (head, width) in enumerate(COLUMNS, start=1):
        set_text(ws.cell(HEAD_ROW, c), head)
        ws.cell(HEAD_ROW, c).font = Font(bold=True)
        ws.cell(HEAD_ROW, c).alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
        ws.cell(HEAD_ROW, c).border = border
        ws.column_dimensions[get_column_letter(c)].width = width
    ws.row_dimensions[HEAD_ROW].height = LINE_POINTS * max(wrapped_lines(h, w) for h, w in COLUMNS)
    for i, r in enumerate(rows, start=1):
        at = HEAD_ROW + i
        where = r.cell or ""
        if r.sheet and r.sheet != sub.sheet:
            where = f"{r.sheet}!{where}" if where else r.sheet
        values = [i, _severity(r), where, _row_of(r.cell), r.indicator_code or "", _rule(r.rule_id), _message(r)]
        for c, v in enumerate(values, start=1):
            set_text(ws.cell(at, c), v)
            ws.cell(at, c).alignment = wrap
            ws.cell(at, c).border = border
        kind = "waived" if r.waived_by else r.severity
        ws.cell(at, 2).fill = PatternFill("solid", start_color=FILL[kind], end_color=FILL[kind])
        if r.sheet and r.cell and (r.sheet, r.cell) in notes:
            target = ws.cell(at, 3)
            target.hyperlink = f"#'{r.sheet}'!{r.cell}"
            target.font = Font(color="0563C1", underline="single")
        ws.row_dimensions[at].height = LINE_POINTS * max(wrapped_lines(str(v), w) for v, (_, w) in zip(values, COLUMNS,
                                                                                                  strict=True))
    end = HEAD_ROW + max(1, len(rows))
    if not rows:
        set_text(ws.cell(HEAD_ROW + 1, 1), "Không có phát hiện nào / No findings")
        ws.merge_cells(f"A{HEAD_ROW + 1}:{last}{HEAD_ROW + 1}")
    print_setup(ws, title_rows=f"{HEAD_ROW}:{HEAD_ROW}", area=f"A1:{last}{end}")
    ws.freeze_panes = ws.cell(HEAD_ROW + 1, 1)


def _printable(ws) -> None:
    """A sheet of the workbook as received prints on A4, one page wide (the office's own orientation, print area
    and titles kept); a legacy .xls copied value by value has lost its column widths: they are set from the text."""
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    if ws.sheet_properties.pageSetUpPr is None:
        ws.sheet_properties.pageSetUpPr = PageSetupProperties()
    if not ws.sheet_properties.pageSetUpPr.fitToPage:
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0


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
