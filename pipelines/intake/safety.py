"""Inspecting a received file before any parser touches it: what it really is, and what reading it would cost.

calamine (the Rust reader behind :mod:`pipelines.read.workbook`) trusts its input: a sheet with one cell in A1 and
one in XFD1048576 makes it allocate the whole rectangle and abort the process, a 5 KB ``.xls`` with a cell at
row 65,536 costs a gigabyte, and a zip entry may expand far beyond the size it declares.  :func:`inspect`
looks at the bytes first, with bounded work and memory, and raises :class:`Refused` with a reason a steward
can act on when the file is not a workbook or is over a limit of :class:`~pipelines.settings.Limits`:

* the real type from the first bytes, whatever the extension (CSV, HTML, Word, OpenDocument, encrypted OOXML);
* for a zip (``.xlsx``/``.xlsm``): entry count, declared total size, and for every entry a streamed
  decompression that must stop exactly at the declared size with the declared CRC (so neither the declared nor
  the real size can lie); XML parts must be UTF-8 without a DTD (no entity expansion); each worksheet is
  scanned with a streaming, DTD-free parser (defusedxml) that stops as soon as a row, column or cell count
  passes its limit;
* for an OLE compound file (``.xls``): the directory (encrypted package, macros), then the BIFF cell records of
  every sheet for the same row, column and cell limits, and the FILEPASS record (password).

What is safe but worth a steward's eye (macros, links to other files or programs) is returned as notes.
"""

from __future__ import annotations

import posixpath
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from pipelines.intake.sheet_marks import (
    BiffMarks,
    OdsDataStyles,
    OdsScan,
    SheetMarks,
    XlsxMarksScan,
    xlsx_marks_small,
    xlsx_style_kinds,
)
from pipelines.settings import Limits

CHUNK = 1 << 20
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
NOTE_MACROS = "macros"
NOTE_LINKS = "external_links"
ELEMENTS_PER_CELL = 4  # XML elements allowed over all worksheets of a workbook, per CCN_MAX_CELLS …
ELEMENTS_EXTRA = 10_000  # … plus these (what bounds the time a workbook can cost the inspection)


def element_budget(limits: Limits) -> int:
    return ELEMENTS_PER_CELL * limits.max_cells + ELEMENTS_EXTRA


class Refused(Exception):
    """The file is not read, for the reason ``vi`` (a Vietnamese sentence) and ``en`` (the same in English), which
    findings carry.  Each half is wholly in its language (issue 11, part 6): the numbers, limits, setting names
    (``CCN_MAX_ROWS``) and part or sheet names appear in both.  A library's own error text is no reason a reporting
    office can act on (issue 13): it is kept in ``detail`` only, which ``str(exc)`` adds to the English one for
    logs."""

    def __init__(self, vi: str, en: str, detail: str = "") -> None:
        super().__init__(vi, en)
        self.vi, self.en, self.detail = vi, en, detail

    def __str__(self) -> str:
        return f"{self.en} ({self.detail})" if self.detail else self.en


def _n(number: int) -> str:
    """A count as Vietnamese writes it (1.048.576)."""
    return f"{number:,}".replace(",", ".")


def _too_many_rows(sheet: str, row: int, limit: int) -> Refused:
    return Refused(f"trang tính {sheet!r} có dòng số {_n(row)}, vượt giới hạn {_n(limit)} dòng (CCN_MAX_ROWS); "
                   f"trang tính quá dài",
                   f"sheet {sheet!r} has a row numbered {row:,}, over the limit of {limit:,} rows (CCN_MAX_ROWS)")


def _too_many_columns(sheet: str, col: int, limit: int) -> Refused:
    return Refused(f"trang tính {sheet!r} có ô ở cột thứ {_n(col)}, vượt giới hạn {_n(limit)} cột "
                   f"(CCN_MAX_COLUMNS); trang tính quá rộng",
                   f"sheet {sheet!r} has a cell in column {col:,}, over the limit of {limit:,} columns "
                   f"(CCN_MAX_COLUMNS)")


def _too_many_cells(sheet: str, limit: int) -> Refused:
    return Refused(f"trang tính {sheet!r} chiếm hơn {_n(limit)} ô, vượt giới hạn số ô (CCN_MAX_CELLS); "
                   f"trang tính quá lớn",
                   f"sheet {sheet!r} spans more than {limit:,} cells (CCN_MAX_CELLS)")


def _too_many_elements(limits: Limits) -> Refused:
    budget = element_budget(limits)
    return Refused(f"các trang tính của bảng tính chứa hơn {_n(budget)} phần tử XML ({ELEMENTS_PER_CELL} × "
                   f"CCN_MAX_CELLS + {_n(ELEMENTS_EXTRA)}); bảng tính quá lớn",
                   f"the workbook's sheets hold more than {budget:,} XML elements ({ELEMENTS_PER_CELL} × "
                   f"CCN_MAX_CELLS + {ELEMENTS_EXTRA:,}); the workbook is too large")


