"""Reading Circular 14 workbooks as offices type them (SPEC §2–§3).

A workbook may hold several forms or several units of one form, one per sheet, anywhere on the sheet.  For
every sheet that holds a form the reader returns a :class:`Report`: the form, the identification text found
around the table, and each indicator row's value with the cell it came from.  Everything that cannot be read
exactly becomes a :class:`~validations.catalogue.Finding` naming the sheet and cell; nothing is guessed.

This module only reads; :mod:`pipelines.identify` turns the identification text into period and units.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pipelines.feedback_record import apply_record, is_findings_sheet, read_record
from pipelines.settings import Limits
from pipelines.sheet_marks import DIFFERENT, HIDDEN, NO_MARKS, NOT_COMPUTED, PERCENT, SheetMarks
from pipelines.values import read_cell
from schemas.forms import FormSpec, RowSpec, column_words, load_forms
from schemas.text import clean, loose_key
from validations.catalogue import Finding, finding

EXTENSIONS = (".xlsx", ".xlsm", ".xls", ".ods")  # the workbooks read (by content, once inspected), as messages list them

# Identification lines: what an office writes above (or below) the table, by the start of its label.
HEADER_FIELDS = [
    ("sender", ["don vi gui bao cao", "don vi bao cao", "co quan bao cao"]),
    ("receiver", ["don vi nhan bao cao", "noi nhan bao cao"]),
    ("period", ["ki bao cao"]),
    ("year", ["nam bao cao"]),
    ("project", ["ten du an dau tu san xuat kinh doanh", "ten du an", "du an"]),
    ("sector", ["nganh nghe linh vuc san xuat", "nganh nghe"]),
    ("province", ["tinh thanh pho", "tinh tp", "tinh", "thanh pho truc thuoc trung uong"]),
    ("commune", ["xa phuong dac khu", "xa phuong thi tran", "xa phuong", "xa", "phuong", "dac khu", "thi tran"]),
    ("district", ["quan huyen thi xa", "quan huyen thi xa thanh pho", "quan huyen", "huyen", "cap huyen", "quan"]),
    ("cluster", ["ten cum cong nghiep", "cum cong nghiep", "ccn"]),
    ("investor", ["chu dau tu ha tang", "chu dau tu"]),
    ("tax_code", ["ma so thue", "mst"]),
]
_FIELD_PREFIXES = sorted({(loose_key(p), f) for f, ps in HEADER_FIELDS for p in ps}, key=lambda x: len(x[0]), reverse=True)

# Abbreviations offices use in indicator text (loose keys), expanded before comparing labels.
ABBREVIATIONS = {
    "ccn": "cum cong nghiep", "cn": "cong nghiep", "sxkd": "san xuat kinh doanh", "da": "du an",
    "htkt": "ha tang ki thuat", "nsnn": "ngan sach nha nuoc", "xlnt": "xu li nuoc thai", "sl": "so luong",
    "dt": "dien tich", "qhct": "quy hoach chi tiet", "hdld": "hop dong lao dong", "ld": "lao dong",
    "dtnn": "dau tu nuoc ngoai", "fdi": "von dau tu nuoc ngoai", "tb": "binh quan", "xd": "xay dung",
    "dn": "doanh nghiep", "pd": "phe duyet", "tl": "thanh lap", "hd": "hoat dong", "cdt": "chu dau tu",
}
ABBREVIATIONS = {loose_key(k): loose_key(v) for k, v in ABBREVIATIONS.items()}  # keys as loose_key makes them
_ROMAN = {"i", "ii", "iii", "iv", "v", "vi"}
_TITLE = re.compile(r"\bbieu(?: so)? ?0?([1-4])\b")


def col_letter(col: int) -> str:
    s = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        s = chr(65 + rem) + s
    return s


def a1(row: int, col: int) -> str:
    return f"{col_letter(col)}{row + 1}"


@dataclass
class IndicatorValue:
    code: str
    value: float | None
    raw: str
    cell: str
    note: str = ""  # what is typed in column (5) Ghi chú on the row (a remark on the value, SPEC §6)


@dataclass
class Report:
    """One form found on one sheet of a workbook."""

    sheet: str
    form: str
    wording: str | None  # "district" or "commune" when the title or sender says which
    header: dict[str, tuple[str, str]]  # field -> (text, cell)
    values: dict[str, IndicatorValue] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    empty_lines: dict[str, str] = field(default_factory=dict)  # field -> cell of an identification line left blank

    @property
    def spec(self) -> FormSpec:
        return load_forms()[self.form]


@dataclass
class WorkbookReading:
    path: Path
    name: str
    reports: list[Report] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # about the file as a whole


@lru_cache(maxsize=16384)
def _tokens(text: str) -> frozenset[str]:
    """The words of a label, abbreviations expanded, numbers dropped (cached: every template repeats its labels)."""
    words = []
    for w in loose_key(text).replace(".", " ").split():
        words.extend(ABBREVIATIONS.get(w, w).split())
    return frozenset(w for w in words if not w.isdigit())


def label_score(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return 2 * len(a & b) / (len(a) + len(b))


def normalise_code(raw: object) -> str | None:
    """A row code as the form writes it: ``15.1`` from 15.1, ``15,1``, ``15.1.`` or ``"15.1"``; ``3`` from 3.0."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        return None
    if isinstance(raw, (int, float)):
        v = round(float(raw), 4)
        return str(int(v)) if v.is_integer() else format(v, "g")
    s = clean(raw).strip("().: ").replace(",", ".").rstrip(".")
    if re.fullmatch(r"\d{1,2}(\.\d)?", s):
        return s.lstrip("0") or "0"
    if s.lower() in _ROMAN:
        return s.upper()
    return None


