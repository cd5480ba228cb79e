"""Opening a workbook's sheets once the safety inspection has passed it, and reading the identification
lines an office writes around a table (``Đơn vị gửi báo cáo: …``).  Shared by the form and register readers."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import cast

from python_calamine import CalamineWorkbook

from pipelines.intake import safety
from pipelines.intake.safety import Refused
from pipelines.intake.sheet_marks import NO_MARKS, SheetMarks
from pipelines.read.report import a1
from pipelines.settings import Limits
from schemas.forms import vocabulary
from schemas.text import clean, loose_key
from validations.catalogue import Finding, finding

log = logging.getLogger(__name__)
EXTENSIONS = (".xlsx", ".xlsm", ".xls", ".ods")  # the workbooks read (by content, once inspected), as messages say

# Identification lines: what an office writes above (or below) the table, by the label before its colon
# (forms.toml [vocabulary.identification]).
FIELD_PREFIXES = sorted({(p, f) for f, ps in vocabulary().identification.items() for p in ps},
                        key=lambda x: len(x[0]), reverse=True)



def open_sheets(path: Path, name: str, limits: Limits | None, findings: list[Finding]) -> list | None:
    """The visible sheets of an Excel file, or None with the reason appended to ``findings``."""

    ext = Path(name).suffix.lower() or path.suffix.lower()
    if ext not in EXTENSIONS:
        findings.append(finding("file.type", kind=ext or "(none)"))
        return None
    try:
        return load_sheets(path, limits)
    except Refused as exc:
        findings.append(finding("file.unreadable", reason_vi=exc.vi, reason_en=exc.en))
    except Exception as exc:  # noqa: BLE001 - calamine raises its own error types for every broken container
        vi, en = unreadable_reason(exc)
        findings.append(finding("file.unreadable", reason_vi=vi, reason_en=en))
    return None


def unreadable_reason(exc: Exception) -> tuple[str, str]:
    """Why calamine could not read a file the inspection let through: (Vietnamese, English), each what the office
    can do about it.  calamine's own text (English, about zip archives and XML) is no reason an office can act on
    (issue 13): it goes to the log only."""
    text = str(exc).strip() or type(exc).__name__
    kind = type(exc).__name__
    log.warning("calamine could not read a workbook: %s: %s", kind, text)
    if "password" in text.lower() or kind == "PasswordError":
        return ("bảng tính có mật khẩu; hãy gỡ mật khẩu trong Excel rồi gửi lại",
                "the workbook is password-protected; remove the password in Excel and send it again")
    if kind in ("ZipError", "BadZipFile") or "zip" in text.lower():
        return ("tệp không phải bảng tính Excel hợp lệ hoặc đã bị hỏng; hãy mở tệp bằng Excel, lưu lại rồi gửi lại",
                "the file is not a valid Excel workbook or is damaged; open it in Excel, save it and send it again")
    return (("chương trình đọc bảng tính không đọc được tệp; tệp có thể bị hỏng, hãy mở tệp bằng Excel, lưu lại "
             "rồi gửi lại"),
            ("the spreadsheet reader could not read the file, which may be damaged; open it in Excel, save it and "
             "send it again"))


def load_sheets(path: Path, limits: Limits | None,
                hidden: bool = False) -> list[tuple[str, list[list[object]], SheetMarks]]:
    """Every visible worksheet's cells and marks (with ``hidden``: the hidden ones instead), after
    pipelines/intake/safety.py has checked what the file is and what it costs and collected what the cells show beyond
    their values (:mod:`pipelines.intake.sheet_marks`).  Hidden sheets are the drop-down lists of the national template;
    they are looked at only to say that a form sits on one."""

    limits = limits or Limits()
    inspection = safety.inspect(path, limits)  # safety.Refused: the reason, in Vietnamese and in English
    with open(path, "rb") as fh:  # by content, not extension: an .xls renamed .xlsx still reads
        wb = CalamineWorkbook.from_filelike(fh)
    try:
        out = []
        for meta in wb.sheets_metadata:
            if "WorkSheet" not in str(meta.typ) or (not str(meta.visible).endswith(".Visible")) != hidden:
                continue
            rows = cast("list[list[object]]",  # a grid of cell values, each read for what it is
                        wb.get_sheet_by_name(meta.name).to_python(skip_empty_area=False, nrows=limits.max_rows))
            out.append((meta.name, rows, inspection.marks.get(meta.name, NO_MARKS)))
        return out
    finally:
        wb.close()


def row_text(row: list[object]) -> str:
    return " ".join(clean(c) for c in row if isinstance(c, str) and clean(c))


def identification_lines(grid, rows, empty: dict[str, str] | None = None) -> dict[str, tuple[str, str | None]]:
    """Identification lines (``Đơn vị gửi báo cáo: …``, ``Tỉnh/Thành phố: …``) in the given rows."""
    found: dict[str, tuple[str, str | None]] = {}
    for r in rows:
        if r >= len(grid):
            break
        row = grid[r]
        cells = [(c, clean(v)) for c, v in enumerate(row[:30]) if v not in ("", None) and clean(v)]
        if not cells:
            continue
        c0, first = cells[0]
        key = loose_key(first.split(":", 1)[0])
        for prefix, name in FIELD_PREFIXES:  # noqa: B007 - `name` is read after the loop, where it broke
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