def _damaged_workbook(exc: Exception) -> Refused:
    return Refused("bảng tính bị hỏng hoặc không đầy đủ (có thể tệp bị cắt mất một phần khi sao chép hoặc gửi đi)",
                   "the workbook is damaged or truncated (the file may have been cut short when it was copied or sent)",
                   detail=str(exc))


def _damaged_part(name: str, exc: Exception) -> Refused:
    return Refused(f"thành phần {name} của bảng tính bị hỏng", f"the part {name} is damaged", detail=str(exc))


def _truncated_part(name: str) -> Refused:
    return Refused(f"thành phần {name} của bảng tính không đầy đủ (bị cắt mất một phần)",
                   f"the part {name} is truncated")


def _oversized_part(name: str, size: int) -> Refused:
    return Refused(f"thành phần {name} có dung lượng {_n(size)} byte, trong khi Excel chỉ ghi vài nghìn byte "
                   f"(bảng tính bị làm giả)",
                   f"the part {name} is {size:,} bytes; Excel writes a few thousand (a forged workbook)")


def _entities(where_vi: str, where_en: str, note: str = "", detail: str = "") -> Refused:
    return Refused(f"{where_vi} có khai báo thực thể XML hoặc DTD, là điều Excel không bao giờ ghi; tệp bị từ chối vì "
                   f"nghi là tấn công bằng thực thể XML",
                   f"{where_en} declares XML entities or a DTD, which Excel never writes (refused as an XML entity "
                   f"attack{note})", detail=detail)


PASSWORD_VI = "bảng tính có mật khẩu (đã được mã hóa); hãy gỡ mật khẩu trong Excel rồi gửi lại"  # noqa: S105 - a message


@dataclass
class Inspection:
    kind: str  # "xlsx" | "xls" | "ods"
    notes: list[str] = field(default_factory=list)  # NOTE_MACROS, NOTE_LINKS
    sheets: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # name/part -> (rows, columns, cells)
    marks: dict[str, SheetMarks] = field(default_factory=dict)  # sheet name -> errors, hidden cells, formats shown


_last: tuple[tuple, Inspection | Refused] | None = None  # ingest and the reader inspect the same file in turn


def inspect(path: Path, limits: Limits | None = None) -> Inspection:
    """What the file at ``path`` really is, or :class:`Refused` with the reason it must not be parsed.

    The verdict on the file last inspected is remembered (keyed by path, size, modification time and limits),
    so the reader, which inspects again before it parses, does not repeat the work for the same bytes.
    """
    global _last  # noqa: PLW0603 - the one verdict remembered between ingest and the reader
    limits = limits or Limits()
    try:
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime_ns, limits)
    except OSError:
        key = None
    if key is not None and _last is not None and _last[0] == key:
        if isinstance(_last[1], Refused):
            raise _last[1]
        return _last[1]
    try:
        result: Inspection | Refused = _inspect(path, limits)
    except Refused as exc:
        result = exc
    if key is not None:
        _last = (key, result)
    if isinstance(result, Refused):
        raise result
    return result


def _inspect(path: Path, limits: Limits) -> Inspection:
    try:
        size = path.stat().st_size
        if size == 0:
            raise Refused("tệp rỗng, dung lượng 0 byte", "the file is empty, 0 bytes")
        if size > limits.max_file_bytes:
            raise Refused(f"tệp có dung lượng {_n(size)} byte, vượt giới hạn {_n(limits.max_file_bytes)} byte "
                          f"(CCN_MAX_FILE_MB); tệp quá lớn",
                          f"the file is {size:,} bytes, over the limit of {limits.max_file_bytes:,} "
                          f"(CCN_MAX_FILE_MB)")
        with open(path, "rb") as fh:
            head = fh.read(2048)
    except OSError as exc:
        vi, en = (f" (mã lỗi hệ thống {exc.errno})", f" (system error {exc.errno})") if exc.errno else ("", "")
        raise Refused(f"máy chủ không mở được tệp{vi}", f"the server cannot open the file{en}",
                      detail=str(exc)) from exc
    if head.startswith(b"PK\x03\x04"):
        return _inspect_zip(path, limits)
    if head.startswith(OLE_MAGIC):
        return _inspect_ole(path, limits)
    if head.startswith((b"PK\x05\x06", b"PK\x07\x08")):
        raise Refused("tệp là một tệp nén zip rỗng hoặc bị chia thành nhiều phần, không phải bảng tính Excel",
                      "the file is an empty or split zip archive, not an Excel workbook")
    raise _not_a_workbook(head)


SAVE_AS_VI = "hãy mở tệp bằng Excel và lưu lại dưới dạng .xlsx"


