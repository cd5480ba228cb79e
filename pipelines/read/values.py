"""Reading one result cell (column (4)) as a number, the way offices type them (SPEC §3).

A value is either read exactly or refused with a finding; nothing is guessed silently.  The few readings
that involve a choice (a rate typed as a fraction) are made and reported as a warning.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from pipelines.intake.sheet_marks import is_error_text
from schemas.forms import RowSpec
from schemas.text import clean, loose_key

# Unit words an office may type in the cell, by the row unit they belong to (loose keys).
UNIT_WORDS = {
    "billion_vnd": ["ti dong", "ti vnd", "ti d", "ti", "tr ti"],
    "ha": ["ha", "hecta", "hec ta"],
    "percent": ["%", "phan tram"],
    "persons": ["nguoi", "lao dong", "ld"],
    "million_vnd_per_person_month": ["trieu dong nguoi thang", "trieu dong", "trieu", "tr d", "trd"],
    "projects": ["du an", "da"],
    "clusters": ["cum", "ccn"],
    "flag": ["cong trinh"],
}
# Unit words that belong to another row unit: typed in the wrong row they change the magnitude.
_ALL_UNIT_WORDS = sorted({w for ws in UNIT_WORDS.values() for w in ws} | {"dong", "vnd", "nghin", "m2"},
                         key=len, reverse=True)
FLAG_WORDS = {"co": 1.0, "x": 1.0, "yes": 1.0, "da": 1.0, "dat": 1.0, "khong": 0.0, "no": 0.0, "chua": 0.0}
FLAG_WORDS = {loose_key(k): v for k, v in FLAG_WORDS.items()}
_NUMBER = re.compile(r"^[+-]?(\d[\d.,\s]*)$")


@dataclass
class CellReading:
    value: float | None
    problem: str | None = None  # rule id of an error, or None
    warning: str | None = None  # rule id of a warning
    params: dict | None = None


def _fail(rule: str, **params) -> CellReading:
    return CellReading(None, problem=rule, params=params)


def parse_number_text(text: str, integer_row: bool) -> tuple[float | None, str | None, dict]:
    """``1.234,5`` / ``1,234.5`` / ``12,5`` / ``1 234`` → float.  Returns (value, rule id, params)."""
    s = text.replace(" ", "").replace("\u202f", "")
    sign = -1.0 if s.startswith("-") else 1.0
    s = s.lstrip("+-")
    if not s or not re.fullmatch(r"[\d.,]+", s) or not s[0].isdigit() or not s[-1].isdigit():
        return None, "value.not_a_number", {"raw": text}
    dots, commas = s.count("."), s.count(",")
    if dots and commas:
        dec = "." if s.rfind(".") > s.rfind(",") else ","
        thou = "," if dec == "." else "."
        whole, _, frac = s.rpartition(dec)
        if whole.count(dec) or not _grouped(whole, thou):
            return None, "value.not_a_number", {"raw": text}
        return sign * float(whole.replace(thou, "") + "." + frac), None, {}
    sep = "." if dots else "," if commas else ""
    if not sep:
        return sign * float(s), None, {}
    parts = s.split(sep)
    if len(parts) > 2:  # only a thousands separator repeats
        if not _grouped(s, sep):
            return None, "value.not_a_number", {"raw": text}
        return sign * float(s.replace(sep, "")), None, {}
    whole, frac = parts
    if len(frac) == 3 and 1 <= len(whole) <= 3 and whole != "0":
        # 1.234 or 1,234: a thousands group or three decimals
        if integer_row:
            return sign * float(whole + frac), None, {}
        return None, "value.ambiguous_separator", {"raw": text, "a": whole + frac, "b": f"{whole}.{frac}"}
    return sign * float(whole + "." + frac), None, {}


def _grouped(s: str, sep: str) -> bool:
    groups = s.split(sep)
    return 1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])


_NUMBER_THEN_UNIT = re.compile(r"^\s*([+-]?\s*\d[\d.,\s]*?)\s*([^\d\s.,+-].*?)?\s*$")
_KNOWN_UNIT_WORDS = set(_ALL_UNIT_WORDS)


def _strip_unit(text: str, row: RowSpec) -> tuple[str, str | None]:
    """Split ``12,5 ha`` / ``12,5ha`` / ``65%`` into the number and the unit word typed after it.

    Returns (number text, unit word) — the unit word is ``""`` when none was typed and None when the text after
    the number is not a unit at all (``23,29% (4 dự án)``, ``16 ha (11,99)``): then the cell is not a number."""
    m = _NUMBER_THEN_UNIT.match(text)
    if not m:
        return text, None
    number, unit = m.group(1).strip(), (m.group(2) or "").strip()
    if not unit:
        return number, ""
    key = "%" if unit == "%" else loose_key(unit)
    return (number, key) if key in _KNOWN_UNIT_WORDS else (text, None)


def read_cell(raw: object, row: RowSpec, shown_percent: bool = False) -> CellReading:
    """Read the result cell of ``row``.  ``raw`` is what the workbook reader returned for the cell;
    ``shown_percent`` when its number format shows it as a percentage (0.6344 shown as 63.44 %)."""
    if raw is None or (isinstance(raw, str) and not clean(raw)):
        return CellReading(None, warning="value.blank", params={"code": row.code})
    if isinstance(raw, bool):
        return _check(float(raw), row, str(raw))
    if isinstance(raw, (int, float)):
        if isinstance(raw, float) and (math.isnan(raw) or math.isinf(raw)):
            return _fail("value.not_a_number", raw=str(raw))
        if shown_percent:
            pct = round(float(raw) * 100, 10)
            if row.unit != "percent":  # what the sheet shows is a percentage in a row counted in another unit
                return _fail("value.unit_in_cell", raw=f"{_show(pct)}%", expected=row.unit_vi)
            return _check(pct, row, f"{_show(pct)}%", percent_sign=True)
        return _check(float(raw), row, _show(raw), numeric_cell=True)
    if isinstance(raw, (datetime, date, time, timedelta)):
        return _fail("value.not_a_number", raw=str(raw))
    text = clean(raw)
    if is_error_text(text):  # an error shown as text (an OpenDocument file written by another program)
        return _fail("value.formula_error", shown=text)
    if row.unit == "flag":
        k = loose_key(text)
        if k in FLAG_WORDS:
            return CellReading(FLAG_WORDS[k])
    rest, unit_word = _strip_unit(text, row)
    if unit_word is None:
        return _fail("value.not_a_number", raw=text)
    if unit_word and unit_word not in UNIT_WORDS[row.unit]:
        return _fail("value.unit_in_cell", raw=text, expected=row.unit_vi)
    if not _NUMBER.match(rest.strip()):
        return _fail("value.not_a_number", raw=text)
    value, problem, params = parse_number_text(rest.strip(), row.is_integer)
    if value is None:  # a problem comes without a value
        return _fail(problem or "value.not_a_number", **params)
    return _check(value, row, text, percent_sign=unit_word == "%")


def _show(v: float | int) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _check(value: float, row: RowSpec, raw: str, numeric_cell: bool = False,
           percent_sign: bool = False) -> CellReading:
    if row.unit == "flag" and value not in (0.0, 1.0):
        return _fail("value.flag_not_binary", raw=raw)
    if row.unit == "percent" and not percent_sign and 0 < abs(value) <= 1:
        pct = round(value * 100, 10)
        return CellReading(pct, warning="value.percent_assumed", params={"raw": raw, "value": _show(pct)})
    if row.is_integer and not float(value).is_integer():
        return _fail("value.not_integer", raw=raw, unit=row.unit_vi)
    return CellReading(value)