class _FormIndex:
    """Label tokens of every form row, computed once."""

    def __init__(self) -> None:
        self.forms = load_forms()
        self.tokens = {f: {r.code: _tokens(r.label_vi) for r in spec.rows} for f, spec in self.forms.items()}
        self._best: dict[tuple[str, frozenset[str]], tuple[str | None, float, float]] = {}
        self.titles = {f: loose_key(spec.title) for f, spec in self.forms.items()}
        self.sections = {f: [_tokens(r.section.partition(". ")[2]) for r in spec.rows if r.section]
                         for f, spec in self.forms.items()}
        self.generation_titles = {
            loose_key(g.title): (f, g.name) for f, spec in self.forms.items() for g in spec.generations
        }

    def best_row(self, form: str, tokens: frozenset[str]) -> tuple[str | None, float, float]:
        """The row whose label is closest to ``tokens``: (code, score, runner-up score); cached per label."""
        key = (form, tokens)
        found = self._best.get(key)
        if found is None:
            scores = sorted(((label_score(tokens, t), c) for c, t in self.tokens[form].items()), reverse=True)
            found = (None, 0.0, 0.0) if not scores else \
                (scores[0][1], scores[0][0], scores[1][0] if len(scores) > 1 else 0.0)
            if len(self._best) < 50_000:
                self._best[key] = found
        return found


_INDEX: _FormIndex | None = None


def index() -> _FormIndex:
    global _INDEX
    if _INDEX is None:
        _INDEX = _FormIndex()
    return _INDEX


# ------------------------------------------------------------------------------------------------------------
def read_workbook(path: Path, name: str | None = None, limits: Limits | None = None) -> WorkbookReading:
    """Read every form in the workbook at ``path`` (``name`` is how the sender called the file)."""
    limits = limits or Limits()
    name = name or path.name
    reading = WorkbookReading(path=path, name=name)
    sheets = _open(path, name, limits, reading.findings)
    if sheets is None:
        return reading
    record = None  # a feedback workbook sent back (pipelines/feedback_record.py): the report it carries
    for sheet_name, grid, marks in sheets:
        if is_findings_sheet(sheet_name, grid):
            record = read_record(grid)
            continue
        report = read_sheet(sheet_name, grid, marks)
        if report is not None:
            reading.reports.append(report)
    if record:
        apply_record(reading.reports, record)
    if not reading.reports:  # what a person does not see is not a report: a form on a hidden sheet is refused
        try:
            hidden = _load_sheets(path, limits, hidden=True)
        except Exception:  # noqa: BLE001 - the visible sheets were readable; nothing more to find
            hidden = []
        for sheet_name, grid, marks in hidden:
            report = read_sheet(sheet_name, grid, marks)
            if report is not None:
                reading.findings.append(finding("structure.form_on_hidden_sheet", sheet=sheet_name,
                                                form=report.form, name=sheet_name))
                return reading
    if not reading.reports:
        from schemas.forms import load_register

        register = load_register()
        if any(_register_header(grid, register) for _sheet, grid, _marks in sheets):
            reading.findings.append(finding("structure.form_not_found", detail=" (danh sách cụm công nghiệp / a "
                                                                           "cluster register: `ccn register`)"))
        else:
            reading.findings.append(finding("structure.form_not_found"))
    return reading