def _not_a_workbook(head: bytes) -> Refused:
    low = head.lower().lstrip(b"\xef\xbb\xbf \t\r\n")
    if b"<html" in low or b"<!doctype html" in low or b"<table" in low:
        vi = f"tệp là một trang web (HTML) được đặt đuôi tên của Excel, không phải bảng tính Excel; {SAVE_AS_VI}"
        en = "a web page (HTML) saved with an Excel extension; open it in Excel and save it as .xlsx"
    elif low.startswith(b"<?xml") and b"urn:schemas-microsoft-com:office:spreadsheet" in low:
        vi = f"tệp ở định dạng cũ 'XML Spreadsheet 2003' của Excel; {SAVE_AS_VI}"
        en = "an 'XML Spreadsheet 2003' file; open it in Excel and save it as .xlsx"
    elif low.startswith(b"%pdf"):
        vi = "tệp là tài liệu PDF, không phải bảng tính Excel"
        en = "a PDF document, not an Excel workbook"
    elif b"\x00" not in head:
        vi = (f"tệp là tệp văn bản (CSV hoặc văn bản thuần) được đặt đuôi tên của Excel, không phải bảng tính Excel; "
              f"{SAVE_AS_VI}")
        en = "a text file (CSV or plain text) with an Excel extension; open it in Excel and save it as .xlsx"
    else:
        vi = f"tệp không phải bảng tính Excel (các byte đầu tiên là {head[:8].hex(' ')})"
        en = f"not an Excel workbook (it begins with bytes {head[:8].hex(' ')})"
    return Refused(vi, f"the file is {en}")


# ------------------------------------------------------------------------------------------------------------
# zip containers (.xlsx, .xlsm)

def _inspect_zip(path: Path, limits: Limits) -> Inspection:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise _damaged_workbook(exc) from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_zip_entries:
            raise Refused(f"bảng tính gồm {_n(len(infos))} thành phần, vượt giới hạn {_n(limits.max_zip_entries)} "
                          f"thành phần (CCN_MAX_ZIP_ENTRIES)",
                          f"the workbook has {len(infos):,} parts, over the limit of {limits.max_zip_entries:,} "
                          f"(CCN_MAX_ZIP_ENTRIES)")
        names = [i.filename for i in infos]
        if len(set(names)) != len(names):
            raise Refused("tệp nén của bảng tính chứa hai thành phần trùng tên (cấu trúc tệp bị làm giả)",
                          "the workbook's zip holds two parts of the same name (a forged container)")
        ods = _check_is_spreadsheet(zf, set(names))
        declared = sum(i.file_size for i in infos)
        if declared > limits.max_uncompressed_bytes:
            raise Refused(f"khi giải nén, bảng tính chiếm {_n(declared)} byte, vượt giới hạn "
                          f"{_n(limits.max_uncompressed_bytes)} byte (CCN_MAX_UNCOMPRESSED_MB); nghi là tệp nén "
                          f"độc hại (bom giải nén)",
                          f"the workbook expands to {declared:,} bytes, over the limit of "
                          f"{limits.max_uncompressed_bytes:,} (CCN_MAX_UNCOMPRESSED_MB) (a suspected 'zip bomb')")
        for i in infos:
            if i.flag_bits & 0x1:
                raise Refused(f"thành phần {i.filename} bị mã hóa bên trong tệp nén; Excel không bao giờ mã hóa "
                              f"bảng tính theo cách này",
                              f"the part {i.filename} is encrypted inside the zip; Excel workbooks are never "
                              f"encrypted this way")
            if i.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise Refused(f"thành phần {i.filename} được nén bằng phương pháp số {i.compress_type}, "
                              f"phương pháp mà Excel không dùng",
                              f"the part {i.filename} uses compression method {i.compress_type}, "
                              f"which Excel does not write")
        result = Inspection(kind="ods" if ods else "xlsx")
        if any(n.lower().endswith("vbaproject.bin") or n.startswith(("Basic/", "Scripts/")) for n in names):
            result.notes.append(NOTE_MACROS)
        if any(n.startswith("xl/externalLinks/") for n in names):
            result.notes.append(NOTE_LINKS)
        budget = [element_budget(limits)]
        if ods:
            sheets = {"content.xml": "content.xml"}
            kinds: dict[int, str] = {}
            data_styles = OdsDataStyles()
            styles = _xml(zf, "styles.xml")
            if styles is not None:
                data_styles.walk(styles)
        else:
            sheets = _worksheet_parts(zf, names)
            kinds = xlsx_style_kinds(_part(zf, "xl/styles.xml"))
        with open(path, "rb") as fh:
            for info in infos:
                counter = None
                if info.filename in sheets:
                    counter = (_OdsCounter(limits, budget, data_styles) if ods else
                               _SheetCounter(sheets[info.filename], limits, budget, info.file_size, kinds))
                _verify_entry(fh, info, counter)
                if counter is not None:
                    counter.finish()
                    counter.report(result)
    return result


ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"


