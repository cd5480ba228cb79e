"""What the portal shows of a checked workbook: each checked sheet as a person sees it, the cells a finding
points at marked with the finding's message in Vietnamese and English (issue 14).

The cells are read as the reader reads them (pipelines/read/sheets.py ``load_sheets``, after the safety
inspection), and shown as a spreadsheet shows them: a number as a steward reads it (validations/catalogue.py
``fmt``, the spelling of the findings' messages, so no ``6070.150000000001``), a percentage format as a percentage,
a date as a date, a formula error as its error text, a number hidden by its format (``;;;``) as nothing.
Hidden rows and columns are left out unless a finding points into them.

A sheet is shown within a window (``max_rows`` × ``max_cols`` of the rows and columns that hold anything, from the
top left): every marked cell is always inside it, whatever the window; ``truncated`` says that something was left
out.  A finding without a cell (or with one that names no cell) is listed in ``unplaced``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from pipelines.intake.sheet_marks import HIDDEN, NO_MARKS, PERCENT, SheetMarks
from pipelines.read.report import col_letter
from pipelines.read.sheets import load_sheets
from pipelines.steward.check import FileCheck
from validations.catalogue import Finding, fmt

_CELL = re.compile(r"^\$?([A-Z]{1,3})\$?([1-9][0-9]{0,6})(?::|$)")  # A1, $A$1, and the first cell of A1:B2


@dataclass
class CellView:
    ref: str  # A1
    text: str  # what the sheet shows
    severity: str | None = None  # "error" or "warning" when a finding points here (the gravest)
    messages: list[tuple[str, str]] = field(default_factory=list)  # (Vietnamese, English), one per finding
    numeric: bool = False  # a number: shown aligned right, as a spreadsheet shows it


@dataclass
class SheetView:
    sheet: str
    rows: list[tuple[int, list[CellView]]]  # (row number as the sheet shows it, the cells of ``columns``)
    columns: list[str]  # the column letters shown, in order
    truncated: bool  # rows or columns holding something were left out of the window
    unplaced: list[Finding] = field(default_factory=list)  # findings of the sheet that point at no cell


def position(ref: str | None) -> tuple[int, int] | None:
    """(row, column), 0-based, of a cell reference (``E12``; a range gives its first cell); None if it is none."""
    m = _CELL.match((ref or "").strip().upper())
    if not m:
        return None
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)) - 1, col - 1


def shown(value: object, kind: str | None = None) -> str:
    """A cell's value as the sheet shows it, given its number format's kind (pipelines/intake/sheet_marks.py)."""
    if value is None or isinstance(value, str):
        return value or ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        if kind == HIDDEN:
            return ""
        if kind == PERCENT:
            return f"{fmt(value * 100)}%"
        return fmt(value)
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y" if value.time() == time() else "%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, time):
        return value.strftime("%H:%M:%S" if value.second else "%H:%M")
    if isinstance(value, timedelta):
        minutes, seconds = divmod(int(value.total_seconds()), 60)
        return f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}"
    return str(value)


def sheet_views(path: Path, check: FileCheck, max_rows: int = 120, max_cols: int = 12) -> list[SheetView]:
    """One view per checked sheet of ``check`` (the result of ``check_file(path)``), in its order."""
    wanted = {s.sheet for s in check.sheets if s.sheet is not None}
    grids: dict[str, tuple[list[list[object]], SheetMarks]] = {}
    if wanted:
        grids = {name: (grid, marks) for name, grid, marks in load_sheets(path, None) if name in wanted}
    views = []
    for s in check.sheets:
        grid, marks = grids.get(s.sheet or "", ([], NO_MARKS))
        views.append(_view(s.sheet or "", grid, marks, s.findings, max_rows, max_cols))
    return views


def _view(sheet: str, grid: list[list[object]], marks: SheetMarks, findings: list[Finding], max_rows: int,
          max_cols: int) -> SheetView:
    placed: dict[tuple[int, int], list[Finding]] = {}
    unplaced = []
    for f in findings:
        at = position(f.cell) if f.sheet in (None, sheet) else None
        if at is None:
            unplaced.append(f)
        else:
            placed.setdefault(at, []).append(f)

    def text(r: int, c: int) -> str:
        if (r, c) in marks.errors:
            return marks.errors[(r, c)]
        row = grid[r] if r < len(grid) else ()
        return shown(row[c] if c < len(row) else None, marks.formats.get((r, c)))

    texts = {(r, c): t for r, row in enumerate(grid) for c in range(len(row))
             if not marks.hidden(r, c) and (t := text(r, c)).strip()}
    texts.update({at: text(*at) for at in marks.errors if not marks.hidden(*at)})
    content_rows, content_cols = {r for r, _ in texts}, {c for _, c in texts}
    rows = _window(content_rows, {r for r, _ in placed}, max_rows)
    cols = _window(content_cols, {c for _, c in placed}, max_cols)
    out = []
    for r in rows:
        cells = []
        for c in cols:
            here = sorted(placed.get((r, c), []), key=lambda f: not f.is_error)
            shown_text = texts.get((r, c)) or (text(r, c) if here else "")  # a marked cell even when hidden
            cells.append(CellView(f"{col_letter(c)}{r + 1}", shown_text, here[0].severity if here else None,
                                  [(f.message_vi, f.message_en) for f in here],
                                  (r, c) not in marks.errors and _is_number(grid, r, c)))
        out.append((r + 1, cells))
    truncated = bool(content_rows - set(rows) or content_cols - set(cols))
    return SheetView(sheet, out, [col_letter(c) for c in cols], truncated, unplaced)


def _is_number(grid: list[list[object]], r: int, c: int) -> bool:
    row = grid[r] if r < len(grid) else ()
    value = row[c] if c < len(row) else None
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _window(content: set[int], marked: set[int], most: int) -> list[int]:
    """The marked lines and the first of the others holding content, up to ``most`` in all (more when more are
    marked), in order."""
    chosen = set(marked)
    for i in sorted(content - chosen):
        if len(chosen) >= most:
            break
        chosen.add(i)
    return sorted(chosen)