def _open(path: Path, name: str, limits: Limits, findings: list[Finding]) -> list | None:
    """The visible sheets of an Excel file, or None with the reason appended to ``findings``."""
    from pipelines.safety import Refused

    ext = Path(name).suffix.lower() or path.suffix.lower()
    if ext not in EXTENSIONS:
        findings.append(finding("file.type", kind=ext or "(none)"))
        return None
    try:
        return _load_sheets(path, limits)
    except Refused as exc:
        findings.append(finding("file.unreadable", reason_vi=exc.vi, reason_en=exc.en))
    except Exception as exc:  # noqa: BLE001 - calamine raises its own error types for every broken container
        vi, en = _reason(exc)
        findings.append(finding("file.unreadable", reason_vi=vi, reason_en=en))
    return None


def _reason(exc: Exception) -> tuple[str, str]:
    """Why calamine could not read a file the inspection let through: (Vietnamese, English).  calamine's own
    text is English, so it goes only into the English reason; the error's type name, a code, into both."""
    text = str(exc).strip() or type(exc).__name__
    kind = type(exc).__name__
    if "password" in text.lower() or kind == "PasswordError":
        return ("bảng tính có mật khẩu; hãy gỡ mật khẩu trong Excel rồi gửi lại",
                "the workbook is password-protected; remove the password in Excel and send it again")
    if kind in ("ZipError", "BadZipFile") or "zip" in text.lower():
        return ("tệp không phải bảng tính Excel hợp lệ hoặc đã bị hỏng; hãy mở tệp bằng Excel, lưu lại rồi gửi lại",
                f"the file is not a valid Excel workbook or is damaged ({text[:120]})")
    return (f"chương trình đọc bảng tính báo lỗi {kind}; tệp có thể bị hỏng, hãy mở tệp bằng Excel, lưu lại rồi "
            f"gửi lại", f"{kind}: {text[:160]}")


def _load_sheets(path: Path, limits: Limits, hidden: bool = False) -> list[tuple[str, list[list[object]], SheetMarks]]:
    """Every visible worksheet's cells and marks (with ``hidden``: the hidden ones instead), after
    pipelines/safety.py has checked what the file is and what it costs and collected what the cells show beyond
    their values (:mod:`pipelines.sheet_marks`).  Hidden sheets are the drop-down lists of the national template;
    they are looked at only to say that a form sits on one."""
    from python_calamine import CalamineWorkbook

    from pipelines import safety

    inspection = safety.inspect(path, limits)  # safety.Refused: the reason, in Vietnamese and in English
    with open(path, "rb") as fh:  # by content, not extension: an .xls renamed .xlsx still reads
        wb = CalamineWorkbook.from_filelike(fh)
    try:
        out = []
        for meta in wb.sheets_metadata:
            if "WorkSheet" not in str(meta.typ) or (not str(meta.visible).endswith(".Visible")) != hidden:
                continue
            rows = wb.get_sheet_by_name(meta.name).to_python(skip_empty_area=False, nrows=limits.max_rows)
            out.append((meta.name, rows, inspection.marks.get(meta.name, NO_MARKS)))
        return out
    finally:
        wb.close()


# ------------------------------------------------------------------------------------------------------------
def _row_text(row: list[object]) -> str:
    return " ".join(clean(c) for c in row if isinstance(c, str) and clean(c))


def _detect_form(grid: list[list[object]], sheet: str) -> tuple[str | None, str | None, tuple[int, int] | None]:
    """Form code and wording from a title such as ``Biểu số 02.`` or the form's title text."""
    idx = index()
    for r, row in enumerate(grid[:60]):
        for c, cell in enumerate(row[:30]):
            if not isinstance(cell, str) or not cell.strip():
                continue
            key = loose_key(cell)
            m = _TITLE.search(key)
            if m and (key.startswith("bieu") or "mau" in key[:8]):
                form = f"0{m.group(1)}"
                return form, _wording(key, idx), (r, c)
            for title_key, (form, gen) in idx.generation_titles.items():
                if title_key in key:
                    return form, gen, (r, c)
    return None, None, None


def _wording(key: str, idx: _FormIndex) -> str | None:
    if _CAP_HUYEN in key:
        return "district"
    if _CAP_XA in key:
        return "commune"
    return None


_CAP_HUYEN, _CAP_XA = loose_key("cấp huyện"), loose_key("cấp xã")


@lru_cache(maxsize=4096)
def _column_names(cell: str) -> tuple[str, ...]:
    """The numbered columns whose header words a cell's text starts with, in the order of ``forms.toml``."""
    key = loose_key(cell)
    return tuple(name for name, ws in column_words().items() if any(key == w or key.startswith(w + " ") for w in ws))