def _check_is_spreadsheet(zf: zipfile.ZipFile, names: set[str]) -> bool:
    """Whether the zip is an OpenDocument spreadsheet (True) or an Excel workbook (False); refused otherwise."""
    if "xl/workbook.xml" in names:
        return False
    if "mimetype" in names and "content.xml" in names:
        if zf.getinfo("mimetype").file_size <= 100 and zf.read("mimetype").strip() == ODS_MIMETYPE:
            manifest = _xml(zf, "META-INF/manifest.xml")
            if manifest is not None and any(el.tag.endswith("}encryption-data") for el in manifest.iter()):
                raise Refused("bảng tính có mật khẩu (đã được mã hóa); hãy gỡ mật khẩu rồi gửi lại",
                              "the spreadsheet is password-protected (encrypted); remove the password and send it "
                              "again")
            return True
        vi, en = ("tệp là tài liệu OpenDocument nhưng không phải bảng tính (là văn bản hoặc bản trình chiếu)",
                  "an OpenDocument file that is not a spreadsheet (a text or a presentation)")
    elif "word/document.xml" in names:
        vi, en = "tệp là văn bản Word (.docx), không phải bảng tính Excel", "a Word document (.docx)"
    elif any(n.startswith("ppt/") for n in names):
        vi, en = "tệp là bản trình chiếu PowerPoint, không phải bảng tính Excel", "a PowerPoint presentation"
    else:
        vi, en = "tệp là một tệp nén zip, không phải bảng tính Excel", "a zip archive, not an Excel workbook"
    raise Refused(vi, f"the file is {en}")


MAX_INDEX_PART = 16 << 20  # bytes of workbook.xml or its relationships parsed as a tree (Excel writes a few KB)


def _xml(zf: zipfile.ZipFile, name: str):
    """A small XML part parsed with defusedxml (no DTD, no entities)."""
    data = _part(zf, name)
    if data is None:
        return None
    try:
        return SafeET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise _entities(f"thành phần {name}", f"the part {name}", detail=f"{type(exc).__name__}: {exc}") from exc
    except SafeET.ParseError as exc:
        raise _damaged_part(name, exc) from exc


def _part(zf: zipfile.ZipFile, name: str) -> bytes | None:
    """A small part's bytes (its size, checksum and DTD are verified with every other part)."""
    try:
        size = zf.getinfo(name).file_size
    except KeyError:
        return None
    if size > MAX_INDEX_PART:
        raise _oversized_part(name, size)
    try:
        return zf.read(name)
    except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise _damaged_part(name, exc) from exc


def _worksheet_parts(zf: zipfile.ZipFile, names: list[str]) -> dict[str, str]:
    """Zip part name -> sheet name for every worksheet the workbook lists."""
    workbook = _xml(zf, "xl/workbook.xml")
    rels = _xml(zf, "xl/_rels/workbook.xml.rels")
    targets = {}
    if rels is not None:
        for rel in rels:
            target = rel.get("Target", "")
            part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
            targets[rel.get("Id")] = part
    out = {}
    for el in workbook.iter() if workbook is not None else ():
        if el.tag.rsplit("}", 1)[-1] == "sheet":
            part = targets.get(el.get(f"{REL_NS}id"))
            if part:
                out[part] = el.get("name") or part
    present = set(names)
    for name in present:  # a worksheet part the workbook does not list is still scanned
        if name.startswith("xl/worksheets/") and name.endswith(".xml") and name not in out:
            out[name] = name
    return {k: v for k, v in out.items() if k in present}


def _verify_entry(fh, info: zipfile.ZipInfo, counter: _SheetCounter | _OdsCounter | None) -> None:
    """Decompress one entry in chunks: it must end exactly at its declared size with its declared CRC."""
    fh.seek(info.header_offset)
    header = fh.read(30)
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise Refused(f"thành phần {info.filename} của bảng tính bị hỏng hoặc không đầy đủ",
                      f"the part {info.filename} is damaged or truncated")
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    fh.seek(info.header_offset + 30 + name_len + extra_len)
    remaining = info.compress_size
    inflate = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
    out_total = 0
    crc = 0
    is_xml = info.filename.lower().endswith((".xml", ".rels", ".vml"))
    scan = _DtdScan(info.filename) if is_xml else None
    allowance = info.file_size + 1  # one byte past the declared size proves the size lies

    def take(data: bytes) -> None:
        nonlocal out_total, crc
        out_total += len(data)
        if out_total > info.file_size:
            raise Refused(f"thành phần {info.filename} khi giải nén vượt quá dung lượng đã khai báo "
                          f"{_n(info.file_size)} byte (tệp nén bị làm giả, nghi là bom giải nén)",
                          f"the part {info.filename} expands beyond its declared {info.file_size:,} bytes "
                          f"(a forged zip, 'zip bomb')")
        crc = zlib.crc32(data, crc)
        if scan:
            scan.feed(data)
        if counter is not None:
            counter.feed(data)

    try:
        while remaining > 0:
            raw = fh.read(min(CHUNK, remaining))
            if not raw:
                raise _truncated_part(info.filename)
            remaining -= len(raw)
            if inflate is None:
                take(raw)
                continue
            data = inflate.decompress(raw, min(CHUNK, allowance - out_total))
            take(data)
            while inflate.unconsumed_tail:
                take(inflate.decompress(inflate.unconsumed_tail, min(CHUNK, allowance - out_total)))
        if inflate is not None:
            take(inflate.flush())
            if not inflate.eof:
                raise _truncated_part(info.filename)
    except zlib.error as exc:
        raise _damaged_part(info.filename, exc) from exc
    if out_total != info.file_size or crc != info.CRC:
        raise Refused(f"thành phần {info.filename} không khớp với dung lượng hoặc mã kiểm tra CRC đã khai báo "
                      f"(tệp bị hỏng hoặc bị làm giả)",
                      f"the part {info.filename} does not match its declared size or checksum (damaged or forged)")


