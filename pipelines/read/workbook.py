"""Reading Circular 14 workbooks as offices type them (SPEC §2–§3).

A workbook may hold several forms or several units of one form, one per sheet, anywhere on the sheet.  For
every sheet that holds a form the reader returns a :class:`Report`: the form, the identification text found
around the table, and each indicator row's value with the cell it came from.  Everything that cannot be read
exactly becomes a :class:`~validations.catalogue.Finding` naming the sheet and cell; nothing is guessed.

This module only reads; :mod:`pipelines.read.identify` turns the identification text into period and units.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from pipelines.intake.sheet_marks import DIFFERENT, HIDDEN, NO_MARKS, NOT_COMPUTED, PERCENT, SheetMarks
from pipelines.read.feedback_record import apply_record, is_findings_sheet, read_record
from pipelines.read.register import register_header
from pipelines.read.report import IndicatorValue, Report, WorkbookReading, a1, col_letter
from pipelines.read.sheets import identification_lines, load_sheets, open_sheets
from pipelines.read.values import read_cell
from pipelines.settings import Limits
from schemas.forms import RowSpec, column_words, form_codes, load_forms, load_register, vocabulary, word_key
from schemas.text import clean, loose_key
from validations.catalogue import Finding, finding

# The words offices type (forms.toml [vocabulary]): abbreviations expanded before labels are compared, and the
# section numerals (I, II, III) that code a heading rather than an indicator.
ABBREVIATIONS = vocabulary().abbreviations
_ROMAN = {n.lower() for n in vocabulary().section_numerals}
_ROMAN_UPPER = {r.upper() for r in _ROMAN}
_TITLE = re.compile(r"\bbieu(?: so)? ?0?(" + "|".join(f.lstrip("0") for f in form_codes()) + r")\b")


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
    global _INDEX  # noqa: PLW0603 - built once, on first use
    if _INDEX is None:
        _INDEX = _FormIndex()
    return _INDEX


# ------------------------------------------------------------------------------------------------------------
def read_workbook(path: Path, name: str | None = None, limits: Limits | None = None) -> WorkbookReading:
    """Read every form in the workbook at ``path`` (``name`` is how the sender called the file)."""
    reading = WorkbookReading(path=path, name=name or path.name)
    sheets = open_sheets(path, reading.name, limits, reading.findings)
    if sheets is None:
        return reading
    record = None  # a feedback workbook sent back (pipelines/read/feedback_record.py): the report it carries
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
            hidden = load_sheets(path, limits, hidden=True)
        except Exception:  # noqa: BLE001 - the visible sheets were readable; nothing more to find
            hidden = []
        for sheet_name, grid, marks in hidden:
            report = read_sheet(sheet_name, grid, marks)
            if report is not None:
                reading.findings.append(finding("structure.form_on_hidden_sheet", sheet=sheet_name,
                                                form=report.form, name=sheet_name))
                return reading
    if not reading.reports:
        register = load_register()
        if any(register_header(grid, register) for _sheet, grid, _marks in sheets):
            reading.findings.append(finding("structure.form_not_found", detail=" (danh sách cụm công nghiệp / a "
                                                                           "cluster register: `ccn register`)"))
        else:
            reading.findings.append(finding("structure.form_not_found"))
    return reading


# ------------------------------------------------------------------------------------------------------------
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
                form = m.group(1).zfill(2)
                return form, _wording(key, idx), (r, c)
            for title_key, (form, gen) in idx.generation_titles.items():
                if title_key in key:
                    return form, gen, (r, c)
    return None, None, None


def _wording(key: str, idx: _FormIndex) -> str | None:
    """The generation whose words (forms.toml ``[vocabulary.wording]``) a title or receiver line holds."""
    return next((name for name, words in vocabulary().wording.items() if any(w in key for w in words)), None)


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
    form, wording, title_at = _detect_form(grid, sheet)
    header = _find_header(grid, title_at[0] if title_at else 0)
    if header is None:
        if form is None or title_at is None:  # no table and no title (a form is found with its title's cell)
            return None
        empty: dict[str, str] = {}
        report = Report(sheet=sheet, form=form, wording=wording,
                        header=identification_lines(grid, range(len(grid)), empty), empty_lines=empty)
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
    report = Report(sheet=sheet, form=form, wording=wording, header=identification_lines(grid, around, empty),
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
    scores = dict.fromkeys(idx.forms, 0)
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


def _tell_03_from_04(report: Report) -> str | None:
    """Biểu 03 and 04 share their rows; the receiver, the sender and the identification lines tell them apart
    (forms.toml ``[vocabulary.senders]`` and ``[vocabulary.receivers]``): Biểu 04 goes to the Ministry (``Bộ Công
    Thương``) from the DoIT (``Sở Công Thương``), Biểu 03 to the DoIT from a commune or district People's
    Committee.  None when nothing says which."""
    h = report.header
    senders, receivers = vocabulary().senders, vocabulary().receivers
    receiver = loose_key(h.get("receiver", ("", ""))[0])
    sender = loose_key(h.get("sender", ("", ""))[0])
    if any(w in receiver for w in receivers["04"]):
        return "04"
    if any(w in sender for w in senders["04"]):
        return "04"
    if "commune" in h or "district" in h or any(sender.startswith(w) or f" {w}" in f" {sender}" for w in senders["03"]):
        return "03"
    if any(w in receiver for w in receivers["03"]):
        return "03"
    return None


def _table(grid, header_row: int, cols: dict[str, int], form: str
           ) -> list[tuple[int, str | None, str, object, str, str]]:
    """Candidate rows under the header: (row, code, label, value, unit text, note)."""
    out: list[tuple[int, str | None, str, object, str, str]] = []
    code_col, label_col = cols.get("code"), cols["label"]
    value_col = cols.get("value")
    unit_col = cols.get("unit")
    if value_col is None:  # the value column follows the unit column
        value_col = unit_col + 1 if unit_col is not None else label_col + 2
    blank_run = 0
    for r in range(header_row + 1, len(grid)):
        row = grid[r]

        def cell(c, row=row):
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
                report.findings.append(finding("structure.row_label_mismatch", sheet=report.sheet,
                                               cell=a1(r, cols.get("label", 0)), indicator_code=code, code=code,
                                               other=best, text=label[:80]))
                seen.setdefault(code, a1(r, value_col))
                continue
            row_spec = by_code[code]
        elif code is not None and (code in _ROMAN_UPPER or (code not in by_code and best_score < 0.75)):
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


def _check_unit(report: Report, row: RowSpec, unit_text: str, cell: str) -> None:
    """A unit typed in column (3) must be the row's own or one of its unit's words
    (forms.toml ``[vocabulary.units]``)."""
    if not unit_text:
        return
    key = word_key(unit_text)
    if key in vocabulary().units.get(row.unit, frozenset()) or key == loose_key(row.unit_vi):
        return
    report.findings.append(finding("structure.unit_mismatch", sheet=report.sheet, cell=cell, indicator_code=row.code,
                                   found=unit_text, expected=row.unit_vi))