def _find_header(grid: list[list[object]], start: int) -> tuple[int, dict[str, int]] | None:
    """Row of the table header (``TT | Chỉ tiêu | Đơn vị tính | Kết quả | Ghi chú``) and column indexes."""
    for r in range(start, min(len(grid), start + 80)):
        cols: dict[str, int] = {}
        for c, cell in enumerate(grid[r][:40]):
            if not isinstance(cell, str) or not cell.strip():
                continue
            for name in _column_names(cell):
                if name not in cols:
                    cols[name] = c
                    break
        if "label" in cols and ("value" in cols or "unit" in cols):
            return r, cols
    return None


def read_sheet(sheet: str, grid: list[list[object]], marks: SheetMarks = NO_MARKS) -> Report | None:
    """Read the form on one sheet, or None when the sheet holds no form.  ``marks`` tell what the sheet shows
    beyond the values (errors, hidden rows and columns, percent formats): a value is read as it is shown."""
    if not grid:
        return None
    idx = index()
    form, wording, title_at = _detect_form(grid, sheet)
    header = _find_header(grid, title_at[0] if title_at else 0)
    if header is None and form is None:
        return None
    if header is None:
        empty: dict[str, str] = {}
        report = Report(sheet=sheet, form=form, wording=wording, header=_identification(grid, range(len(grid)), empty),
                        empty_lines=empty)
        report.findings.append(finding("structure.form_not_found", sheet=sheet, cell=a1(*title_at),
                                       detail=f": the table of {load_forms()[form].label} was not found"))
        return report
    header_row, cols = header
    if form is None:
        form = _form_from_rows(grid, header_row, cols)
        if form is None:
            return None
    visible, hidden = _value_columns(grid[header_row], cols, marks)  # before _table: it reads cols["value"]
    table_rows = _table(grid, header_row, cols, form)
    last = max((r for r, *_ in table_rows), default=header_row)
    around = [r for r in range(len(grid)) if r < header_row or r > last]
    empty = {}
    report = Report(sheet=sheet, form=form, wording=wording, header=_identification(grid, around, empty),
                    empty_lines=empty)
    if form in ("03", "04") and title_at is None:
        told = _tell_03_from_04(report)
        report.form = told or form
        if told is None:
            report.findings.append(finding("structure.form_ambiguous", sheet=sheet, cell=a1(header_row, cols["label"])))
    if report.wording is None:
        report.wording = _wording_of_receiver(report)
    if len(visible) > 1:
        report.findings.append(finding("structure.value_column_ambiguous", sheet=sheet, cell=a1(header_row, visible[0]),
                                       cells=", ".join(a1(header_row, c) for c in visible)))
        return report
    if visible and hidden:
        report.findings.append(finding("structure.hidden_column_ignored", sheet=sheet, cell=a1(header_row, hidden[0]),
                                       used=col_letter(visible[0]), hidden=", ".join(col_letter(c) for c in hidden)))
    _read_rows(report, table_rows, cols, marks)
    return report


def _value_columns(header: list[object], cols: dict[str, int], marks: SheetMarks) -> tuple[list[int], list[int]]:
    """The columns headed as results (``Kết quả``), visible and hidden.  The visible one is read; a hidden one
    (last period's figures kept beside this period's) is never the source of a value when a visible one exists."""
    found = [c for c, cell in enumerate(header[:40]) if isinstance(cell, str) and "value" in _column_names(cell)]
    visible = [c for c in found if c not in marks.hidden_cols]
    hidden = [c for c in found if c in marks.hidden_cols]
    if visible:
        cols["value"] = visible[0]
    return visible, hidden


def _wording_of_receiver(report: Report) -> str | None:
    """The legal generation from the receiver line when the title does not say it (Biểu 01, 02, 04 keep their title
    across generations; their receivers changed: "cấp huyện" → "cấp xã", the Ministry's department renamed)."""
    text = report.header.get("receiver", ("", ""))[0]
    if not text:
        return None
    key = loose_key(text)
    names = {g.name for g in report.spec.generations if loose_key(g.receiver) == key}
    if len(names) == 1:
        return names.pop()
    return _wording(key, index())


def _form_from_rows(grid, header_row: int, cols: dict[str, int]) -> str | None:
    """A form without a title: the form whose labels the rows under the header match best."""
    idx = index()
    label_col = cols["label"]
    scores = {f: 0 for f in idx.forms}
    for row in grid[header_row + 1: header_row + 60]:
        if label_col >= len(row) or not isinstance(row[label_col], str):
            continue
        tokens = _tokens(row[label_col])
        for f in idx.forms:
            _, s, _ = idx.best_row(f, tokens)
            if s >= 0.8:
                scores[f] += 1
    best = max(scores.values())
    if best < 3:
        return None
    winners = [f for f, s in scores.items() if s == best]
    return winners[0] if len(winners) == 1 else "04" if set(winners) == {"03", "04"} else winners[0]