class _DtdScan:
    """No DTD (hence no entity expansion) and no UTF-16 in an XML part: Excel writes neither."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tail = b""
        self.started = False

    def feed(self, data: bytes) -> None:
        if not self.started and data:
            self.started = True
            if data[:2] in (b"\xff\xfe", b"\xfe\xff") or data[:2] in (b"<\x00", b"\x00<"):
                raise Refused(f"thành phần {self.name} không phải XML mã hóa UTF-8, trong khi Excel luôn ghi UTF-8",
                              f"the part {self.name} is not UTF-8 XML; Excel always writes UTF-8")
        window = (self.tail + data).upper()
        if b"<!DOCTYPE" in window or b"<!ENTITY" in window:
            raise _entities(f"thành phần {self.name}", f"the part {self.name}", ", 'billion laughs'")
        self.tail = window[-16:]


def _col_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n


SMALL_SHEET_BYTES = 1 << 20  # worksheet parts up to this size are scanned with one regular expression
_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(c|row)(?=[\s/>])([^>]*)>")
_R_ATTR = re.compile(rb"""(?:^|\s)r\s*=\s*["']([^"']*)["']""")
_C_TAGS = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c(?=[\s/>])")
_C_REFS = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?c\s[^>]*?\br="([A-Z]{1,3})([1-9][0-9]{0,6})"')
_ROW_TAGS = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row(?=[\s/>])")
_ROW_REFS = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?row\s[^>]*?\br="([1-9][0-9]{0,6})"')


class _SheetCounter:
    """Streams a worksheet's XML through a DTD-free parser (defusedxml over expat), stopping at the first limit
    passed; only element starts reach Python, so memory stays at one chunk whatever the sheet's size.

    A part of at most ``SMALL_SHEET_BYTES`` (every real report) is instead scanned at once for its ``<row>`` and
    ``<c>`` tags by a regular expression, which is ~20 times cheaper.  Its DTD scan is the same, and text can
    never hide a tag (a literal ``<`` in XML text is escaped), so it can only count more, never less; whether the
    XML is well formed is then left to calamine, whose errors are reported as an unreadable file."""

    def __init__(self, sheet: str, limits: Limits, budget: list[int], size: int | None = None,
                 kinds: dict[int, str] | None = None) -> None:
        self.sheet = sheet
        self.kinds = kinds or {}
        self.marks: SheetMarks | None = None
        self.limits = limits
        self.budget = budget  # XML elements left for all the workbook's sheets (bounds the time spent here)
        self.max_row = self.max_col = self.cells = 0
        self._row = 0
        self._col = 0
        self.small = size is not None and size <= SMALL_SHEET_BYTES
        self._chunks: list[bytes] = []
        # a large sheet is parsed once: every event reaches the marks scan too (start, data, end below)
        self.marks_scan = None if self.small else XlsxMarksScan(self.kinds)
        self.parser = None if self.small else SafeET.XMLParser(target=self, forbid_dtd=True)

    def data(self, text: str) -> None:  # the parser's target interface (large sheets only)
        if self.marks_scan is not None:
            self.marks_scan.data(text)

    def end(self, tag: str) -> None:
        if self.marks_scan is not None:
            self.marks_scan.end(tag)

    def start(self, tag: str, attrs: dict) -> None:  # the parser's target interface
        if self.marks_scan is not None:
            self.marks_scan.start(tag, attrs)
        self.budget[0] -= 1
        if self.budget[0] < 0:
            raise _too_many_elements(self.limits)
        local = tag.rsplit("}", 1)[-1]
        if local == "c":
            ref = attrs.get("r")
            if ref:
                letters = ref.rstrip("0123456789").upper()
                digits = ref[len(letters):]
                if not letters.isalpha() or not letters.isascii() or not digits.isdigit():
                    raise Refused(f"trang tính {self.sheet!r} có ô mang địa chỉ sai dạng {ref[:20]!r}",
                                  f"sheet {self.sheet!r} has a cell with a malformed reference {ref[:20]!r}")
                self._col = _col_number(letters)
                if int(digits) != self._row:
                    self._row = int(digits)
                    self._check_row(self._row)
            else:
                self._col += 1
            self.max_col = max(self.max_col, self._col)
            self.cells += 1
            self._check_cells()
        elif local == "row":
            r = attrs.get("r")
            self._row = int(r) if r and r.isdigit() else self._row + 1
            self._col = 0
            self._check_row(self._row)

    def _check_cells(self) -> None:
        if self.budget[0] < 0:
            raise _too_many_elements(self.limits)
        if self.max_col > self.limits.max_columns:
            raise _too_many_columns(self.sheet, self.max_col, self.limits.max_columns)
        if self.cells > self.limits.max_cells or self.max_row * self.max_col > self.limits.max_cells:
            raise _too_many_cells(self.sheet, self.limits.max_cells)

    def _check_row(self, row: int) -> None:
        if row > self.max_row:
            self.max_row = row
            if row > self.limits.max_rows:
                raise _too_many_rows(self.sheet, row, self.limits.max_rows)

    def report(self, result: Inspection) -> None:
        result.sheets[self.sheet] = (self.max_row, self.max_col, self.cells)
        result.marks[self.sheet] = self.marks or SheetMarks()

    def finish(self) -> None:  # not close(): that name belongs to the parser's target interface
        if self.parser is not None and self.marks_scan is not None:  # a large sheet
            self._run(self.parser.close)
            self.marks = self.marks_scan.close()
            return
        data = b"".join(self._chunks)
        self._chunks = []
        self.marks = xlsx_marks_small(data, self.kinds)
        if self.marks is None:  # a marked element without its cell reference: follow the sheet element by element
            scan = XlsxMarksScan(self.kinds)
            parser = SafeET.XMLParser(target=scan, forbid_dtd=True)
            self._run(parser.feed, data)
            self._run(parser.close)
            self.marks = scan.close()
        cells, rows = _C_REFS.findall(data), _ROW_REFS.findall(data)
        if len(cells) == len(_C_TAGS.findall(data)) and len(rows) == len(_ROW_TAGS.findall(data)):
            # every cell and row carries its reference (as Excel and openpyxl write them): limits from the maxima
            self.cells = len(cells)
            self.budget[0] -= len(cells) + len(rows)
            if cells:
                self.max_col = max(_col_number(c.decode()) for c in {c for c, _ in cells})
            top = max([int(r) for r in rows] + [int(d) for _, d in cells], default=0)
            self._check_row(top)
            self._check_cells()
            return
        for m in _TAG.finditer(data):  # cells without references: follow them one by one
            r = _R_ATTR.search(m.group(2))
            attrs = {"r": r.group(1).decode("ascii", "replace")} if r else {}
            self.start("c" if m.group(1) == b"c" else "row", attrs)

    def feed(self, data: bytes) -> None:
        if self.parser is None:  # a small sheet
            self._chunks.append(data)
        else:
            self._run(self.parser.feed, data)

    def _run(self, fn, *args) -> None:
        _run_parser(self.sheet, fn, *args)


def _run_parser(sheet: str, fn, *args) -> None:
    """Call a streaming parser's feed or close, turning what the XML does wrong into a refusal."""
    try:
        fn(*args)
    except Refused:
        raise
    except DefusedXmlException as exc:
        raise _entities(f"trang tính {sheet!r}", f"sheet {sheet!r}") from exc
    except SafeET.ParseError as exc:
        raise Refused(f"trang tính {sheet!r} không phải XML hợp lệ (tệp bị hỏng)",
                      f"sheet {sheet!r} is not well-formed XML (the file is damaged)", detail=str(exc)) from exc


