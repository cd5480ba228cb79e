"""A corpus of hostile and broken input files, generated (never stored): each :class:`Case` says what the file
is, whether the pipeline must refuse it or read it safely, and the reason or rule a steward must see.

Used by tests/test_hostile.py (one ``ccn run`` over the corpus plus a clean sample) and bench/hostile.py
(time and peak memory per file).  Workbooks that must be read are variants of accepted Biểu 01 files of a
generated 2025-Y sample (``base``), so their values can be compared with that sample's truth.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

# refused before parsing | loaded | parsed and rejected | loaded with a warning at a cell whose value is not taken
REFUSED, READ, REJECTED, FLAGGED = "refused", "read", "rejected", "flagged"


@dataclass
class Case:
    path: str  # inside the inbox
    what: str
    outcome: str  # REFUSED | READ | REJECTED | FLAGGED
    rule: str  # the rule id the steward sees (the file's finding, or the warning of a READ case)
    reason: str = ""  # text the finding's message must contain
    base: str | None = None  # truth file of the sample this file was derived from (its values must load)
    cell: str | None = None  # the cell the finding must name


# ------------------------------------------------------------------------------------------------------------
# building blocks

CT = (b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
      b'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships'
      b'+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
      b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override '
      b'PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
      b'spreadsheetml.worksheet+xml"/></Types>')
RELS = (b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
        b'2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
WB = (b'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
      b'2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet '
      b'name="Bieu04" sheetId="1" r:id="rId1"/></sheets></workbook>')
WB_RELS = (b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
           b'2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
           b'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
SHEET_HEAD = (b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
              b'spreadsheetml/2006/main"><dimension ref="A1:B2"/><sheetData>')
SHEET_TAIL = b"</sheetData></worksheet>"
LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                     for i in range(1, 10))
          + b"]>")


ODS_MIME = b"application/vnd.oasis.opendocument.spreadsheet"


def ods_content(rows: bytes) -> bytes:
    """content.xml of an OpenDocument spreadsheet with one table holding ``rows``."""
    return (b'<?xml version="1.0" encoding="UTF-8"?><office:document-content '
            b'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
            b'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
            b'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:spreadsheet>'
            b'<table:table table:name="B04">' + rows + b'</table:table></office:spreadsheet></office:body>'
            b'</office:document-content>')


def _deflate(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def raw_zip(entries: list[tuple[str, bytes, int, int, int]], flags: int = 0) -> bytes:
    """A zip written byte by byte: (name, stored data, method, crc, declared size) — sizes and CRCs may lie."""
    out, central = io.BytesIO(), io.BytesIO()
    for name, data, method, crc, size in entries:
        offset = out.tell()
        n = name.encode()
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, flags, method, 0, 0x21, crc, len(data), size, len(n), 0))
        out.write(n + data)
        central.write(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, flags, method, 0, 0x21, crc, len(data), size,
                                  len(n), 0, 0, 0, 0, 0, offset) + n)
    cd = central.getvalue()
    start = out.tell()
    out.write(cd)
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(cd), start, 0))
    return out.getvalue()


def honest(name: str, data: bytes) -> tuple[str, bytes, int, int, int]:
    return name, _deflate(data), 8, zlib.crc32(data), len(data)


def xlsx(sheet: bytes, parts: dict[str, bytes] | None = None) -> bytes:
    """A minimal workbook of one sheet (``sheet`` is the sheet's XML), honest sizes, plus extra parts."""
    entries = [honest("[Content_Types].xml", CT), honest("_rels/.rels", RELS), honest("xl/workbook.xml", WB),
               honest("xl/_rels/workbook.xml.rels", WB_RELS), honest("xl/worksheets/sheet1.xml", sheet)]
    entries += [honest(k, v) for k, v in (parts or {}).items()]
    return raw_zip(entries)


def sheet_of(rows: bytes) -> bytes:
    return SHEET_HEAD + rows + SHEET_TAIL


def repeated_deflate(block: bytes, times: int) -> bytes:
    """A deflate stream of ``block`` × ``times`` in ~len(compressed block) × times bytes, built in milliseconds."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)  # self-contained: the next piece needs no history
    return piece * times + zlib.compressobj(9, zlib.DEFLATED, -15).flush()


def repeated_crc(block: bytes, times: int) -> int:
    crc = 0
    for _ in range(times):
        crc = zlib.crc32(block, crc)
    return crc


def cfb(streams: dict[str, bytes], storages: tuple[str, ...] = ()) -> bytes:
    """A minimal OLE compound file (MS-CFB v3, 512-byte sectors) holding ``streams`` (each padded to ≥ 4096
    bytes so none lives in the mini stream) and empty ``storages``."""
    ssize = 512
    names = list(streams) + list(storages)
    data_sectors: list[bytes] = []
    starts = {}
    for name, raw in streams.items():
        body = raw.ljust(4096, b"\0")
        starts[name] = 2 + len(data_sectors)
        data_sectors += [body[i:i + ssize].ljust(ssize, b"\0") for i in range(0, len(body), ssize)]
    n_dir_sectors = (len(names) + 1 + 3) // 4
    first_data = 1 + n_dir_sectors
    starts = {k: v - 2 + first_data for k, v in starts.items()}
    total = first_data + len(data_sectors)
    fat = [0xFFFFFFFF] * (ssize // 4)
    fat[0] = 0xFFFFFFFD
    for i in range(1, first_data):
        fat[i] = i + 1 if i + 1 < first_data else 0xFFFFFFFE
    for name, body in streams.items():
        n = (max(len(body), 4096) + ssize - 1) // ssize
        for k in range(n):
            s = starts[name] + k
            fat[s] = s + 1 if k + 1 < n else 0xFFFFFFFE
    assert total <= ssize // 4

    def entry(name: str, kind: int, start: int, size: int, right: int = 0xFFFFFFFF, child: int = 0xFFFFFFFF):
        raw = name.encode("utf-16-le") + b"\0\0"
        return (raw.ljust(64, b"\0") + struct.pack("<HBB3L", len(raw), kind, 1, 0xFFFFFFFF, right, child)
                + b"\0" * 36 + struct.pack("<LLL", start, size, 0))

    entries = [entry("Root Entry", 5, 0xFFFFFFFE, 0, child=1)]
    for i, name in enumerate(names, start=1):
        right = i + 1 if i < len(names) else 0xFFFFFFFF
        if name in streams:
            entries.append(entry(name, 2, starts[name], max(len(streams[name]), 4096), right=right))
        else:
            entries.append(entry(name, 1, 0xFFFFFFFE, 0, right=right))
    directory = b"".join(entries).ljust(n_dir_sectors * ssize, b"\0")
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 16
              + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\0" * 6
              + struct.pack("<LLLLLLLLL", 0, 1, 1, 0, 4096, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
              + struct.pack("<109L", 0, *([0xFFFFFFFF] * 108)))
    return header + struct.pack(f"<{len(fat)}L", *fat) + directory + b"".join(data_sectors)


def _rezip(src: Path, dest: Path, replace: dict[str, bytes] | None = None, add: dict[str, bytes] | None = None) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, (replace or {}).get(info.filename, zin.read(info.filename)))
        for name, data in (add or {}).items():
            zout.writestr(name, data)


def _value_cell(path: Path, code: str = "1") -> str:
    from pipelines.read.workbook import read_workbook

    return read_workbook(path).reports[0].values[code].cell


# ------------------------------------------------------------------------------------------------------------
def build(inbox: Path, base_dir: Path) -> list[Case]:
    """Write the corpus under ``inbox/hostile`` from the 2025-Y sample in ``base_dir``; returns the cases."""
    truth = json.loads((base_dir / "truth.json").read_text(encoding="utf-8"))
    bases = iter(sorted(f["file"] for f in truth["files"] if f["expected_status"] == "accepted"
                        and f["reports"] and f["reports"][0]["form"] == "01"))
    root = inbox / "hostile"
    root.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []

    def put(name: str, data: bytes, what: str, outcome: str, rule: str, reason: str = "") -> None:
        (root / name).write_bytes(data)
        cases.append(Case(f"hostile/{name}", what, outcome, rule, reason))

    def variant(name: str, what: str, outcome: str, rule: str, make, reason: str = "", folder: str | None = None,
                cell_code: str | None = None) -> None:
        base = next(bases)
        src = base_dir / base
        rel_dir = Path("hostile-2025") / (folder or Path(base).parent)
        (inbox / rel_dir).mkdir(parents=True, exist_ok=True)
        dest = inbox / rel_dir / name
        make(src, dest)
        st = src.stat()
        os.utime(dest, ns=(st.st_atime_ns, st.st_mtime_ns))  # received when the original was
        cell = _value_cell(src, cell_code) if cell_code else None
        cases.append(Case((rel_dir / name).as_posix(), what, outcome, rule, reason, base=base, cell=cell))

    unreadable = "file.unreadable"
    good_sheet = sheet_of(b'<row r="1"><c r="A1" t="inlineStr"><is><t>x</t></is></c></row>')
    normal = xlsx(good_sheet)

    # -- not a workbook at all
    put("rong.xlsx", b"", "zero-byte file", REFUSED, unreadable, "empty")
    put("cat_ngang.xlsx", normal[: len(normal) // 2], "truncated zip (half the bytes)", REFUSED, unreadable,
        "damaged or truncated")
    put("bang_csv.xlsx", "TT,Chỉ tiêu,Kết quả\n1,Tổng số cụm,12\n".encode(), "CSV renamed .xlsx", REFUSED,
        unreadable, "text file (CSV")
    put("trang_web.xls", b"<html><body><table><tr><td>Bi\xe1\xbb\x83u 04</td></tr></table></body></html>",
        "HTML renamed .xls (what web systems export)", REFUSED, unreadable, "web page (HTML)")
    put("bang_html.xlsx", b"\xef\xbb\xbf<table><tr><td>1</td></tr></table>", "HTML table renamed .xlsx", REFUSED,
        unreadable, "web page (HTML)")
    put("xml2003.xls", b'<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"/>',
        "Excel 2003 XML spreadsheet renamed .xls", REFUSED, unreadable, "XML Spreadsheet 2003")
    put("van_ban.xlsx", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n", "PDF renamed .xlsx", REFUSED, unreadable,
        "PDF")
    put("word.xlsx", raw_zip([honest("[Content_Types].xml", CT), honest("word/document.xml", b"<w:document/>")]),
        "Word .docx renamed .xlsx", REFUSED, unreadable, "Word document")
    put("calc.xlsx", raw_zip([honest("mimetype", ODS_MIME), honest("content.xml", b"<office:document-content/>")]),
        "OpenDocument spreadsheet renamed .xlsx whose content.xml is not well-formed", REFUSED, unreadable,
        "not well-formed")
    put("van_ban.ods", raw_zip([honest("mimetype", b"application/vnd.oasis.opendocument.text"),
                                honest("content.xml", b"<office:document-content/>")]),
        "OpenDocument text (.odt) renamed .ods", REFUSED, unreadable, "not a spreadsheet")
    put("laughs.ods", raw_zip([honest("mimetype", ODS_MIME), honest("content.xml", LAUGHS + ods_content(
        b'<table:table-row><table:table-cell office:value-type="string"><text:p>&lol9;</text:p></table:table-cell>'
        b'</table:table-row>'))]),
        "XML entity expansion in an OpenDocument spreadsheet's content.xml", REFUSED, unreadable, "entit")
    put("trieu_dong_lap.ods", raw_zip([honest("mimetype", ODS_MIME), honest("content.xml", ods_content(
        b'<table:table-row table:number-rows-repeated="2000000"><table:table-cell office:value-type="float" '
        b'office:value="1"/></table:table-row>'))]),
        "OpenDocument row with a value repeated 2,000,000 times (a few bytes that calamine would build in full)",
        REFUSED, unreadable, "CCN_MAX_ROWS")
    put("cot_lap.ods", raw_zip([honest("mimetype", ODS_MIME), honest("content.xml", ods_content(
        b'<table:table-row><table:table-cell table:number-columns-repeated="5" /><table:table-cell '
        b'office:value-type="float" office:value="1" table:number-columns-repeated="20000"/></table:table-row>'))]),
        "OpenDocument cell with a value repeated over 20,000 columns", REFUSED, unreadable, "CCN_MAX_COLUMNS")
    put("nen.xlsx", raw_zip([honest("bao_cao.txt", b"xin gui bao cao")]), "ordinary zip renamed .xlsx", REFUSED,
        unreadable, "zip archive")
    put("bao_cao.xlsx.exe", normal, "a workbook named .exe", REFUSED, "file.type", ".exe")

    # -- passwords and OLE containers
    put("mat_khau.xlsx", cfb({"EncryptionInfo": b"\x04\x00\x04\x00\x40\x00\x00\x00", "EncryptedPackage": b"\x01" * 64},
                             storages=("\x06DataSpaces",)),
        "password-protected workbook (OLE file with EncryptionInfo/EncryptedPackage, as Excel writes it)",
        REFUSED, unreadable, "password-protected")
    put("word97.xls", cfb({"WordDocument": b"\xec\xa5" + b"\0" * 100}), "Word 97 .doc renamed .xls", REFUSED,
        unreadable, "Word document")
    put("mat_khau_97.xls", _xls_with_filepass(), "Excel 97 workbook with a password (FILEPASS record)", REFUSED,
        unreadable, "password-protected")
    put("xls_65536_dong.xls", _xls_cell(65535, 255), "5 KB .xls with a cell at row 65,536, column 256 (1 GB in "
        "calamine)", REFUSED, unreadable, "CCN_MAX_ROWS")

    # -- XML attacks
    put("billion_laughs_sst.xlsx",
        xlsx(good_sheet, {"xl/sharedStrings.xml": LAUGHS + b"<sst><si><t>&lol9;</t></si></sst>"}),
        "XML entity expansion (billion laughs) in sharedStrings.xml", REFUSED, unreadable, "entity")
    put("billion_laughs_sheet.xlsx", xlsx(LAUGHS + b'<worksheet><sheetData><row r="1"><c r="A1" t="inlineStr"><is>'
                                          b'<t>&lol9;</t></is></c></row></sheetData></worksheet>'),
        "XML entity expansion in a worksheet", REFUSED, unreadable, "entity")
    put("xxe.xlsx", raw_zip([honest("[Content_Types].xml", CT), honest("_rels/.rels", RELS),
                             honest("xl/workbook.xml", b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY x SYSTEM '
                                    b'"file:///etc/passwd">]><workbook>&x;</workbook>'),
                             honest("xl/_rels/workbook.xml.rels", WB_RELS),
                             honest("xl/worksheets/sheet1.xml", good_sheet)]),
        "external entity (XXE) reading /etc/passwd from workbook.xml", REFUSED, unreadable, "entit")
    put("utf16.xlsx", xlsx(sheet_of(b"").decode().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")),
        "worksheet XML in UTF-16 (hides markup from byte scans)", REFUSED, unreadable, "not UTF-8")

    # -- zip bombs
    zeros = b"\0" * (1 << 20)
    bomb = repeated_deflate(zeros, 1024)  # 1 GiB of zeros in about 1 MB
    put("bom_khai_4gb.xlsx", raw_zip([honest("[Content_Types].xml", CT), honest("_rels/.rels", RELS),
                                      honest("xl/workbook.xml", WB), honest("xl/_rels/workbook.xml.rels", WB_RELS),
                                      ("xl/worksheets/sheet1.xml", _deflate(good_sheet), 8, 0, 0xFFFFFFF0)]),
        "zip bomb by declaration: a 1 KB file declaring a 4 GB sheet", REFUSED, unreadable, "CCN_MAX_UNCOMPRESSED_MB")
    put("bom_that_1gb.xlsx", raw_zip([honest("[Content_Types].xml", CT), honest("_rels/.rels", RELS),
                                      honest("xl/workbook.xml", WB), honest("xl/_rels/workbook.xml.rels", WB_RELS),
                                      ("xl/sharedStrings.xml", bomb, 8, 0, 2048)]),
        "zip bomb that lies: declares 2 KB, really expands to 1 GiB", REFUSED, unreadable, "beyond its declared")
    honest_bomb = repeated_deflate(zeros, 120)
    put("bom_120mb.xlsx", raw_zip([honest("[Content_Types].xml", CT), honest("_rels/.rels", RELS),
                                   honest("xl/workbook.xml", WB), honest("xl/_rels/workbook.xml.rels", WB_RELS),
                                   honest("xl/worksheets/sheet1.xml", good_sheet),
                                   ("xl/media/image1.png", honest_bomb, 8, repeated_crc(zeros, 120), 120 << 20)]),
        "honest zip bomb: 120 KB expanding to 120 MB", REFUSED, unreadable, "CCN_MAX_UNCOMPRESSED_MB")
    put("crc_sai.xlsx", raw_zip([honest("[Content_Types].xml", CT), honest("_rels/.rels", RELS),
                                 honest("xl/workbook.xml", WB), honest("xl/_rels/workbook.xml.rels", WB_RELS),
                                 ("xl/worksheets/sheet1.xml", _deflate(good_sheet), 8, 12345, len(good_sheet))]),
        "part whose checksum does not match its bytes", REFUSED, unreadable, "checksum")
    put("phan_trung.xlsx", raw_zip([honest("[Content_Types].xml", CT), honest("_rels/.rels", RELS),
                                    honest("xl/workbook.xml", WB), honest("xl/_rels/workbook.xml.rels", WB_RELS),
                                    honest("xl/worksheets/sheet1.xml", good_sheet),
                                    honest("xl/worksheets/sheet1.xml", sheet_of(b""))]),
        "two parts with the same name (parsers disagree which one counts)", REFUSED, unreadable, "same name")
    put("zip_ma_hoa.xlsx", raw_zip([honest("[Content_Types].xml", CT), honest("_rels/.rels", RELS),
                                    honest("xl/workbook.xml", WB), honest("xl/_rels/workbook.xml.rels", WB_RELS),
                                    honest("xl/worksheets/sheet1.xml", good_sheet)], flags=1),
        "zip entries flagged as encrypted", REFUSED, unreadable, "encrypted")
    bz = [honest("[Content_Types].xml", CT), honest("_rels/.rels", RELS), honest("xl/workbook.xml", WB),
          honest("xl/_rels/workbook.xml.rels", WB_RELS)]
    bz.append(("xl/worksheets/sheet1.xml", good_sheet, 12, zlib.crc32(good_sheet), len(good_sheet)))
    put("bzip2.xlsx", raw_zip(bz), "part compressed with bzip2 (method 12)", REFUSED, unreadable, "compression method")

    # -- huge sheets
    put("trieu_dong.xlsx", xlsx(sheet_of(b"<row><c><v>1</v></c></row>" * 1_048_576)),
        "a sheet with 1,048,576 rows", REFUSED, unreadable, "CCN_MAX_ROWS")
    put("16384_cot.xlsx", xlsx(sheet_of(b'<row r="1">' + b"<c><v>1</v></c>" * 16_384 + b"</row>")),
        "a sheet 16,384 columns wide", REFUSED, unreadable, "CCN_MAX_COLUMNS")
    put("goc_xa.xlsx", xlsx(sheet_of(b'<row r="1"><c r="A1"><v>1</v></c></row><row r="1048576"><c r="XFD1048576">'
                                     b'<v>1</v></c></row>')),
        "two cells, A1 and XFD1048576 (calamine allocates the rectangle and aborts the process)", REFUSED,
        unreadable, "CCN_MAX_ROWS")
    put("o_vuong.xlsx", xlsx(sheet_of(b"".join(b'<row r="%d">' % r + b"<c><v>1</v></c>" * 200 + b"</row>"
                                               for r in range(1, 3001)))),
        "3,000 rows × 200 columns = 600,000 cells", REFUSED, unreadable, "CCN_MAX_CELLS")

    # -- read safely: macros, links, formulas (values are the ones Excel saved; nothing is run or followed)
    variant("co_macro.xlsm", ".xlsm with a VBA project (vbaProject.bin with an AutoOpen macro)", READ,
            "file.macros_ignored",
            lambda s, d: _rezip(s, d, add={"xl/vbaProject.bin":
                                           cfb({"VBA": b"Sub AutoOpen()\nShell \"calc\"\nEnd Sub"})}))
    variant("lien_ket_ngoai.xlsx", "external link to another workbook (externalLink1.xml)", READ,
            "file.external_links_ignored",
            lambda s, d: _rezip(s, d, add={"xl/externalLinks/externalLink1.xml": (
                b'<?xml version="1.0" encoding="UTF-8"?><externalLink xmlns="http://schemas.openxmlformats.org/'
                b'spreadsheetml/2006/main"><externalBook r:id="rId1" xmlns:r="http://schemas.openxmlformats.org/'
                b'officeDocument/2006/relationships"/></externalLink>')}))
    variant("dde_link.xlsx", "DDE link to cmd.exe (ddeLink ddeService=cmd ddeTopic='/c calc')", READ,
            "file.external_links_ignored",
            lambda s, d: _rezip(s, d, add={"xl/externalLinks/externalLink1.xml": (
                b'<?xml version="1.0" encoding="UTF-8"?><externalLink xmlns="http://schemas.openxmlformats.org/'
                b'spreadsheetml/2006/main"><ddeLink ddeService="cmd" ddeTopic="/c calc"/></externalLink>')}))
    variant("cong_thuc_luu.xlsx", "value cells are formulas (=SUM, =WEBSERVICE) with the values Excel saved", READ, "",
            _with_cached_formulas)
    variant("dde_chu.xlsx", "DDE formula typed as text in a value cell: =cmd|'/c calc'!A1", REJECTED,
            "value.not_a_number", lambda s, d: _set_cell_text(s, d, "=cmd|'/c calc'!A1"), reason="cmd|", cell_code="1")
    variant("cong_thuc_khong_luu.xlsx", "formula without a saved value (written by a program, never opened in Excel)",
            REJECTED, "value.formula_not_computed", _with_uncached_formula, cell_code="1")
    variant("sql_injection.xlsx", "SQL injection and control characters in the project name and sender", READ, "",
            _sql_and_control)
    variant("zip_slip.xlsx", "zip entry named ../../../../tmp/ccn_zip_slip.txt (never extracted)", READ, "",
            lambda s, d: _rezip(s, d, add={"../../../../tmp/ccn_zip_slip.txt": b"owned"}))
    variant("xls_doi_ten.xlsx", "a real Excel 97 .xls saved with the .xlsx extension", READ, "", _as_xls)

    # -- identity: the folder says one province, the workbook another
    variant("tinh_khac.xlsx", "a workbook for Tây Ninh delivered in Ninh Bình's folder", REJECTED,
            "identity.province_folder_conflict", shutil.copy2, folder="37_tinh-ninh-binh/bieu01", reason="Ninh Bình")

    # -- hostile file names (the bytes are valid reports)
    for name in ["x\\..\\..\\..\\etc\\passwd.xlsx", "bao cao....xlsx", "bao cao\nxa.xlsx", "bao_cao\u202excod.xlsx",
                 "x'); DROP TABLE submission;--.xlsx", "-=cmd|'calc'!A1.xlsx"]:
        variant(name, f"file name {name!r} (separators, dots, newline, right-to-left override, SQL, formula)", READ,
                "", shutil.copy2)
    return cases


# ------------------------------------------------------------------------------------------------------------
# variants of a valid workbook

def _load(src: Path):
    from openpyxl import load_workbook

    return load_workbook(src)


def _set_cell_text(src: Path, dest: Path, text: str, code: str = "1") -> None:
    wb = _load(src)
    ws = wb.worksheets[0]
    cell = ws[_value_cell(src, code)]
    cell.value = text
    cell.data_type = "s"
    wb.save(dest)


def _with_uncached_formula(src: Path, dest: Path) -> None:
    wb = _load(src)
    ws = wb.worksheets[0]
    ws[_value_cell(src, "1")] = "=2*3"
    wb.save(dest)


def _with_cached_formulas(src: Path, dest: Path) -> None:
    """Every numeric value cell becomes ``<f>…</f><v>same value</v>``, as Excel saves a formula."""
    with zipfile.ZipFile(src) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    from pipelines.read.workbook import read_workbook

    cells = {v.cell for v in read_workbook(src).reports[0].values.values()}

    def repl(m: re.Match) -> str:
        ref, attrs, value = m.group(1), m.group(2), m.group(3)
        if ref not in cells:
            return m.group(0)
        formula = f'SUM({value})' if ref.endswith(("1", "3", "5", "7", "9")) else f'WEBSERVICE("http://x")+{value}'
        return f'<c r="{ref}"{attrs}><f>{formula.replace(chr(34), "&quot;")}</f><v>{value}</v></c>'

    sheet = re.sub(r'<c r="([A-Z]+\d+)"((?:\s+s="\d+")?(?:\s+t="n")?)><v>([^<]+)</v></c>', repl, sheet)
    _rezip(src, dest, replace={"xl/worksheets/sheet1.xml": sheet.encode()})


def _sql_and_control(src: Path, dest: Path) -> None:
    wb = _load(src)
    ws = wb.worksheets[0]
    for row in ws.iter_rows():
        for cell in row:
            if isinstance(cell.value, str) and cell.value.startswith("Tên dự án"):
                cell.value = "Tên dự án đầu tư sản xuất kinh doanh: Robert'); DROP TABLE submission;-- CTRLMARK"
            elif isinstance(cell.value, str) and cell.value.startswith("Đơn vị gửi báo cáo"):
                cell.value = "Đơn vị gửi báo cáo: ' OR '1'='1 CTRLMARK"
    buf = io.BytesIO()
    wb.save(buf)
    # control characters, as OOXML escapes them (_x0007_ bell, _x001B_ escape) — openpyxl refuses to write them
    with zipfile.ZipFile(buf) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    patched = {n: d.replace(b"CTRLMARK", b"_x0007__x001B_[31m_x0008_") for n, d in parts.items() if b"CTRLMARK" in d}
    assert patched
    tmp = dest.with_suffix(".tmp")
    tmp.write_bytes(buf.getvalue())
    _rezip(tmp, dest, replace=patched)
    tmp.unlink()


def _as_xls(src: Path, dest: Path) -> None:
    import xlwt
    from openpyxl import load_workbook

    ws_in = load_workbook(src).worksheets[0]
    book = xlwt.Workbook(encoding="utf-8")
    ws = book.add_sheet(ws_in.title[:31])
    for row in ws_in.iter_rows():
        for cell in row:
            if cell.value is not None:
                ws.write(cell.row - 1, cell.column - 1, cell.value)
    book.save(str(dest))


def _xls_cell(row: int, col: int) -> bytes:
    import xlwt

    book = xlwt.Workbook()
    ws = book.add_sheet("S")
    ws.write(0, 0, "Biểu 04")
    ws.write(row, col, 1)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def _xls_with_filepass() -> bytes:
    """An Excel 97 workbook whose globals carry a FILEPASS record, as a password-protected one does."""
    data = bytearray(_xls_cell(3, 3))
    at = data.find(b"\x42\x00\x02\x00")  # the CODEPAGE record (type 0x0042, 2 bytes) of the globals
    assert at > 0
    data[at:at + 2] = struct.pack("<H", 0x002F)
    return bytes(data)