_SENDER_04 = [loose_key(w) for w in ("Sở Công Thương", "SCT", "cấp tỉnh")]
_SENDER_03 = [loose_key(w) for w in ("Ủy ban nhân dân", "UBND", "cấp xã", "cấp huyện")]


def _tell_03_from_04(report: Report) -> str | None:
    """Biểu 03 and 04 share their rows; the receiver, the sender and the identification lines tell them apart:
    Biểu 04 goes to the Ministry (``Bộ Công Thương``) from the DoIT (``Sở Công Thương``), Biểu 03 to the DoIT from a
    commune or district People's Committee.  None when nothing says which."""
    h = report.header
    receiver = loose_key(h.get("receiver", ("", ""))[0])
    sender = loose_key(h.get("sender", ("", ""))[0])
    if "bo cong thuong" in receiver:
        return "04"
    if any(w in sender for w in _SENDER_04):
        return "04"
    if "commune" in h or "district" in h or any(sender.startswith(w) or f" {w}" in f" {sender}" for w in _SENDER_03):
        return "03"
    if "so cong thuong" in receiver:
        return "03"
    return None


def _table(grid, header_row: int, cols: dict[str, int], form: str) -> list[tuple[int, str | None, str, object, str, str]]:
    """Candidate rows under the header: (row, code, label, value, unit text, note)."""
    out = []
    code_col, label_col = cols.get("code"), cols["label"]
    value_col = cols.get("value")
    unit_col = cols.get("unit")
    if value_col is None:  # the value column follows the unit column
        value_col = unit_col + 1 if unit_col is not None else label_col + 2
    blank_run = 0
    for r in range(header_row + 1, len(grid)):
        row = grid[r]

        def cell(c):
            return row[c] if c is not None and c < len(row) else ""

        code_raw, label = cell(code_col), cell(label_col)
        if isinstance(code_raw, str) and re.fullmatch(r"\(\d\)", clean(code_raw)):
            continue  # the "(1) … (5)" row that numbers the columns
        if isinstance(label, (int, float)) and code_col is None:
            label = ""
        label = clean(label) if isinstance(label, str) else ""
        code = normalise_code(code_raw)
        if code is None and not label:
            if any(clean(c) if isinstance(c, str) else c not in ("", None) for c in row):
                blank_run = 0
            else:
                blank_run += 1
                if blank_run > 20 and out:
                    break
            continue
        blank_run = 0
        note = cell(cols.get("note"))
        out.append((r, code, label, cell(value_col), clean(cell(unit_col)) if isinstance(cell(unit_col), str) else "",
                    clean(note) if note not in ("", None) else ""))
    cols["value"] = value_col
    return out


_HOW = {"row": ("hàng bị ẩn", "hidden row"), "column": ("cột bị ẩn", "hidden column"),
        HIDDEN: ("định dạng số ẩn giá trị", "a number format that hides it")}