class _OdsCounter:
    """``content.xml`` of an OpenDocument spreadsheet holds every sheet: streamed through a DTD-free parser whose
    target counts elements against the workbook's budget and holds each sheet's non-empty cells to the limits
    (repeated rows and columns count as many cells as they stand for, so a row repeated a million times with a
    value in it is refused before calamine would build it), collecting the marks on the way."""

    def __init__(self, limits: Limits, budget: list[int], data_styles: OdsDataStyles) -> None:
        self.limits, self.budget = limits, budget
        self.bounds: dict[str, _CellBounds] = {}
        self.scan = OdsScan(self._table, self._cells, data_styles, limits.max_rows, limits.max_columns)
        self.parser = SafeET.XMLParser(target=self, forbid_dtd=True)
        self.sheet = "content.xml"

    def _table(self, name: str) -> None:
        self.bounds[name] = _CellBounds(name, self.limits)

    def _cells(self, table: str, row: int, col: int, count: int) -> None:
        self.bounds[table].cell(row, col, count)

    def start(self, tag: str, attrs: dict) -> None:
        self.budget[0] -= 1
        if self.budget[0] < 0:
            raise _too_many_elements(self.limits)
        self.scan.start(tag, attrs)

    def data(self, text: str) -> None:
        self.scan.data(text)

    def end(self, tag: str) -> None:
        self.scan.end(tag)

    def feed(self, data: bytes) -> None:
        _run_parser(self.sheet, self.parser.feed, data)

    def finish(self) -> None:
        _run_parser(self.sheet, self.parser.close)

    def report(self, result: Inspection) -> None:
        for name, b in self.bounds.items():
            result.sheets[name] = (b.max_row, b.max_col, b.cells)
        result.marks.update(self.scan.close())


