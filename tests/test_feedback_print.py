"""The feedback workbook a steward prints (issue 13): `ccn feedback` for a rejected report of a `ccn sample` warehouse,
rendered to PDF by LibreOffice as it would be printed.

The findings sheet prints on A4 portrait, one page wide, its table header on every page, every word of every message
shown (no row too short for its wrapped text), the severity in words (Vietnamese first), the rule in words with its
id, and in "Dòng / Row" the sheet row of the cell the finding points at.  The report's own sheet follows on A4.  A file
that could not be opened gets a findings sheet that says so in Vietnamese and English, with no Python or library error
text.  Before issue 13 the feedback workbook of a one-finding report printed on seven pages.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from tests.test_cli_steward import _sqlite, ccn
from tests.test_hostile import EXCEPTION_TEXT
from tests.test_printing import A4_PORTRAIT, _words

pytestmark = pytest.mark.slow  # `ccn run` on 167 files, then LibreOffice renders two workbooks: about 30 s

BIEU04 = "40_tinh-nghe-an/bieu04_40_tinh-nghe-an.xlsx"
BROKEN = "40_tinh-nghe-an/bao_cao_hong.xlsx"  # the sample's truncated workbook
HEADER = "Nội dung / Message"
SEVERITY = {"error": "Lỗi / Error", "warning": "Cảnh báo / Warning", "waived": "Đã miễn trừ / Waived"}


def _spoil(path: Path) -> None:
    """The province's Biểu 04 with a long remark typed instead of every third figure, row 15 contradicting 15.1 +
    15.2, sent after the deadline: errors, warnings and long messages, more than one page of them."""
    wb = load_workbook(path)
    ws = wb["Biểu 04"]
    for row in range(12, ws.max_row + 1):
        value = ws[f"D{row}"].value
        if isinstance(value, (int, float)) and row % 3 == 0:
            ws[f"D{row}"].value = (f"khoảng {value} (số liệu tạm tính của dòng {ws[f'A{row}'].value}, chờ các xã, "
                                   f"phường gửi báo cáo chính thức)")
    ws["D28"].value = 20
    wb.save(path)
    late = dt.datetime(2026, 7, 10, 9, tzinfo=dt.timezone(dt.timedelta(hours=7))).timestamp()
    os.utime(path, (late, late))


def _pages(pdf: Path) -> list[str]:
    """The text of every page, each page checked to be A4 portrait."""
    info = subprocess.run(["pdfinfo", "-f", "1", "-l", "999", str(pdf)], capture_output=True, text=True,
                          check=True).stdout
    sizes = re.findall(r"^Page\s+\d+ size:\s+([\d.]+) x ([\d.]+)", info, re.MULTILINE)
    assert sizes and all((round(float(w)), round(float(h))) == A4_PORTRAIT for w, h in sizes), info
    return [subprocess.run(["pdftotext", "-f", str(p), "-l", str(p), "-layout", str(pdf), "-"], capture_output=True,
                           text=True, check=True).stdout for p in range(1, len(sizes) + 1)]


def _raw(pdf: Path) -> str:
    """The text of a PDF in the order it was drawn (each cell's lines together), spaces and line breaks as one."""
    raw = subprocess.run(["pdftotext", "-raw", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return re.sub(r"\s+", " ", raw)


@pytest.fixture(scope="module")
def printed(tmp_path_factory) -> dict:
    """A warehouse loaded from a `ccn sample` province with the Biểu 04 spoiled and one of its findings waived; the
    feedback workbooks of that report and of the unreadable file, and their PDFs."""
    soffice = shutil.which("soffice")
    assert soffice and shutil.which("pdfinfo"), "LibreOffice and poppler-utils are needed: .ci/run installs them"
    base = tmp_path_factory.mktemp("feedback_print")
    inbox, home, out = base / "inbox", base / "home", base / "out"
    done = ccn("sample", "--out", str(inbox), "--period", "2026-H1", "--provinces", "1", "--seed", "5", home=home)
    assert done.returncode == 0, done.stderr
    _spoil(inbox / BIEU04)
    done = ccn("run", "--inbox", str(inbox), home=home, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    from schemas.tables import received_file, submission, validation_finding

    s, rf, f = submission.c, received_file.c, validation_finding.c
    engine = _sqlite(home)
    with engine.connect() as conn:
        ids = dict(conn.execute(select(rf.file_name, s.submission_id).join(received_file, rf.sha256 == s.sha256)
                                .where(rf.file_name.in_([Path(BIEU04).name, Path(BROKEN).name]))).all())
        waived = conn.execute(select(f.finding_id).where(f.submission_id == ids[Path(BIEU04).name],
                                                         f.rule_id == "value.not_a_number")
                              .order_by(f.finding_id)).scalars().first()
    engine.dispose()
    done = ccn("waive", str(waived), "--reason", "Sở Công Thương xác nhận số liệu theo công văn 12/SCT", "--by",
               "Nguyễn Văn A", home=home)
    assert done.returncode == 0, done.stderr
    books = {}
    for key, name in (("report", BIEU04), ("broken", BROKEN)):
        books[key] = out / f"phan_hoi_{key}.xlsx"
        done = ccn("feedback", str(ids[Path(name).name]), "--out", str(books[key]), home=home)
        assert done.returncode == 0, done.stderr
    subprocess.run([soffice, f"-env:UserInstallation=file://{base / 'profile'}", "--headless", "--convert-to", "pdf",
                    "--outdir", str(out), *map(str, books.values())], capture_output=True, timeout=300, check=True)
    return {"books": books, "pdf": {k: v.with_suffix(".pdf") for k, v in books.items()}, "waived": waived,
            "report": inbox / BIEU04}


def _findings(path: Path) -> list[dict]:
    """The findings table of a feedback workbook: one dict a row, by header."""
    ws = load_workbook(path)["Kết quả kiểm tra"]
    rows = list(ws.iter_rows(values_only=True))
    at = next(i for i, r in enumerate(rows) if HEADER in r)
    head = rows[at]
    return [dict(zip(head, r, strict=True)) for r in rows[at + 1:] if isinstance(r[0], int)]


def test_findings_print_on_a4_one_page_wide_with_the_header_on_every_page(printed):
    pages = _pages(printed["pdf"]["report"])
    findings = [i for i, text in enumerate(pages) if HEADER in text]
    form = [i for i, text in enumerate(pages) if "Biểu số 04" in text]
    # 17 findings (13 with a two-line remark quoted in both languages) on 2 pages, the report's sheet on one
    assert len(pages) == 3 and findings == [0, 1] and form == [2], [p[:200] for p in pages]
    for i in findings:  # one page wide: the last column's header on every page, beside the first
        assert "STT /" in pages[i] and "Chỉ tiêu /" in pages[i] and "Quy tắc / Rule" in pages[i]


def test_every_word_of_every_message_is_printed(printed):
    """No row is too short for its wrapped message: each message's words are printed, in order and together (the
    PDF holds a cell's lines one after the other; the lines of a row clipped by its height are not printed)."""
    words = _words(_raw(printed["pdf"]["report"]))
    rows = _findings(printed["books"]["report"])
    assert len(rows) >= 15
    for row in rows:
        message = _words(row["Nội dung / Message"])
        assert any(words[i:i + len(message)] == message for i in range(len(words))), row


def test_severity_and_rule_in_words(printed):
    rows = _findings(printed["books"]["report"])
    severities = {r["Mức độ / Severity"] for r in rows}
    assert severities == set(SEVERITY.values())
    waived = [r for r in rows if r["Mức độ / Severity"] == SEVERITY["waived"]]
    assert len(waived) == 1 and "Nguyễn Văn A" in waived[0]["Nội dung / Message"]
    by_rule = {r["Quy tắc / Rule"].rsplit("(", 1)[1].rstrip(")"): r for r in rows}
    assert by_rule["value.not_a_number"]["Quy tắc / Rule"] == "Kết quả phải là một con số\n(value.not_a_number)"
    assert by_rule["timeliness.late"]["Mức độ / Severity"] == SEVERITY["warning"]
    text = _raw(printed["pdf"]["report"])  # "Cảnh báo /" and "Warning" on two lines of their cell
    for words in SEVERITY.values():
        assert words in text
    assert "Kết quả phải là một con số" in text


def test_row_is_the_sheet_row_of_the_cell(printed):
    """"Dòng / Row" is the row of the marked cell in the report's sheet, where the indicator's code stands in
    column (1); the code itself is in "Chỉ tiêu / Indicator"."""
    rows = [r for r in _findings(printed["books"]["report"]) if r["Ô / Cell"]]
    sheet = load_workbook(printed["report"])["Biểu 04"]
    assert len(rows) >= 12
    for r in rows:
        row = r["Dòng / Row"]
        assert row == int(re.sub(r"^[A-Z]+", "", r["Ô / Cell"])), r
        assert str(sheet[f"A{row}"].value) == r["Chỉ tiêu / Indicator"], r
    assert any(r["Dòng / Row"] != int(float(r["Chỉ tiêu / Indicator"])) for r in rows)
    printed_rows = _pages(printed["pdf"]["report"])[0]
    first = rows[0]
    assert re.search(rf"{first['Ô / Cell']}\s+{first['Dòng / Row']}\s+{first['Chỉ tiêu / Indicator']}\s", printed_rows)


def test_an_unreadable_file_gets_feedback_that_says_so(printed):
    """The sample's truncated workbook: the feedback has no sheet of the file, and its findings sheet says why in
    Vietnamese and in English, without the text of the exception the reader met."""
    book = printed["books"]["broken"]
    assert load_workbook(book).sheetnames == ["Kết quả kiểm tra"]
    pages = _pages(printed["pdf"]["broken"])
    assert len(pages) == 1
    text = _raw(printed["pdf"]["broken"])
    assert "Không mở được tệp đã nhận như một bảng tính" in text
    assert "could not be opened as a workbook" in text
    assert "bảng tính bị hỏng hoặc không đầy đủ" in text and "damaged or truncated" in text
    assert not EXCEPTION_TEXT.search(text), text
    rows = _findings(book)
    assert [r["Quy tắc / Rule"].rsplit("(", 1)[1] for r in rows] == ["file.unreadable)"]
    assert not EXCEPTION_TEXT.search(rows[0]["Nội dung / Message"])
    vi, en = rows[0]["Nội dung / Message"].split("\n")
    assert vi.startswith("Không đọc được tệp") and en.startswith("The file cannot be read")
