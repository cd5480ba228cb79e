"""Writing forms as workbooks: the official layout of Circular 14 plus the national identification lines.

Used by ``ccn template`` (an empty form to fill in), ``ccn sample`` (filled forms, typed in the ways real
offices type them) and the tests.  Text from any input is written as text, never as a formula.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.utils import column_index_from_string, get_column_letter
from openpyxl.utils.cell import coordinate_from_string
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.page import PageMargins

from schemas.admin import Unit, admin
from schemas.forms import FormSpec, load_forms, load_register
from schemas.periods import Period
from schemas.text import strip_marks


@dataclass
class Typing:
    """How an office typed a workbook: the variations of SPEC §3 (all off = the national template)."""

    row_offset: int = 0  # blank rows (or a logo line) before the title
    col_offset: int = 0  # blank columns before column (1)
    numbered_row: bool = True  # the "(1) … (5)" row under the header
    sections: bool = True  # section rows I, II, III in Biểu 03/04
    code_style: str = "text"  # text | number | float | comma | dotted  ("15.1", 15.1, 3.0, "15,1", "3.")
    label_style: str = "nfc"  # nfc | nfd | old_tone | upper | lower | no_marks | retyped
    number_style: str = "number"  # number | vn_text | en_text
    unit_in_cell: bool = False  # "12,5 ha"
    percent_style: str = "number"  # number (65) | text ("65%") | fraction (0.65: read with a warning)
    identification: bool = True  # the national identification lines
    flag_style: str = "number"  # number | words (có/không) | x (x / 0)
    extra_header_rows: int = 0
    # further variations (SPEC §3); all off = the national template
    title_style: str = "full"  # full "Biểu số 02. Tình hình…" | code "BIỂU SỐ 02" | title (no "Biểu số") | none
    label_spaces: bool = False  # doubled and trailing spaces in labels
    abbreviate: bool = False  # "CCN", "SXKD", "HTKT", "NSNN", "XLNT" in labels
    merged_header: bool = False  # the header typed over two rows with vertically merged cells
    footnotes: bool = False  # a note and a signature block typed under the table
    codes: bool = True  # the TT column (without it rows are matched by their text only)
    fill_in: bool = False  # header lines as a label and a separate cell to type in (the template of `ccn template`)


@dataclass
class Identification:
    province: str = ""  # "37 - Tỉnh Ninh Bình"
    commune: str = ""
    cluster: str = ""
    tax_code: str = ""
    project: str = ""
    sector: str = ""
    sender: str = ""
    period: Period | None = None
    period_text: str = ""  # what is typed after "Kỳ báo cáo:" when it is not the period's own label
    district: str = ""  # pre-2025 reports (district wording): "Huyện Bảo Thắng"


@dataclass
class FormContent:
    form: str
    ident: Identification
    values: dict[str, Any] = field(default_factory=dict)  # code -> number or text as typed
    generation: str = "commune"
    # A report made from the form by someone other than its sender (the Ministry's national report of
    # ``ccn export national``): its own title, receiver, lines under the period (instead of the form's deadline
    # line) and signature block.  Empty: the form's own, from forms.toml.
    title: str = ""
    receiver: str = ""
    notes: tuple[str, ...] = ()
    signer: tuple[str, ...] = ()


# Abbreviations offices use (the reader expands them back: forms.toml [vocabulary.abbreviations])
_ABBREVIATE = [("cụm công nghiệp", "CCN"), ("sản xuất kinh doanh", "SXKD"), ("hạ tầng kỹ thuật", "HTKT"),
               ("ngân sách nhà nước", "NSNN"), ("Ngân sách nhà nước", "NSNN"), ("xử lý nước thải", "XLNT"),
               ("hợp đồng lao động", "HĐLĐ")]
_OLD_TONES = [("oà", "òa"), ("oá", "óa"), ("oả", "ỏa"), ("oạ", "ọa"), ("uỷ", "ủy"), ("uý", "úy"), ("Tỷ", "Tỉ"),
              ("tỷ", "tỉ"), ("kỹ", "kĩ"), ("lý", "lí")]


def _label(text: str, style: str, t: Typing | None = None) -> str:
    if t is not None and t.abbreviate:
        for long, short in _ABBREVIATE:
            text = text.replace(long, short)
    if t is not None and t.label_spaces:
        text = "  ".join(text.split(" ", 2)) + "  "
    if style == "nfd":
        return unicodedata.normalize("NFD", text)
    if style == "old_tone":
        for a, b in _OLD_TONES:
            text = text.replace(a, b)
        return text
    if style == "upper":
        return text.upper()
    if style == "lower":
        return text.lower()
    if style == "no_marks":
        return strip_marks(text)
    if style == "retyped":  # the words in parentheses left out, as offices shorten long labels
        return " ".join(re.sub(r"\([^)]*\)", " ", text).split()) or text
    return text


def _code(code: str, style: str) -> object:
    if style == "number":
        return float(code) if "." in code else int(code)
    if style == "float":
        return float(code)
    if style == "comma":
        return code.replace(".", ",")
    if style == "dotted":
        return code + "."
    return code


def _section_numeral(numeral: str, style: str) -> str:
    return numeral + "." if style == "dotted" else numeral


def format_number(value: float, style: str) -> object:
    """A number as an office would type it: a real number, ``1.234,5`` (Vietnamese) or ``1,234.5``."""
    if style == "number":
        return value
    whole = int(abs(value))
    frac = round(abs(value) - whole, 6)
    frac_text = f"{frac:.6f}".rstrip("0").rstrip(".")[1:] if frac else ""
    thousands = f"{whole:,}"
    sign = "-" if value < 0 else ""
    if style == "vn_text":
        return sign + thousands.replace(",", ".") + ("," + frac_text[1:] if frac_text else "")
    return sign + thousands + ("." + frac_text[1:] if frac_text else "")


def generation_of(content: FormContent):
    spec: FormSpec = load_forms()[content.form]
    return next(g for g in spec.generations if g.name == content.generation)


def identification_lines(content: FormContent) -> list[tuple[str, str, object]]:
    """The national identification lines of a form: (field, label, value), in the generation's wording."""
    spec: FormSpec = load_forms()[content.form]
    ident = content.ident
    lines: list[tuple[str, str, object]] = [("province", "Tỉnh, thành phố:", ident.province)]
    level = spec.sender_level
    if content.generation == "district":
        if level in ("commune", "cluster", "project"):
            lines.append(("district", "Quận, huyện, thị xã:", ident.district))
        if level in ("cluster", "project") and ident.commune:
            lines.append(("commune", "Xã, phường, thị trấn:", ident.commune))
    elif level in ("commune", "cluster", "project"):
        lines.append(("commune", "Xã, phường, đặc khu:", ident.commune))
    if level in ("cluster", "project"):
        lines.append(("cluster", "Cụm công nghiệp:", ident.cluster))
        lines.append(("tax_code", "Mã số thuế:", ident.tax_code))
    lines.append(("year", "Năm báo cáo:", ident.period.year if ident.period else ""))
    return lines