# ------------------------------------------------------------------------------------------------------------
# OLE compound files (.xls, and OOXML encrypted with a password)

ENDOFCHAIN = 0xFFFFFFFE
FREESECT = 0xFFFFFFFF


def _inspect_ole(path: Path, limits: Limits) -> Inspection:
    data = path.read_bytes()  # bounded by max_file_bytes
    try:
        cfb = _Cfb(data)
        streams = cfb.streams()
    except (struct.error, IndexError, ValueError) as exc:
        raise _damaged_workbook(exc) from exc
    names = {n.lower() for n in streams}
    if "encryptioninfo" in names or "encryptedpackage" in names:
        raise Refused("bảng tính có mật khẩu (đã được mã hóa); hãy gỡ mật khẩu trong Excel (Tệp › Thông tin › "
                      "Bảo vệ Sổ làm việc) rồi gửi lại",
                      "the workbook is password-protected (encrypted); remove the password in Excel "
                      "(File › Info › Protect Workbook) and send it again")
    book = next((n for n in streams if n.lower() in ("workbook", "book")), None)
    if book is None:
        if "worddocument" in names:
            raise Refused("tệp là văn bản Word (.doc), không phải bảng tính Excel",
                          "the file is a Word document (.doc), not an Excel workbook")
        raise Refused("tệp là một tệp Office nhưng không chứa bảng tính nào",
                      "the file is an Office file without a workbook in it")
    result = Inspection(kind="xls")
    if cfb.has_storage("_VBA_PROJECT_CUR") or "_vba_project" in names:
        result.notes.append(NOTE_MACROS)
    try:
        _scan_biff(cfb.read(streams[book]), limits, result)
    except (struct.error, IndexError, ValueError) as exc:
        raise Refused("bảng tính bị hỏng", "the workbook is damaged", detail=str(exc)) from exc
    return result


