"""Reading a province's cluster register workbook (``ccn template register``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from pipelines.read.report import a1
from pipelines.read.sheets import identification_lines, open_sheets, row_text
from pipelines.read.values import parse_number_text
from pipelines.settings import Limits
from schemas.admin import admin
from schemas.forms import load_register
from schemas.keys import cluster_key
from schemas.text import clean, loose_key
from validations.catalogue import Finding, finding


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

    reading = RegisterReading(path=path, name=name or path.name)
    sheets = open_sheets(path, reading.name, limits, reading.findings)
    if sheets is None:
        return reading
    reg = load_register()
    for sheet, grid, _marks in sheets:
        found = register_header(grid, reg)
        if found is None:
            continue
        header_row, cols = found
        reading.sheet = sheet
        _register_province(reading, grid, header_row, sheet, reading.name)
        _register_rows(reading, grid, header_row, cols, reg, admin())
        return reading
    reading.findings.append(finding("register.header_not_found"))
    return reading


def register_header(grid, reg) -> tuple[int, dict[str, int]] | None:
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
    a = admin()
    lines = identification_lines(grid, range(header_row))
    sources: list[tuple[str, str | None]] = [lines["province"]] if "province" in lines else []
    title = " ".join(row_text(row) for row in grid[:header_row])
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
                                    detail=" (the register names no province: 'Tỉnh, thành phố:' line, title, sheet "
                                           "or file name)"))


def _register_rows(reading: RegisterReading, grid, header_row: int, cols: dict[str, int], reg, a) -> None:
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
    sheet = reading.sheet
    if col.kind == "number":
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return float(raw)
        text = re.sub(r"\s*(ha|hecta)\.?\s*$", "", clean(raw), flags=re.IGNORECASE)
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