def _read_rows(report: Report, rows, cols: dict[str, int], marks: SheetMarks = NO_MARKS) -> None:
    idx = index()
    spec = report.spec
    by_code = spec.rows_by_code
    seen: dict[str, str] = {}
    hidden_seen: set[str] = set()  # indicators whose only value is on a hidden row: refused, not missing
    value_col = cols["value"]
    for r, code, label, raw, unit_text, note in rows:
        tokens = _tokens(label)
        if code is None and any(label_score(tokens, t) >= 0.9 for t in idx.sections[report.form]):
            continue  # a section heading typed without its numeral
        own = label_score(tokens, idx.tokens[report.form][code]) if code in by_code and label else 1.0
        # a coded row whose text agrees with its code needs no search over the form's labels
        searched = label and (code not in by_code or own < 0.6)
        best, best_score, runner_up = idx.best_row(report.form, tokens) if searched else (None, 0.0, 0.0)
        if code in by_code:
            if best and best != code and best_score >= 0.85 and best_score - own >= 0.15 and own < 0.6:
                report.findings.append(finding("structure.row_label_mismatch", sheet=report.sheet, cell=a1(r, cols.get("label", 0)),
                                               indicator_code=code, code=code, other=best, text=label[:80]))
                seen.setdefault(code, a1(r, value_col))
                continue
            row_spec = by_code[code]
        elif code is not None and (code in _ROMAN_UPPER or code not in by_code and best_score < 0.75):
            continue  # section heading (I, II, III) or a code the form does not have and no label match
        elif best and best_score >= 0.75 and best_score - runner_up >= 0.05:
            row_spec = by_code[best]
        else:
            if code is not None and raw not in ("", None):
                report.findings.append(finding("structure.row_unknown", sheet=report.sheet, cell=a1(r, value_col),
                                               text=(label or code)[:80], form=spec.label))
            continue
        cell = a1(r, value_col)
        shown = _shown(marks, r, value_col, raw)
        if shown == "row" and row_spec.code not in seen:
            if raw not in ("", None) or (r, value_col) in marks.errors:
                report.findings.append(_hidden(report, cell, row_spec.code, shown))
                hidden_seen.add(row_spec.code)
            continue  # a hidden row is never the source of a value; a visible row of the same code still is
        if row_spec.code in seen:
            report.findings.append(finding("structure.row_duplicate", sheet=report.sheet, cell=cell,
                                           indicator_code=row_spec.code, code=row_spec.code, other=seen[row_spec.code]))
            continue
        seen[row_spec.code] = cell
        _check_unit(report, row_spec, unit_text, a1(r, cols["unit"]) if "unit" in cols else cell)
        if shown in ("column", HIDDEN):
            report.findings.append(_hidden(report, cell, row_spec.code, shown))
            continue
        if shown == "error":
            error = marks.errors[(r, value_col)]
            report.findings.append(finding("value.formula_error", sheet=report.sheet, cell=cell,
                                           indicator_code=row_spec.code, shown=error) if error != NOT_COMPUTED else
                                   finding("value.formula_not_computed", sheet=report.sheet, cell=cell,
                                           indicator_code=row_spec.code))
            continue
        if shown == DIFFERENT:
            report.findings.append(finding("value.display_differs", sheet=report.sheet, cell=cell,
                                           indicator_code=row_spec.code, raw=raw))
            continue
        reading = read_cell(raw, row_spec, shown_percent=shown == PERCENT)
        raw_text = "" if raw is None else str(raw)
        if reading.problem:
            params = {"expected": row_spec.unit_vi, **(reading.params or {})}
            report.findings.append(finding(reading.problem, sheet=report.sheet, cell=cell, indicator_code=row_spec.code,
                                           **params))
        elif reading.warning:
            report.findings.append(finding(reading.warning, sheet=report.sheet, cell=cell, indicator_code=row_spec.code,
                                           **(reading.params or {})))
        if reading.problem is None and reading.value is not None:
            report.values[row_spec.code] = IndicatorValue(row_spec.code, reading.value, raw_text, cell, note)
    for row_spec in spec.rows:
        if row_spec.code not in seen and row_spec.code not in hidden_seen:
            report.findings.append(finding("structure.row_missing", sheet=report.sheet, indicator_code=row_spec.code,
                                           code=row_spec.code, label=row_spec.label_vi, label_en=row_spec.label_en))


def _shown(marks: SheetMarks, r: int, c: int, raw: object) -> str | None:
    """How the result cell at (r, c) differs from its stored value for a person looking at the sheet: "row" or
    "column" when hidden, "error" when it shows a formula error, or the kind of its number format."""
    if r in marks.hidden_rows:
        return "row"
    if (r, c) in marks.errors:
        return "error" if c not in marks.hidden_cols else "column"
    if raw in ("", None):
        return None
    if c in marks.hidden_cols:
        return "column"
    return marks.formats.get((r, c)) if isinstance(raw, (int, float)) else None


def _hidden(report: Report, cell: str, code: str, how: str) -> Finding:
    vi, en = _HOW[how]
    return finding("value.hidden", sheet=report.sheet, cell=cell, indicator_code=code, how=vi, how_en=en)


_ROMAN_UPPER = {r.upper() for r in _ROMAN}
_UNIT_ALIASES = {
    "billion_vnd": {"ti dong", "ti vnd", "ti d", "ti"},
    "ha": {"ha", "hecta"},
    "percent": {"%", "phan tram", ""},
    "persons": {"nguoi", "lao dong"},
    "million_vnd_per_person_month": {"trieu dong nguoi thang", "trieu dong thang", "trieu dong", "trd nguoi thang"},
    "projects": {"du an", "da"},
    "clusters": {"cum", "ccn"},
    "flag": {"cong trinh", "ct", "1 0", ""},
}


def _check_unit(report: Report, row: RowSpec, unit_text: str, cell: str) -> None:
    if not unit_text:
        return
    key = loose_key(unit_text) or unit_text.strip()
    if key in _UNIT_ALIASES.get(row.unit, set()) or key == loose_key(row.unit_vi):
        return
    report.findings.append(finding("structure.unit_mismatch", sheet=report.sheet, cell=cell, indicator_code=row.code,
                                   found=unit_text, expected=row.unit_vi))