class _Cfb:
    """Just enough of [MS-CFB] to list streams and read one: header, FAT, mini FAT, directory."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.ssize = 1 << struct.unpack_from("<H", data, 0x1E)[0]
        self.mini_size = 1 << struct.unpack_from("<H", data, 0x20)[0]
        if self.ssize not in (512, 4096) or self.mini_size != 64:
            raise ValueError("unknown sector size")
        self.sectors = max(0, len(data) // self.ssize - 1)
        n_fat, first_dir = struct.unpack_from("<LL", data, 0x2C)
        self.cutoff, first_mini_fat, n_mini_fat, first_difat, n_difat = struct.unpack_from("<LLLLL", data, 0x38)
        difat = [s for s in struct.unpack_from("<109L", data, 0x4C) if s < ENDOFCHAIN]
        sect = first_difat
        for _ in range(min(n_difat, self.sectors)):
            if sect >= ENDOFCHAIN:
                break
            words = struct.unpack_from(f"<{self.ssize // 4}L", self._sector(sect))
            difat.extend(s for s in words[:-1] if s < ENDOFCHAIN)
            sect = words[-1]
        self.fat: list[int] = []
        for s in difat[:n_fat]:
            self.fat.extend(struct.unpack_from(f"<{self.ssize // 4}L", self._sector(s)))
        directory = self._chain_bytes(first_dir)
        self.entries = []
        for off in range(0, len(directory) - 127, 128):
            e = directory[off:off + 128]
            name_len = struct.unpack_from("<H", e, 0x40)[0]
            name = e[:max(0, min(name_len, 64) - 2)].decode("utf-16-le", "replace")
            kind = e[0x42]
            start, size = struct.unpack_from("<LL", e, 0x74)
            self.entries.append((name, kind, start, size))
        root = self.entries[0] if self.entries else ("", 5, ENDOFCHAIN, 0)
        self.mini_fat = list(struct.unpack(f"<{len(b) // 4}L", b)) if (b := self._chain_bytes(first_mini_fat)) else []
        self.mini_stream = self._chain_bytes(root[2])[:root[3]] if n_mini_fat or self.mini_fat else b""

    def _sector(self, n: int) -> bytes:
        if n >= self.sectors:
            raise ValueError(f"sector {n} is beyond the end of the file")
        off = (n + 1) * self.ssize
        return self.data[off:off + self.ssize]

    def _chain(self, start: int, fat: list[int], limit: int) -> list[int]:
        out: list[int] = []
        sect = start
        while sect < ENDOFCHAIN:
            if len(out) > limit or sect >= len(fat):
                raise ValueError("a sector chain is broken or loops")
            out.append(sect)
            sect = fat[sect]
        return out

    def _chain_bytes(self, start: int) -> bytes:
        if start >= ENDOFCHAIN:
            return b""
        return b"".join(self._sector(s) for s in self._chain(start, self.fat, self.sectors))

    def streams(self) -> dict[str, tuple[int, int]]:
        return {name: (start, size) for name, kind, start, size in self.entries if kind == 2}

    def has_storage(self, name: str) -> bool:
        return any(n == name and k == 1 for n, k, _, _ in self.entries)

    def read(self, entry: tuple[int, int]) -> bytes:
        start, size = entry
        if size < self.cutoff:
            chain = self._chain(start, self.mini_fat, len(self.mini_stream) // self.mini_size)
            return b"".join(self.mini_stream[s * self.mini_size:(s + 1) * self.mini_size] for s in chain)[:size]
        return self._chain_bytes(start)[:size]


# BIFF records whose data starts with (row, column) of one cell; MULRK/MULBLANK end with the last column.
_CELL_RECORDS = {0x0006, 0x00FD, 0x0203, 0x027E, 0x0205, 0x0201, 0x0204, 0x00D6, 0x0406, 0x0206}
_MULTI_RECORDS = {0x00BD, 0x00BE}
BOF, EOF_, FILEPASS, BOUNDSHEET = 0x0809, 0x000A, 0x002F, 0x0085


def _scan_biff(stream: bytes, limits: Limits, result: Inspection) -> None:
    """Walk the BIFF records: a password (FILEPASS) refuses; each sheet's cells must stay within the limits."""
    pos, depth, sheet_no = 0, 0, -1
    names: list[str] = []
    counter: _CellBounds | None = None
    marks = BiffMarks()
    while pos + 4 <= len(stream):
        rtype, length = struct.unpack_from("<HH", stream, pos)
        body = stream[pos + 4:pos + 4 + length]
        pos += 4 + length
        if rtype == FILEPASS:
            raise Refused(PASSWORD_VI, "the workbook is password-protected (encrypted); remove the password in "
                                       "Excel and send it again")
        if rtype == BOUNDSHEET and len(body) >= 8:
            n = body[6]
            raw = body[8:8 + n * (2 if body[7] & 1 else 1)]
            names.append(raw.decode("utf-16-le" if body[7] & 1 else "latin-1", "replace"))
        elif rtype == BOF:
            depth += 1
            if depth == 1:  # the first top-level substream is the workbook globals, then one per sheet
                sheet_no += 1
                label = names[sheet_no - 1] if 0 < sheet_no <= len(names) else f"sheet {sheet_no}"
                counter = _CellBounds(label, limits) if sheet_no > 0 else None
                if counter is not None:
                    result.marks[label] = marks.start_sheet()
        elif rtype == EOF_:
            depth -= 1
            if depth == 0 and counter is not None:
                result.sheets[counter.sheet] = (counter.max_row, counter.max_col, counter.cells)
                counter = None
        elif depth == 1 and counter is None:
            marks.globals_record(rtype, body)
        elif counter is not None and len(body) >= 4:
            if depth == 1:
                marks.sheet_record(rtype, body)
            row, col = struct.unpack_from("<HH", body, 0)
            if rtype in _CELL_RECORDS:
                counter.cell(row + 1, col + 1, 1)
            elif rtype in _MULTI_RECORDS and len(body) >= 6:
                last = struct.unpack_from("<H", body, len(body) - 2)[0]
                counter.cell(row + 1, last + 1, max(1, last - col + 1))


class _CellBounds:
    """The extent of one sheet's cells, refused as soon as it passes a limit (BIFF records, OpenDocument runs)."""

    def __init__(self, sheet: str, limits: Limits) -> None:
        self.sheet, self.limits = sheet, limits
        self.max_row = self.max_col = self.cells = 0

    def cell(self, row: int, col: int, count: int) -> None:
        lim = self.limits
        self.max_row, self.max_col, self.cells = max(self.max_row, row), max(self.max_col, col), self.cells + count
        if row > lim.max_rows:
            raise _too_many_rows(self.sheet, row, lim.max_rows)
        if col > lim.max_columns:
            raise _too_many_columns(self.sheet, col, lim.max_columns)
        if self.cells > lim.max_cells or self.max_row * self.max_col > lim.max_cells:
            raise _too_many_cells(self.sheet, lim.max_cells)
