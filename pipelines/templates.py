"""Writing forms as workbooks: the official layout of Circular 14 plus the national identification lines.

Used by ``ccn template`` (an empty form to fill in), ``ccn sample`` (filled forms, typed in the ways real
offices type them) and the tests.  Text from any input is written as text, never as a formula.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from schemas.forms import FormSpec, load_forms
from schemas.periods import Period


@dataclass
class Typing:
    """How an office typed a workbook: the variations of SPEC §3 (all off = the national template)."""

    row_offset: int = 0  # blank rows (or a logo line) before the title
    col_offset: int = 0  # blank columns before column (1)
    numbered_row: bool = True  # the "(1) … (5)" row under the header
    sections: bool = True  # section rows I, II, III in Biểu 03/04
    code_style: str = "text"  # text | number | comma  (15.1 as "15.1", 15.1, "15,1")
    label_style: str = "nfc"  # nfc | nfd | old_tone | upper
    number_style: str = "number"  # number | vn_text | en_text
    unit_in_cell: bool = False  # "12,5 ha"
    percent_style: str = "number"  # number (65) | text ("65%")
    identification: bool = True  # the national identification lines
    flag_style: str = "number"  # number | words (có/không)
    extra_header_rows: int = 0


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


@dataclass
class FormContent:
    form: str
    ident: Identification
    values: dict[str, object] = field(default_factory=dict)  # code -> number or text as typed
    generation: str = "commune"


def _label(text: str, style: str) -> str:
    if style == "nfd":
        return unicodedata.normalize("NFD", text)
    if style == "old_tone":
        return text.replace("oà", "òa").replace("oá", "óa").replace("Tỷ", "Tỉ").replace("tỷ", "tỉ")
    if style == "upper":
        return text.upper()
    return text


def _code(code: str, style: str) -> object:
    if style == "number":
        return float(code) if "." in code else int(code)
    if style == "comma":
        return code.replace(".", ",")
    return code


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


def write_form(ws, content: FormContent, typing: Typing | None = None) -> dict[str, str]:
    """Write one form on the worksheet ``ws``; returns the cell (A1) of each row's value."""
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    t = typing or Typing()
    spec: FormSpec = load_forms()[content.form]
    gen = next(g for g in spec.generations if g.name == content.generation)
    r0 = 1 + t.row_offset
    c0 = 1 + t.col_offset
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

    if t.row_offset:
        put(1, c0, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM")
    r = r0
    put(r, c0, f"{spec.label}. {_label(gen.title, t.label_style)}", font=Font(bold=True, size=12))
    ws.merge_cells(start_row=r, start_column=c0, end_row=r, end_column=c0 + 4)
    r += 1
    ident = content.ident
    put(r, c0, f"Đơn vị gửi báo cáo: {ident.sender or gen.sender}")
    r += 1
    if content.form == "01":
        put(r, c0, f"Tên dự án đầu tư sản xuất kinh doanh: {ident.project or '…'}")
        r += 1
        put(r, c0, f"Ngành, nghề, lĩnh vực sản xuất: {ident.sector or '…'}")
        r += 1
    put(r, c0, f"Đơn vị nhận báo cáo: {gen.receiver}")
    r += 1
    put(r, c0, f"Kỳ báo cáo: {ident.period.label_vi if ident.period else '6 tháng/năm'}")
    r += 1
    d = spec.deadline
    put(r, c0, f"(Thời hạn gửi báo cáo: Báo cáo 6 tháng gửi trước ngày {int(d['H1'][3:])} tháng 6 hằng năm; "
               f"Báo cáo năm gửi trước ngày {int(d['Y'][3:])} tháng 12 hằng năm)", font=Font(italic=True))
    r += 1
    for _ in range(t.extra_header_rows):
        r += 1
    if t.identification:
        lines = [("Tỉnh, thành phố:", ident.province)]
        if spec.sender_level in ("commune", "cluster", "project"):
            lines.append(("Xã, phường, đặc khu:", ident.commune))
        if spec.sender_level in ("cluster", "project"):
            lines.append(("Cụm công nghiệp:", ident.cluster))
            lines.append(("Mã số thuế:", ident.tax_code))
        lines.append(("Năm báo cáo:", ident.period.year if ident.period else ""))
        for label, value in lines:
            put(r, c0 + 1, label, font=bold)
            put(r, c0 + 2, value)
            r += 1
    r += 1
    header = ["TT", "Chỉ tiêu", "Đơn vị tính",
              "Kết quả (Luỹ kế đến thời điểm báo cáo)" if content.form in ("03", "04") else "Kết quả", "Ghi chú"]
    fill = PatternFill("solid", fgColor="DDEBF7")
    for i, h in enumerate(header):
        put(r, c0 + i, h, font=bold, border=border, fill=fill, alignment=Alignment(horizontal="center", wrap_text=True))
    r += 1
    if t.numbered_row:
        for i in range(5):
            put(r, c0 + i, f"({i + 1})", border=border, alignment=Alignment(horizontal="center"))
        r += 1
    cells: dict[str, str] = {}
    section = None
    for row in spec.rows:
        if t.sections and row.section and row.section != section:
            section = row.section
            numeral, _, title = section.partition(". ")
            put(r, c0, numeral, font=bold, border=border)
            put(r, c0 + 1, _label(title, t.label_style), font=bold, border=border)
            ws.merge_cells(start_row=r, start_column=c0 + 1, end_row=r, end_column=c0 + 4)
            r += 1
        put(r, c0, _code(row.code, t.code_style), border=border)
        put(r, c0 + 1, _label(row.label_vi, t.label_style), border=border, alignment=Alignment(wrap_text=True))
        put(r, c0 + 2, row.unit_vi, border=border)
        value = content.values.get(row.code)
        value_cell = put(r, c0 + 3, _typed(value, row, t), border=border)
        if isinstance(value_cell.value, float):
            value_cell.number_format = "#,##0.00"
        put(r, c0 + 4, None, border=border)
        cells[row.code] = f"{get_column_letter(c0 + 3)}{r}"
        r += 1
    r += 1
    put(r, c0 + 3, "…, ngày … tháng … năm …", alignment=Alignment(horizontal="center"))
    put(r + 1, c0 + 3, "NGƯỜI ĐẠI DIỆN THEO PHÁP LUẬT" if content.form in ("01", "02") else "THỦ TRƯỞNG ĐƠN VỊ", font=bold)
    widths = [6, 70, 18, 20, 14]
    for i, w in enumerate(widths):
        ws.column_dimensions[get_column_letter(c0 + i)].width = w
    return cells


def _is_number_text(value: str) -> bool:
    return value[:1] == "-" and value[1:2].isdigit()


def _typed(value: object, row, t: Typing) -> object:
    if value is None or isinstance(value, str):
        return value
    v = float(value)
    if row.unit == "flag":
        return ("có" if v else "không") if t.flag_style == "words" else int(v)
    if row.unit == "percent" and t.percent_style == "text":
        return format_number(v, "vn_text") + "%"
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
