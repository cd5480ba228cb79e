"""What a person sees on a sheet that the cell values alone do not tell (issue #11, the first law).

python-calamine returns each cell's stored value and nothing else: a formula whose cached result is an error
(``#DIV/0!``) comes back as an empty string, a hidden column or row as if it were shown, and 0.6344 in a cell
formatted ``0.00%`` as 0.6344 although the sheet shows 63.44 %.  :class:`SheetMarks` holds, for one sheet, the
cells that show an error, the hidden rows and columns, and the cells whose number format changes what is shown;
the reader turns them into findings or readings (:mod:`pipelines.read.workbook`).

The marks are collected while :mod:`pipelines.intake.safety` already walks every byte of the file, so they cost one more
look at data in hand, never another parse of the whole file:

* ``.xlsx``/``.xlsm``: the sheet XML marks error cells ``t="e"`` (the text shown in ``<v>``), hidden rows
  ``<row hidden="1">``, hidden columns ``<col min max hidden="1">``, and each cell's style ``s``, whose number
  format is in ``xl/styles.xml``;
* ``.xls`` (BIFF8): FORMULA records whose cached result is an error, BOOLERR records holding an error, ROW and
  COLINFO records with their hidden flag, and each cell record's XF index, whose format is in FORMAT/XF records;
* ``.ods``: ``calcext:value-type="error"`` cells (the text shown in ``<text:p>``), ``table:visibility`` of rows
  and columns, and ``office:value-type="percentage"``.

Positions are 0-based (row, column), as calamine's grid.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from functools import lru_cache

# Kinds of number format that change what a person reads from a number (see format_kind).
PERCENT = "percent"  # 0.6344 shown as 63.44 %
HIDDEN = "hidden"  # ;;; — the number is not shown at all
DIFFERENT = "different"  # the number shown is not the number held (scaled by 1,000, or text instead of digits)

# The error values a spreadsheet shows, by BIFF error code ([MS-XLS] 2.5.9 BErr).
BIFF_ERRORS = {0x00: "#NULL!", 0x07: "#DIV/0!", 0x0F: "#VALUE!", 0x17: "#REF!", 0x1D: "#NAME?", 0x24: "#NUM!",
               0x2A: "#N/A", 0x2B: "#GETTING_DATA"}
ERROR_TEXTS = frozenset(BIFF_ERRORS.values()) | {"#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!", "#UNKNOWN!"}
_LIBREOFFICE_ERROR = re.compile(r"Err:\d{3}")  # LibreOffice's own codes (Err:502 invalid argument, …)


def is_error_text(text: str) -> bool:
    """Whether a text is what a spreadsheet shows for a formula error (``#DIV/0!``, ``Err:502``)."""
    return text in ERROR_TEXTS or _LIBREOFFICE_ERROR.fullmatch(text) is not None


@dataclass
class SheetMarks:
    # cell -> the error it shows ("#DIV/0!"); NOT_COMPUTED for a formula saved without its result
    errors: dict[tuple[int, int], str] = field(default_factory=dict)
    hidden_rows: set[int] = field(default_factory=set)
    hidden_cols: set[int] = field(default_factory=set)
    formats: dict[tuple[int, int], str] = field(default_factory=dict)  # cell -> PERCENT | HIDDEN | DIFFERENT

    def hidden(self, row: int, col: int) -> bool:
        return row in self.hidden_rows or col in self.hidden_cols


NO_MARKS = SheetMarks()
NOT_COMPUTED = ""  # a formula whose result was never saved (written by a program, never opened in a spreadsheet)


# --- number formats ------------------------------------------------------------------------------------------
_LITERALS = re.compile(r'"[^"]*"|\\.|_.|\*.|\[[^\]]*\]')
_SCALED = re.compile(r"[0#?],+(?![0#?,])")
_BUILTIN = {9: "0%", 10: "0.00%"}  # built-in formats that matter here (ECMA-376 18.8.30)


@lru_cache(maxsize=1024)
def format_kind(code: str) -> str | None:
    """PERCENT, HIDDEN or DIFFERENT for a number format code that changes what a positive number shows, else None.

    Only the first section (positive numbers) decides: a zero shown as ``-`` (accounting) is still zero."""
    if not code or code.lower() == "general":
        return None
    sections = [_LITERALS.sub(lambda m: "x" if m.group(0).startswith('"') and len(m.group(0)) > 2 else "",
                              s) for s in code.split(";")]
    if all(not s.strip() for s in sections):
        return HIDDEN
    first = sections[0]
    if "general" in first.lower():
        return PERCENT if "%" in first else None
    if "@" in first and not re.search(r"[0#?]", first):
        return None  # a text format: numbers still show as typed
    if not re.search(r"[0#?]", first) or _SCALED.search(first):
        return DIFFERENT
    return PERCENT if "%" in first else None


_NUMFMT = re.compile(rb"""<(?:[\w.-]+:)?numFmt\s([^>]*)>""")
_CELLXFS = re.compile(rb"""<(?:[\w.-]+:)?cellXfs\b[^>]*>(.*?)</(?:[\w.-]+:)?cellXfs>""", re.DOTALL)
_XF = re.compile(rb"""<(?:[\w.-]+:)?xf\b([^>]*)>""")
_FMT_ID = re.compile(rb"""\bnumFmtId\s*=\s*["'](\d+)["']""")
_ENTITY = re.compile(r"&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


def _unescape(text: str) -> str:
    def one(m: re.Match) -> str:
        e = m.group(1)
        if e.startswith("#"):
            n = int(e[2:], 16) if e[1] in "xX" else int(e[1:])  # noqa: FURB166 - "&#x41;" has no "0x" prefix
            return chr(n) if 0 < n < 0x110000 else ""
        return _NAMED[e]
    return _ENTITY.sub(one, text)


def xlsx_style_kinds(styles: bytes | None) -> dict[int, str]:
    """Cell style index (``s``) -> format kind, from the bytes of ``xl/styles.xml`` (None when there is none).

    Read by regular expressions, not as a tree: a workbook's styles part holds hundreds of fonts, fills and
    borders that do not matter here, and parsing them as a tree cost more than the rest of the inspection."""
    if not styles:
        return {}
    codes = dict(_BUILTIN)
    for m in _NUMFMT.finditer(styles):
        a = _attrs(m.group(1))
        if a.get("numFmtId", "").isdigit():
            codes[int(a["numFmtId"])] = _unescape(a.get("formatCode", ""))
    kind_of = {str(n).encode(): k for n, code in codes.items() if (k := format_kind(code))}
    block = _CELLXFS.search(styles)
    if block is None or not kind_of.keys() & set(_FMT_ID.findall(block.group(1))):
        return {}
    kinds: dict[int, str] = {}
    for i, m in enumerate(_XF.finditer(block.group(1))):
        n = _FMT_ID.search(m.group(1))
        if n and n.group(1) in kind_of:
            kinds[i] = kind_of[n.group(1)]
    return kinds


# --- .xlsx sheet XML ---------------------------------------------------------------------------------------
_ATTR = re.compile(rb"""([\w:]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_ERROR_CELL = re.compile(rb"""<(?:[\w.-]+:)?c\s([^>]*\bt\s*=\s*["']e["'][^>]*)>(.*?)</(?:[\w.-]+:)?c>""",
                         re.DOTALL)
_UNCOMPUTED = re.compile(rb"""<(?:[\w.-]+:)?c\s([^>]*)>\s*<(?:[\w.-]+:)?f\b"""
                         rb"""(?:[^>]*/>|[^>]*>[^<]*</(?:[\w.-]+:)?f>)\s*"""
                         rb"""(?:<(?:[\w.-]+:)?v\s*/>|<(?:[\w.-]+:)?v>\s*</(?:[\w.-]+:)?v>)?\s*</(?:[\w.-]+:)?c>""")
_HIDDEN_TRUE = re.compile(rb"""\bhidden\s*=\s*["'](?:1|true)["']""")
_FORMULA = re.compile(rb"<(?:[\w.-]+:)?f[\s>/]")
_VALUE = re.compile(rb"<(?:[\w.-]+:)?v>([^<]*)</(?:[\w.-]+:)?v>")
_HIDDEN_ROW = re.compile(rb"""<(?:[\w.-]+:)?row\s([^>]*\bhidden\s*=\s*["'](?:1|true)["'][^>]*)>""")
_COL = re.compile(rb"<(?:[\w.-]+:)?col\s([^>]*)/?>")
_REF = re.compile(r"^([A-Z]{1,3})([1-9][0-9]{0,6})$")
_TRUE = ("1", "true")


def _attrs(raw: bytes) -> dict[str, str]:
    return {k.decode().rsplit(":", 1)[-1] if b":" in k and not k.startswith(b"xml") else k.decode():
            (a if a is not None else b).decode("utf-8", "replace") for k, a, b in _ATTR.findall(raw)}


def _position(ref: str) -> tuple[int, int] | None:
    m = _REF.match(ref.upper())
    if not m:
        return None
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)) - 1, col - 1


def _cols(marks: SheetMarks, attrs: dict[str, str]) -> None:
    if attrs.get("hidden", "").lower() in _TRUE:
        try:
            lo, hi = int(attrs.get("min", "0")), int(attrs.get("max", "0"))
        except ValueError:
            return
        marks.hidden_cols.update(range(max(lo, 1) - 1, min(hi, 16384)))


def xlsx_marks_small(data: bytes, kinds: dict[int, str]) -> SheetMarks | None:
    """Marks of a worksheet part held whole in memory, by regular expressions; None when a marked element has no
    cell reference (then :class:`XlsxMarksScan` follows the sheet element by element)."""
    marks = SheetMarks()
    if b"hidden" in data and _HIDDEN_TRUE.search(data):  # plain byte searches first: most sheets have none
        for m in _HIDDEN_ROW.finditer(data):
            r = _attrs(m.group(1)).get("r", "")
            if not r.isdigit():
                return None
            marks.hidden_rows.add(int(r) - 1)
        for m in _COL.finditer(data):
            _cols(marks, _attrs(m.group(1)))
    if b"t=\"e\"" in data or b"t='e'" in data:
        for m in _ERROR_CELL.finditer(data):
            pos = _position(_attrs(m.group(1)).get("r", ""))
            if pos is None:
                return None
            v = _VALUE.search(m.group(2))
            marks.errors[pos] = v.group(1).decode("utf-8", "replace") if v else "#ERROR"
    if (b"<f>" in data or b"<f " in data or b":f>" in data or b":f " in data) and _FORMULA.search(data):
        for m in _UNCOMPUTED.finditer(data):
            pos = _position(_attrs(m.group(1)).get("r", ""))
            if pos is None:
                return None
            marks.errors[pos] = NOT_COMPUTED
    if kinds:
        styles = b"|".join(str(i).encode() for i in kinds)
        for m in re.finditer(rb"""<(?:[\w.-]+:)?c\s([^>]*\bs\s*=\s*["'](?:""" + styles + rb""")["'][^>]*)>""", data):
            a = _attrs(m.group(1))
            pos = _position(a.get("r", ""))
            if pos is None:
                return None
            marks.formats[pos] = kinds[int(a["s"])]
    return marks


class XlsxMarksScan:
    """The same marks, element by element (an expat target): for sheets too large to hold, or without references."""

    def __init__(self, kinds: dict[int, str]) -> None:
        self.kinds = kinds
        self.marks = SheetMarks()
        self._row = 0  # 1-based, as the XML
        self._col = 0
        self._error: tuple[int, int] | None = None
        self._cell: tuple[int, int] | None = None
        self._formula = self._value = False
        self._in_v = False
        self._text: list[str] = []

    def start(self, tag: str, attrs: dict) -> None:
        local = tag.rsplit("}", 1)[-1]
        if local == "c":
            ref = attrs.get("r")
            pos = _position(ref) if ref else None
            if pos is not None:
                self._row, self._col = pos[0] + 1, pos[1] + 1
            else:
                self._col += 1
            here = (self._row - 1, self._col - 1)
            self._cell, self._formula, self._value = here, False, False
            if attrs.get("t") == "e":
                self._error = here
                self._text = []
            style = attrs.get("s")
            if style and style.isdigit() and int(style) in self.kinds:
                self.marks.formats[here] = self.kinds[int(style)]
        elif local == "row":
            r = attrs.get("r")
            self._row = int(r) if r and r.isdigit() else self._row + 1
            self._col = 0
            if str(attrs.get("hidden", "")).lower() in _TRUE:
                self.marks.hidden_rows.add(self._row - 1)
        elif local == "col":
            _cols(self.marks, attrs)
        elif local == "f":
            self._formula = True
        elif local == "v":
            self._in_v = True

    def data(self, text: str) -> None:
        if self._in_v:
            self._value = self._value or bool(text.strip())
            if self._error is not None:
                self._text.append(text)

    def end(self, tag: str) -> None:
        local = tag.rsplit("}", 1)[-1]
        if local == "v":
            self._in_v = False
        elif local == "c":
            if self._error is not None:
                self.marks.errors[self._error] = "".join(self._text).strip() or "#ERROR"
                self._error = None
            elif self._formula and not self._value and self._cell is not None:
                self.marks.errors[self._cell] = NOT_COMPUTED

    def close(self) -> SheetMarks:
        return self.marks


# --- .xls (BIFF8) ------------------------------------------------------------------------------------------
FORMULA, BOOLERR, ROW, COLINFO, XF, FORMAT, MULRK = 0x0006, 0x0205, 0x0208, 0x007D, 0x00E0, 0x041E, 0x00BD
_XF_CELLS = {0x0203, 0x027E, 0x00FD, 0x0204, 0x0201, FORMULA, BOOLERR}  # records: row, col, ixfe, …


class BiffMarks:
    """Fed every BIFF record of the workbook stream in order (globals first, then one substream per sheet)."""

    def __init__(self) -> None:
        self.codes: dict[int, str] = dict(_BUILTIN)
        self.xf_formats: list[int] = []
        self.kinds: dict[int, str] | None = None  # XF index -> kind, once the globals are read
        self.sheet: SheetMarks | None = None

    def globals_record(self, rtype: int, body: bytes) -> None:
        if rtype == XF and len(body) >= 4:
            self.xf_formats.append(struct.unpack_from("<H", body, 2)[0])
        elif rtype == FORMAT and len(body) >= 5:
            ifmt, cch = struct.unpack_from("<HH", body, 0)
            wide = body[4] & 1
            raw = body[5:5 + cch * (2 if wide else 1)]
            self.codes[ifmt] = raw.decode("utf-16-le" if wide else "latin-1", "replace")

    def start_sheet(self) -> SheetMarks:
        if self.kinds is None:
            self.kinds = {i: k for i, f in enumerate(self.xf_formats) if (k := format_kind(self.codes.get(f, "")))}
        self.sheet = SheetMarks()
        return self.sheet

    def sheet_record(self, rtype: int, body: bytes) -> None:
        marks = self.sheet
        if marks is None or len(body) < 6:
            return
        if rtype in _XF_CELLS:
            row, col, ixfe = struct.unpack_from("<HHH", body, 0)
            if self.kinds and ixfe in self.kinds:
                marks.formats[(row, col)] = self.kinds[ixfe]
            if rtype == FORMULA and len(body) >= 14 and body[6] == 2 and body[12:14] == b"\xff\xff":
                marks.errors[(row, col)] = BIFF_ERRORS.get(body[8], "#ERROR")
            elif rtype == BOOLERR and len(body) >= 8 and body[7] == 1:
                marks.errors[(row, col)] = BIFF_ERRORS.get(body[6], "#ERROR")
        elif rtype == MULRK and self.kinds:
            row, first = struct.unpack_from("<HH", body, 0)
            for i in range((len(body) - 6) // 6):
                ixfe = struct.unpack_from("<H", body, 4 + 6 * i)[0]
                if ixfe in self.kinds:
                    marks.formats[(row, first + i)] = self.kinds[ixfe]
        elif rtype == ROW and len(body) >= 14:
            if struct.unpack_from("<H", body, 12)[0] & 0x20:
                marks.hidden_rows.add(struct.unpack_from("<H", body, 0)[0])
        elif rtype == COLINFO and len(body) >= 10:
            first, last = struct.unpack_from("<HH", body, 0)
            if struct.unpack_from("<H", body, 8)[0] & 1:
                marks.hidden_cols.update(range(first, min(last, 16383) + 1))


# --- .ods (OpenDocument content.xml) --------------------------------------------------------------------------
_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_CALCEXT = "urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0"
_T = f"{{{_TABLE}}}"
_NUMBER = "{urn:oasis:names:tc:opendocument:xmlns:datastyle:1.0}"
_STYLE = "{urn:oasis:names:tc:opendocument:xmlns:style:1.0}"


class OdsDataStyles:
    """The number styles of an OpenDocument spreadsheet (``styles.xml`` and the automatic styles that open
    ``content.xml``), as an expat target: cell style name -> PERCENT, HIDDEN or DIFFERENT, as :func:`format_kind`
    does for Excel codes (a style with a map for positive values is decided by the style it maps to)."""

    def __init__(self) -> None:
        self.styles: dict[str, tuple[str, bool, str | None, bool, str | None]] = {}
        self.cells: dict[str, str] = {}  # cell style -> data style
        self._open: list | None = None  # [name, kind, has_number, factor, has_text, positive map]
        self._in_text = False

    def start(self, tag: str, attrs: dict) -> None:
        if tag.startswith(_NUMBER):
            local = tag[len(_NUMBER):]
            if local.endswith("-style"):
                self._open = [attrs.get(_STYLE + "name", ""), local, False, None, False, None]
            elif self._open is not None and local in ("number", "scientific-number", "fraction"):
                self._open[2] = True
                self._open[3] = attrs.get(_NUMBER + "display-factor")
            elif local == "text":
                self._in_text = True
        elif tag == _STYLE + "map" and self._open is not None:
            condition = attrs.get(_STYLE + "condition", "").replace(" ", "")
            if condition in ("value()>0", "value()>=0"):
                self._open[5] = attrs.get(_STYLE + "apply-style-name")
        elif tag == _STYLE + "style" and attrs.get(_STYLE + "family") == "table-cell":
            data = attrs.get(_STYLE + "data-style-name")
            if data:
                self.cells[attrs.get(_STYLE + "name", "")] = data

    def data(self, text: str) -> None:
        if self._in_text and self._open is not None and text.strip():
            self._open[4] = True

    def end(self, tag: str) -> None:
        if tag == _NUMBER + "text":
            self._in_text = False
        elif tag.startswith(_NUMBER) and tag.endswith("-style") and self._open is not None:
            name, *rest = self._open
            self.styles[name] = tuple(rest)
            self._open = None

    def walk(self, element) -> None:
        """Feed a parsed tree (``styles.xml``) through the same callbacks."""
        self.start(element.tag, element.attrib)
        if element.text:
            self.data(element.text)
        for child in element:
            self.walk(child)
            if child.tail:
                self.data(child.tail)
        self.end(element.tag)

    def kind(self, cell_style: str | None) -> str | None:
        name, seen = self.cells.get(cell_style or ""), set()
        while name in self.styles and name not in seen:
            seen.add(name)
            local, has_number, factor, has_text, positive = self.styles[name]
            if positive:
                name = positive
                continue
            if local == "percentage-style":
                return PERCENT
            if local not in ("number-style", "currency-style"):
                return None
            if not has_number:
                return DIFFERENT if has_text else HIDDEN
            return DIFFERENT if factor not in (None, "1") else None
        return None


class OdsScan:
    """An expat target over ``content.xml``: per table, the marks and the extent of the cells that hold something.

    ``on_cells(table, row, col, count)`` is called for every run of non-empty cells (1-based position of the
    run's last cell, and how many cells it stands for) so that pipelines/intake/safety.py can hold them to its limits
    before the run is marked cell by cell; repeated empty rows and columns (LibreOffice writes a million of them
    after the last row, hidden or not) cost nothing: hidden ones are marked only up to ``max_rows`` and
    ``max_columns``, beyond which no cell that holds something is read anyway."""

    def __init__(self, on_table, on_cells, data_styles: OdsDataStyles | None = None, max_rows: int = 1 << 20,
                 max_columns: int = 16384) -> None:
        self.on_table, self.on_cells = on_table, on_cells
        self.max_rows, self.max_columns = max_rows, max_columns
        self.data_styles = data_styles or OdsDataStyles()
        self.marks: dict[str, SheetMarks] = {}
        self._table: str | None = None
        self._sheet: SheetMarks | None = None
        self._col_def = 0  # column definitions seen (for table:table-column)
        self._row = 0  # 0-based row of the current row
        self._row_repeat = 1
        self._col = 0  # 0-based column of the next cell
        self._cell: list[tuple[int, int]] | None = None  # the cells an error cell being read stands for
        self._text: list[str] = []
        self._depth_p = 0

    def start(self, tag: str, attrs: dict) -> None:
        if self._table is None:  # the automatic styles come before the tables
            self.data_styles.start(tag, attrs)
        if not tag.startswith(_T):
            if self._cell is not None and tag.endswith("}p"):
                self._depth_p += 1
            return
        local = tag[len(_T):]
        if local == "table":
            self._table = attrs.get(_T + "name", f"Sheet{len(self.marks) + 1}")
            self._sheet = self.marks.setdefault(self._table, SheetMarks())
            self._col_def = self._row = 0
            self.on_table(self._table)
        elif self._sheet is None:
            return
        elif local == "table-column":
            n = _repeat(attrs.get(_T + "number-columns-repeated"))
            if attrs.get(_T + "visibility", "visible") != "visible":
                self._sheet.hidden_cols.update(range(self._col_def, min(self._col_def + n, self.max_columns)))
            self._col_def += n
        elif local == "table-row":
            self._row_repeat = _repeat(attrs.get(_T + "number-rows-repeated"))
            self._col = 0
            if attrs.get(_T + "visibility", "visible") != "visible":
                self._sheet.hidden_rows.update(range(self._row, min(self._row + self._row_repeat, self.max_rows)))
        elif local in ("table-cell", "covered-table-cell"):
            n = _repeat(attrs.get(_T + "number-columns-repeated"))
            kind = attrs.get(f"{{{_CALCEXT}}}value-type") or attrs.get(f"{{{_OFFICE}}}value-type")
            if kind or attrs.get(_T + "formula"):
                self.on_cells(self._table, self._row + self._row_repeat, self._col + n, n * self._row_repeat)
                run = [(r, c) for r in range(self._row, self._row + self._row_repeat)
                       for c in range(self._col, self._col + n)]  # within the limits just checked
                if not kind:  # a formula saved without its result
                    self._sheet.errors.update(dict.fromkeys(run, NOT_COMPUTED))
                shown = PERCENT if kind == "percentage" else \
                    self.data_styles.kind(attrs.get(_T + "style-name")) if kind == "float" else None
                if shown:
                    self._sheet.formats.update(dict.fromkeys(run, shown))
                if kind == "error":
                    self._cell, self._text = run, []
            self._col += n

    def data(self, text: str) -> None:
        if self._table is None:
            self.data_styles.data(text)
        if self._depth_p:
            self._text.append(text)

    def end(self, tag: str) -> None:
        if self._table is None:
            self.data_styles.end(tag)
        if tag == _T + "table-row":
            self._row += self._row_repeat
            return
        if self._cell is None or self._sheet is None:  # a cell is followed only inside a table
            return
        if tag.endswith("}p") and not tag.startswith(_T):
            self._depth_p = max(0, self._depth_p - 1)
        elif tag == _T + "table-cell":
            self._sheet.errors.update(dict.fromkeys(self._cell, "".join(self._text).strip() or "#ERROR"))
            self._cell = None

    def close(self) -> dict[str, SheetMarks]:
        return self.marks


def _repeat(value: str | None) -> int:
    try:
        return max(1, int(value)) if value else 1
    except ValueError:
        return 1
