"""What reading a workbook yields: the reports found on its sheets, each value with the cell it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from schemas.forms import FormSpec, load_forms
from validations.catalogue import Finding


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
    header: dict[str, tuple[str, str | None]]  # field -> (text, cell; None when not read from a cell)
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