def _identification(grid, rows, empty: dict[str, str] | None = None) -> dict[str, tuple[str, str]]:
    """Identification lines (``Đơn vị gửi báo cáo: …``, ``Tỉnh/Thành phố: …``) in the given rows."""
    found: dict[str, tuple[str, str]] = {}
    for r in rows:
        if r >= len(grid):
            break
        row = grid[r]
        cells = [(c, clean(v)) for c, v in enumerate(row[:30]) if v not in ("", None) and clean(v)]
        if not cells:
            continue
        c0, first = cells[0]
        key = loose_key(first.split(":", 1)[0])
        for prefix, name in _FIELD_PREFIXES:
            if key == prefix:
                break
        else:
            continue
        if name in found:
            continue
        if ":" in first:
            value = first.split(":", 1)[1].strip()
            cell = a1(r, c0)
            if not value and len(cells) > 1:  # "Tỉnh, thành phố:" with the value in the next cell
                value = " ".join(str(v) for _, v in cells[1:]).strip()
                cell = a1(r, cells[1][0])
        else:
            value = " ".join(str(v) for _, v in cells[1:]).strip()
            cell = a1(r, cells[1][0]) if len(cells) > 1 else a1(r, c0)
        value = value.strip(" .…")
        if value and not set(value) <= set(".…_ "):
            found[name] = (value, cell)
        elif empty is not None:  # "Tỉnh, thành phố:" with nothing typed: where the steward must write
            empty.setdefault(name, a1(r, c0 + 1) if ":" in first and len(cells) == 1 else cell)
    return found


# --- the cluster register workbook of a province (`ccn template register`) ------------------------------------
@dataclass
class RegisterRow:
    """One cluster of a province's register workbook, as typed and as understood."""

    row: int  # the worksheet row (1-based)
    name: str
    commune_code: str | None  # the 2025 commune (the first one when the cluster lies on several)
    commune_codes: list[str]
    values: dict[str, object]  # column key (forms.toml [register]) -> text, float, date or choice code
    cells: dict[str, str]  # column key -> A1 of the cell it came from


@dataclass
class RegisterReading:
    path: Path
    name: str
    sheet: str | None = None
    province_code: str | None = None
    province_name: str | None = None
    rows: list[RegisterRow] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


_LIST_SPLIT = re.compile(r"\s*(?:\+|;|,|\bvà\b|&)\s*")
_DATE_TEXT = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$")


def read_register(path: Path, name: str | None = None, limits: Limits | None = None) -> RegisterReading:
    """Read a province's cluster register workbook (layout: ``[register]`` in schemas/forms.toml, docs/forms.md):
    the province line, then a header row naming the columns (any order, the template's words or their aliases)
    and one row per cluster.  Every cell that cannot be read exactly is a finding naming its cell."""
    from schemas.admin import admin
    from schemas.forms import load_register

    limits = limits or Limits()
    name = name or path.name
    reading = RegisterReading(path=path, name=name)
    sheets = _open(path, name, limits, reading.findings)
    if sheets is None:
        return reading
    reg = load_register()
    for sheet, grid, _marks in sheets:
        found = _register_header(grid, reg)
        if found is None:
            continue
        header_row, cols = found
        reading.sheet = sheet
        _register_province(reading, grid, header_row, sheet, name)
        _register_rows(reading, grid, header_row, cols, reg, admin())
        return reading
    reading.findings.append(finding("register.header_not_found"))
    return reading


def _register_header(grid, reg) -> tuple[int, dict[str, int]] | None:
    keys = sorted(((k, c.key) for c in reg.columns for k in c.keys), key=lambda x: len(x[0]), reverse=True)
    for r, row in enumerate(grid[:60]):
        cols: dict[str, int] = {}
        for c, cell in enumerate(row[:60]):
            if not isinstance(cell, str) or not cell.strip():
                continue
            key = loose_key(cell)
            for k, col in keys:
                if col not in cols and (key == k or key.startswith(k + " ")):
                    cols[col] = c
                    break
        if "name" in cols and len(cols) >= 3:
            return r, cols
    return None