def write_form(ws, content: FormContent, typing: Typing | None = None) -> dict[str, str]:
    """Write one form on the worksheet ``ws``; returns the cell (A1) of each row's value."""
    return write_form_layout(ws, content, typing)["values"]


WIDTHS = [6, 70, 18, 20, 14]  # columns (1)–(5): TT, indicator, unit, value, remark
LINE_POINTS = 15  # the height of one line of 11-point text, in Excel and LibreOffice alike


def wrapped_lines(text: str, width: float) -> int:
    """How many lines ``text`` takes wrapped in a column ``width`` characters wide (a character of Vietnamese text
    is narrower than the digit a width counts, so this never falls short); each line break starts a new line."""
    return sum(max(1, -(-len(line) // max(1, int(width) - 2))) for line in text.split("\n"))


def print_setup(ws, *, title_rows: str, area: str, landscape: bool = False) -> None:
    """How a sheet prints: A4, one page wide and as many tall as it needs, the table header repeated on every
    page, only ``area``, centred, with the margins of an official document (wider on the left for binding)."""
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = title_rows
    ws.print_area = area
    ws.print_options.horizontalCentered = True
    ws.page_margins = PageMargins(left=0.8, right=0.5, top=0.6, bottom=0.6, header=0.3, footer=0.3)  # inches


def write_form_layout(ws, content: FormContent, typing: Typing | None = None) -> dict[str, dict[str, str]]:
    """Write one form on ``ws``, set to print on A4; returns ``{"values": code -> A1, "ident": field -> A1}``."""
    t = typing or Typing()
    spec: FormSpec = load_forms()[content.form]
    gen = generation_of(content)
    r0 = 1 + t.row_offset
    c0 = 1 + t.col_offset if t.codes else t.col_offset  # without the TT column, column (2) moves left
    bold = Font(bold=True)
    thin = Side(style="thin")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)

    def put(row: int, col: int, value: object, **style):
        cell = ws.cell(row=row, column=col)
        if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") and not _is_number_text(value):
            cell.value = value
            cell.data_type = "s"  # text stays text
        else:
            cell.value = value
        for k, v in style.items():
            setattr(cell, k, v)
        return cell

    first = c0 if t.codes else c0 + 1
    table_width = sum(w for i, w in enumerate(WIDTHS) if c0 + i >= first)

    def across(row: int, text: str, **style) -> None:
        """A line of text over the whole width of the table, wrapped, its row as tall as its lines."""
        put(row, first, text, alignment=Alignment(wrap_text=True, vertical="top"), **style)
        ws.merge_cells(start_row=row, start_column=first, end_row=row, end_column=c0 + 4)
        ws.row_dimensions[row].height = LINE_POINTS * wrapped_lines(text, table_width)
    if t.row_offset:
        put(1, first, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM")
    r = r0
    title = _label(gen.title, t.label_style)
    if content.title:
        across(r, content.title, font=Font(bold=True, size=12))
        r += 1
    elif t.title_style != "none":
        text = {"full": f"{spec.label}. {title}", "code": spec.label.upper(), "title": title.upper()}[t.title_style]
        across(r, text, font=Font(bold=True, size=12))
        r += 1
        if t.title_style == "code":
            put(r, first, title, font=bold)
            r += 1
    ident = content.ident
    ident_cells: dict[str, str] = {}

    def line(label: str, value: object, name: str) -> None:
        nonlocal r
        if t.fill_in:  # label in column (2), the value typed in (3)–(5)
            put(r, c0 + 1, f"{label}:", font=bold)
            put(r, c0 + 2, value)
            ws.merge_cells(start_row=r, start_column=c0 + 2, end_row=r, end_column=c0 + 4)
            ident_cells[name] = f"{get_column_letter(c0 + 2)}{r}"
        else:
            put(r, first, f"{label}: {value}")
            ident_cells[name] = f"{get_column_letter(first)}{r}"
        r += 1

    line("Đơn vị gửi báo cáo", ident.sender or ("" if t.fill_in else gen.sender), "sender")
    for extra in spec.extra_header:  # the form's own lines (forms.toml extra_header), e.g. Biểu 01's project
        line(extra.label, getattr(ident, extra.field) or ("" if t.fill_in else "…"), extra.field)
    across(r, f"Đơn vị nhận báo cáo: {content.receiver or gen.receiver}")
    r += 1
    unfilled = "" if t.fill_in else "6 tháng/năm"
    period_text = ident.period_text or (ident.period.label_vi if ident.period else unfilled)
    line("Kỳ báo cáo", period_text, "period")
    if content.notes:
        for note in content.notes:
            across(r, note)
            r += 1
    else:
        h1, year = ((int(md[3:]), int(md[:2])) for md in (spec.deadline["H1"], spec.deadline["Y"]))
        across(r, f"(Thời hạn gửi báo cáo: Báo cáo 6 tháng gửi trước ngày {h1[0]} tháng {h1[1]} hằng năm; "
                  f"Báo cáo năm gửi trước ngày {year[0]} tháng {year[1]} hằng năm)", font=Font(italic=True))
        r += 1
    for _ in range(t.extra_header_rows):
        r += 1
    if t.identification:
        for name, label, value in identification_lines(content):
            put(r, c0 + 1, label, font=bold)
            put(r, c0 + 2, value)
            ident_cells[name] = f"{get_column_letter(c0 + 2)}{r}"
            r += 1
    r += 1
    header = ["TT", "Chỉ tiêu", "Đơn vị tính", spec.value_header, "Ghi chú"]
    header_row = r
    fill = PatternFill("solid", fgColor="DDEBF7")
    for i, h in enumerate(header):
        if i == 0 and not t.codes:
            continue
        put(r, c0 + i, h, font=bold, border=border, fill=fill, alignment=Alignment(horizontal="center", wrap_text=True))
        if t.merged_header:
            ws.merge_cells(start_row=r, start_column=c0 + i, end_row=r + 1, end_column=c0 + i)
    r += 2 if t.merged_header else 1
    if t.numbered_row:
        for i in range(5):
            if i or t.codes:
                put(r, c0 + i, f"({i + 1})", border=border, alignment=Alignment(horizontal="center"))
        r += 1
    title_rows = f"{header_row}:{r - 1}"
    cells: dict[str, str] = {}
    section = None
    for row in spec.rows:
        if t.sections and row.section and row.section != section:
            section = row.section
            numeral, _, stitle = section.partition(". ")
            if t.codes:
                put(r, c0, _section_numeral(numeral, t.code_style), font=bold, border=border)
            text = _label(stitle, t.label_style, t)
            put(r, c0 + 1, text, font=bold, border=border, alignment=Alignment(wrap_text=True))
            ws.merge_cells(start_row=r, start_column=c0 + 1, end_row=r, end_column=c0 + 4)
            ws.row_dimensions[r].height = LINE_POINTS * wrapped_lines(text, sum(WIDTHS[1:]))
            r += 1
        if t.codes:
            put(r, c0, _code(row.code, t.code_style), border=border)
        label = _label(row.label_vi, t.label_style, t)
        put(r, c0 + 1, label, border=border, alignment=Alignment(wrap_text=True, vertical="top"))
        put(r, c0 + 2, row.unit_vi, border=border, alignment=Alignment(wrap_text=True, vertical="top"))
        ws.row_dimensions[r].height = LINE_POINTS * max(wrapped_lines(label, WIDTHS[1]),
                                                        wrapped_lines(row.unit_vi, WIDTHS[2]))
        value = content.values.get(row.code)
        value_cell = put(r, c0 + 3, _typed(value, row, t), border=border)
        if isinstance(value_cell.value, float):
            value_cell.number_format = row.number_format
        put(r, c0 + 4, None, border=border)
        cells[row.code] = f"{get_column_letter(c0 + 3)}{r}"
        r += 1
    r += 1
    if t.footnotes:
        across(r, "Ghi chú: Cụm công nghiệp chuyên ngành là cụm công nghiệp có tối thiểu 60% diện tích đất công "
                  "nghiệp để thu hút các dự án đầu tư có cùng ngành, nghề.", font=Font(italic=True))
        put(r + 1, first, "Người lập biểu")
        r += 2
    signature = [("…, ngày … tháng … năm …", Font())] + [(text, bold) for text in content.signer or (spec.signer,)]
    for row_at, (text, font) in enumerate(signature, start=r):
        # the signature block under columns (4)–(5), wrapped there: nothing runs past the printed page
        put(row_at, c0 + 3, text, font=font, alignment=Alignment(horizontal="center", wrap_text=True))
        ws.merge_cells(start_row=row_at, start_column=c0 + 3, end_row=row_at, end_column=c0 + 4)
        ws.row_dimensions[row_at].height = LINE_POINTS * wrapped_lines(text, WIDTHS[3] + WIDTHS[4])
    r += len(signature) - 2  # the print area below ends at the last line of the signature (r + 1)
    for i, w in enumerate(WIDTHS):
        if c0 + i >= 1:
            ws.column_dimensions[get_column_letter(c0 + i)].width = w
    print_setup(ws, title_rows=title_rows, area=f"{get_column_letter(first)}1:{get_column_letter(c0 + 4)}{r + 1}")
    return {"values": cells, "ident": ident_cells}


def _is_number_text(value: str) -> bool:
    return value[:1] == "-" and value[1:2].isdigit()


def _typed(value: float | str | None, row, t: Typing) -> object:
    if value is None or isinstance(value, str):
        return value
    v = float(value)
    if row.unit == "flag":
        if t.flag_style == "words":
            return "có" if v else "không"
        if t.flag_style == "x":
            return "x" if v else 0
        return int(v)
    if row.unit == "percent" and t.percent_style == "text":
        return f"{format_number(v, 'vn_text')}%"
    if row.unit == "percent" and t.percent_style == "fraction":
        return v / 100
    if row.is_integer:
        v_out: object = int(v)
        if t.number_style != "number" and v >= 1000:
            v_out = format_number(v, t.number_style)
        return v_out
    if v.is_integer() and abs(v) >= 1000:
        return v  # "1.234" would be ambiguous in a row of decimals: offices that type text get it wrong too
    if t.unit_in_cell and row.unit == "ha":
        return f"{format_number(v, 'vn_text')} ha"
    return format_number(v, t.number_style)


# --- `ccn template`: empty forms to fill in, with drop-down lists, locked labels and number formats ---------------
LISTS_SHEET = "Danh mục"  # hidden sheet holding the long drop-down lists
PERIOD_CHOICES = ["6 tháng đầu năm", "Năm"]


def _choice(unit: Unit) -> str:
    """A unit as its drop-down lists show it: ``37 - Tỉnh Ninh Bình``."""
    return f"{unit.code} - {unit.name}"


def _lists(wb, generation: str, province_code: str | None) -> dict[str, str]:
    """Write the hidden list sheet: provinces in column A, then one column of communes (districts before 2025-07)
    per province, each under a defined name ``DS_<province code>``.  Returns the province range and the
    lower-level range of the one province when ``province_code`` is given."""

    a = admin()
    ws = wb.create_sheet(LISTS_SHEET)
    ws.sheet_state = "hidden"
    if generation == "district":
        provinces = sorted(a.old_provinces.values(), key=lambda u: u.code)
        lower: dict[str, list[Unit]] = {}
        for d in a.old_districts.values():
            lower.setdefault(d.province_code, []).append(d)
        title = ("Tỉnh, thành phố (trước 01/7/2025)", "Quận, huyện, thị xã")
    else:
        provinces = sorted(a.provinces.values(), key=lambda u: u.code)
        lower = {}
        for c in a.communes.values():
            lower.setdefault(c.province_code, []).append(c)
        title = ("Tỉnh, thành phố", "Xã, phường, đặc khu")
    if province_code:
        provinces = [p for p in provinces if p.code == province_code] or provinces
    ws.cell(1, 1, title[0])
    for i, p in enumerate(provinces, start=2):
        ws.cell(i, 1, _choice(p))
    out: dict[str, str] = {"provinces": f"'{LISTS_SHEET}'!$A$2:$A${len(provinces) + 1}"}
    for j, p in enumerate(provinces, start=2):
        units = sorted(lower.get(p.code, []), key=lambda u: u.code)
        col = get_column_letter(j)
        ws.cell(1, j, f"{title[1]} — {p.name}")
        for i, u in enumerate(units, start=2):
            ws.cell(i, j, _choice(u))
        ref = f"'{LISTS_SHEET}'!${col}$2:${col}${max(2, len(units) + 1)}"
        wb.defined_names[f"DS_{p.code}"] = DefinedName(f"DS_{p.code}", attr_text=ref)
        if p.code == province_code:
            out["lower"] = ref
    return out


def _right_of(ref: str) -> str:
    col, row = coordinate_from_string(ref)
    return f"{get_column_letter(column_index_from_string(col) + 1)}{row}"


def _validation(ws, formula: str, cell: str, prompt: str, error: str, kind: str = "list", **kw):
    dv = DataValidation(type=kind, formula1=formula, allow_blank=True, showErrorMessage=True,
                        errorTitle="Giá trị không hợp lệ", error=error, promptTitle="Hướng dẫn", prompt=prompt,
                        showInputMessage=True, **kw)
    ws.add_data_validation(dv)
    dv.add(cell)
    return dv


def write_template(path, form: str, generation: str = "commune", province_code: str | None = None):
    """An empty form (``01``…``04``) in the official layout with the national identification lines: drop-down
    lists for province, commune (district before 2025-07) and period, labels locked (sheet protection without a
    password), only column (4), its Ghi chú (5) and the identification values open for typing, number formats per
    unit."""

    spec = load_forms()[form]
    wb = Workbook()
    ws = wb.active
    ws.title = spec.label
    content = FormContent(form, Identification(), {}, generation=generation)
    layout = write_form_layout(ws, content, Typing(fill_in=True))
    lists = _lists(wb, generation, province_code)
    # column (4) and the identification values; column (5) too, where SPEC §6 wants a remark beside a value
    # that falls from the previous period (the catalogue's period.cumulative_fell reads it)
    notes = [_right_of(ref) for ref in layout["values"].values()]
    open_cells = list(layout["ident"].values()) + list(layout["values"].values()) + notes
    ident = layout["ident"]
    _validation(ws, lists["provinces"], ident["province"], "Chọn tỉnh, thành phố trong danh sách",
                "Hãy chọn tỉnh, thành phố trong danh sách")
    lower_field = "district" if generation == "district" else "commune"
    if lower_field in ident:
        formula = lists.get("lower") or f'INDIRECT("DS_"&LEFT(${ident["province"][0]}${ident["province"][1:]},2))'
        _validation(ws, formula, ident[lower_field], "Chọn sau khi đã chọn tỉnh, thành phố",
                    "Hãy chọn trong danh sách của tỉnh, thành phố đã chọn")
    _validation(ws, '"' + ",".join(PERIOD_CHOICES) + '"', ident["period"], "6 tháng đầu năm hoặc Năm",
                "Kỳ báo cáo là 6 tháng đầu năm hoặc Năm")
    this_year = Period(2024, "Y").year
    _validation(ws, '"' + ",".join(str(y) for y in range(this_year, this_year + 12)) + '"', ident["year"],
                "Năm của kỳ báo cáo", "Chọn năm trong danh sách")
    for code, ref in layout["values"].items():
        row = spec.row(code)
        ws[ref].number_format = row.number_format
        if row.unit == "flag":
            _validation(ws, "0", ref, "Ghi 1 (có) hoặc 0 (không)", "Chỉ ghi 1 hoặc 0", kind="whole",
                        operator="between", formula2="1")
        elif row.unit == "percent":
            _validation(ws, "0", ref, "Tỷ lệ phần trăm, ví dụ 65 cho 65%", "Ghi số từ 0 đến 100", kind="decimal",
                        operator="between", formula2="100")
        elif row.is_integer:
            _validation(ws, "0", ref, f"Số nguyên ({row.unit_vi})", "Ghi một số nguyên không âm", kind="whole",
                        operator="greaterThanOrEqual")
        else:
            _validation(ws, "0", ref, f"Đơn vị: {row.unit_vi}", "Ghi một con số không âm", kind="decimal",
                        operator="greaterThanOrEqual")
    for ref in open_cells:
        ws[ref].protection = Protection(locked=False)
    ws.protection.sheet = True
    ws.protection.formatColumns = False  # widening a column stays possible
    wb.active = 0
    wb.save(path)
    return layout


def write_register_template(path, province_code: str | None = None, rows: int = 300) -> dict[str, object]:
    """A province's cluster list: the province line (drop-down) and a table with the columns of ``[register]`` in
    forms.toml; commune, type and status are drop-down lists; only the province cell and the table body are open."""

    reg = load_register()
    wb = Workbook()
    ws = wb.active
    ws.title = "Danh sách CCN"
    lists = _lists(wb, "commune", province_code)
    ws.cell(1, 1, reg.title).font = Font(bold=True, size=12)
    ws.cell(3, 2, "Tỉnh, thành phố:").font = Font(bold=True)
    province_cell = "C3"
    ws[province_cell].protection = Protection(locked=False)
    _validation(ws, lists["provinces"], province_cell, "Chọn tỉnh, thành phố", "Hãy chọn trong danh sách")
    if province_code in admin().provinces:  # the province asked for is filled in, as its drop-down shows it
        ws[province_cell] = _choice(admin().provinces[province_code])
    ws.cell(4, 2, "Ngày cập nhật:").font = Font(bold=True)
    ws["C4"].protection = Protection(locked=False)
    ws["C4"].number_format = "dd/mm/yyyy"
    header_row, first = 6, 7
    thin = Side(style="thin")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    fill = PatternFill("solid", fgColor="DDEBF7")
    cols = [("TT", 6)] + [(c.label, c.width) for c in reg.columns]
    for j, (label, width) in enumerate(cols, start=1):
        cell = ws.cell(header_row, j, label)
        cell.font, cell.border, cell.fill = Font(bold=True), border, fill
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(j)].width = width
    ws.row_dimensions[header_row].height = LINE_POINTS * max(wrapped_lines(label, width) for label, width in cols)
    last = first + rows - 1
    for j, col in enumerate(reg.columns, start=2):
        letter = get_column_letter(j)
        area = f"{letter}{first}:{letter}{last}"
        if col.kind == "choice":
            _validation(ws, '"' + ",".join(col.choices) + '"', area, col.label, "Hãy chọn trong danh sách")
        elif col.kind == "commune":
            formula = lists.get("lower") or 'INDIRECT("DS_"&LEFT($C$3,2))'
            _validation(ws, formula, area, "Xã, phường, đặc khu nơi có cụm (sau khi chọn tỉnh)",
                        "Hãy chọn trong danh sách của tỉnh đã chọn")
        elif col.kind == "number":
            _validation(ws, "0", area, "Diện tích (ha)", "Ghi một con số không âm", kind="decimal",
                        operator="greaterThanOrEqual")
        elif col.kind == "date":
            _validation(ws, "DATE(1990,1,1)", area, "Ngày (dd/mm/yyyy)", "Ghi một ngày", kind="date",
                        operator="greaterThanOrEqual")
    for r in range(first, last + 1):
        ws.cell(r, 1, r - first + 1).border = border
        for j, col in enumerate(reg.columns, start=2):
            cell = ws.cell(r, j)
            cell.protection = Protection(locked=False)
            cell.border = border
            if col.kind == "number":
                cell.number_format = "#,##0.00"
            elif col.kind == "date":
                cell.number_format = "dd/mm/yyyy"
            elif col.kind == "text":
                cell.number_format = "@"  # tax codes keep their leading zeros
    ws.freeze_panes = f"C{first}"
    print_setup(ws, title_rows=f"{header_row}:{header_row}", area=f"A1:{get_column_letter(len(cols))}{last}",
                landscape=True)
    ws.protection.sheet = True
    ws.protection.formatColumns = False
    wb.active = 0
    wb.save(path)
    return {"province": province_cell, "header_row": header_row, "first_row": first}