def _register_province(reading: RegisterReading, grid, header_row: int, sheet: str, file_name: str) -> None:
    from schemas.admin import admin

    a = admin()
    lines = _identification(grid, range(header_row))
    sources = [lines["province"]] if "province" in lines else []
    title = " ".join(_row_text(row) for row in grid[:header_row])
    sources += [(title, None), (sheet, None), (re.sub(r"[_\-]+", " ", file_name.rsplit(".", 1)[0]), None)]
    for text, _cell in sources:
        found = {u.province_code: u for u in a.find_province(text, "2025")}
        if len(found) == 1:
            code = next(iter(found))
            reading.province_code, reading.province_name = code, a.provinces[code].name
            return
        if text is sources[0][0] and "province" in lines:
            break  # an explicit province line that names no province is not overridden by a guess
    cell = lines["province"][1] if "province" in lines else None
    reading.findings.append(finding("identity.province_unresolved", sheet=reading.sheet, cell=cell,
                                    detail=" (the register names no province: 'Tỉnh, thành phố:' line, title, sheet or file name)"))


def _register_rows(reading: RegisterReading, grid, header_row: int, cols: dict[str, int], reg, a) -> None:
    from pipelines.identify import cluster_key

    by_key = {c.key: c for c in reg.columns}
    seen: dict[str, str] = {}
    blank_run = 0
    for r in range(header_row + 1, len(grid)):
        row = grid[r]
        cells = {k: (row[c] if c < len(row) else "") for k, c in cols.items()}
        typed = {k: v for k, v in cells.items() if v not in ("", None) and not (isinstance(v, str) and not clean(v))}
        if not typed:
            blank_run += 1
            if blank_run > 20:
                break
            continue
        blank_run = 0
        if all(isinstance(v, str) and re.fullmatch(r"\(\d+\)", clean(v)) for v in typed.values()):
            continue  # the "(1) (2) …" numbering row
        where = {k: a1(r, cols[k]) for k in cols}
        name = clean(typed.get("name", ""))
        if not name:
            reading.findings.append(finding("register.name_missing", sheet=reading.sheet, cell=where["name"]))
            continue
        key = cluster_key(name)
        if key in seen:
            reading.findings.append(finding("register.duplicate", sheet=reading.sheet, cell=where["name"], name=name,
                                            other=seen[key]))
            continue
        seen[key] = where["name"]
        out = RegisterRow(row=r + 1, name=name, commune_code=None, commune_codes=[], values={}, cells=where)
        for k, raw in typed.items():
            if k == "name":
                continue
            value = _register_value(reading, by_key[k], raw, where[k], a, out)
            if value is not None:
                out.values[k] = value
        for k, col in by_key.items():
            if col.required and k not in typed and k != "name":
                reading.findings.append(finding("register.required", sheet=reading.sheet,
                                                cell=where.get(k, a1(r, cols["name"])), column=col.label,
                                                column_en=col.label_en, name=name))
        reading.rows.append(out)


def _register_value(reading: RegisterReading, col, raw, cell: str, a, out: RegisterRow):
    from datetime import date, datetime

    from pipelines.values import parse_number_text

    sheet = reading.sheet
    if col.kind == "number":
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return float(raw)
        text = re.sub(r"\s*(ha|hecta)\.?\s*$", "", clean(raw), flags=re.I)
        value, problem, params = parse_number_text(text, False)
        if problem:
            reading.findings.append(finding(problem, sheet=sheet, cell=cell, **params))
            return None
        return value
    if col.kind == "date":
        if isinstance(raw, datetime):
            return raw.date()
        if isinstance(raw, date):
            return raw
        m = _DATE_TEXT.match(clean(raw))
        if m:
            try:
                return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
            except ValueError:
                pass
        reading.findings.append(finding("register.date_invalid", sheet=sheet, cell=cell, raw=clean(raw)))
        return None
    if col.kind == "choice":
        key = loose_key(clean(raw))
        for word, code in col.choices.items():
            if key in (loose_key(word), code):
                return code
        reading.findings.append(finding("register.choice_unknown", sheet=sheet, cell=cell, raw=clean(raw),
                                        column=col.label, choices=" / ".join(col.choices)))
        return None
    if col.kind == "commune":
        if reading.province_code is None:
            return clean(raw)
        parts = [p for p in _LIST_SPLIT.split(clean(raw)) if p]
        codes = []
        for part in parts:
            units = {u.code: u for u in a.find_commune(part, reading.province_code)}
            if len(units) != 1:
                reading.findings.append(finding("register.commune_unresolved", sheet=sheet, cell=cell, raw=part,
                                                province=reading.province_name))
                return None
            codes.append(next(iter(units)))
        out.commune_codes = codes
        out.commune_code = codes[0] if codes else None
        return codes[0] if codes else None
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))  # a tax code or decision number typed as a number
    if isinstance(raw, (datetime, date)):
        return raw.strftime("%d/%m/%Y")
    return clean(raw)
