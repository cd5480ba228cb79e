"""Uploads of the stewards' portal (pipelines/steward/upload.py) and the sheet it shows back
(pipelines/steward/sheet_view.py): a workbook is kept aside under a random token, inspected before any parser,
checked as the run checks it for the uploader's province, shown with the failing cells marked, and sent into
the inbox, where the run loads it for that province; each step is in the audit trail."""

from __future__ import annotations

import io
import json
import os
import time
import unicodedata
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from pipelines.load.ingest import folder_conflict
from pipelines.settings import Limits
from pipelines.steward.check import check_file
from pipelines.steward.sheet_view import sheet_views, shown
from pipelines.steward.upload import (
    MAX_NAME_BYTES,
    UploadError,
    discard_stale,
    given_name,
    province_folder,
    record_upload,
    safe_name,
    send_upload,
    stage_upload,
    staged,
)
from schemas.admin import admin
from schemas.migrate import upgrade
from schemas.periods import VN_TZ
from tests import hostile_corpus as hc
from tests.helpers import engine, rows
from tests.test_validation import B0304, run_stages, write_report

CORPUS = Path(__file__).parent / "corpus"
P, Q = sorted(admin().provinces)[:2]


def _cells(view) -> dict:
    return {c.ref: c for _, cells in view.rows for c in cells}


def _bieu04(path: Path, province: str = P, **values) -> dict[str, str]:
    return write_report(path, "04", {**B0304, **values}, province=province)


def test_the_failing_cell_is_marked_with_its_message(tmp_path):
    src = tmp_path / "Báo cáo Biểu 04.xlsx"
    cells = _bieu04(src, **{"15": 7, "13": 6070.150000000001})  # 15 ≠ 15.1 + 15.2; a sum with float noise
    wb = load_workbook(src)
    wb.active["G5"] = date(2026, 6, 30)
    wb.save(src)

    s = stage_upload(tmp_path / "staging", P, src.name, src.read_bytes())
    assert s.refused is None and s.name == "Báo cáo Biểu 04.xlsx" and s.path.is_file()
    assert s.path.parent.name == province_folder(P) and s.size == src.stat().st_size
    assert s.errors == 1 and s.warnings == 0
    [view] = sheet_views(s.path, s.check)
    assert view.sheet == "Biểu 04" and view.unplaced == [] and not view.truncated
    by_ref = _cells(view)
    marked = by_ref[cells["15"]]
    assert marked.text == "7" and marked.severity == "error"
    [(vi, en)] = marked.messages
    assert "Dòng 15 ghi 7 nhưng 15.1 + 15.2 = 6" in vi and "15.1 + 15.2" in en and vi != en
    assert [c.ref for c in by_ref.values() if c.severity] == [cells["15"]]  # nothing else is marked
    assert by_ref[cells["13"]].text == "6070.15"  # as a person reads it, not 6070.150000000001
    assert marked.numeric and by_ref[cells["13"]].numeric and not by_ref["G5"].numeric  # numbers align right
    assert not any(c.numeric for c in by_ref.values() if c.ref.startswith("B"))  # the labels
    assert by_ref[cells["16.1"]].text == "220"
    assert by_ref["G5"].text == "30/06/2026"
    row_15 = next(cells_ for n, cells_ in view.rows if n == int(cells["15"][1:]))
    assert any("đã hoạt động" in c.text for c in row_15)  # the row's label beside the value
    assert view.columns[0] == "A" and "G" in view.columns

    again = staged(tmp_path / "staging", s.token)  # the page reloads the upload by its token
    assert again == s


@pytest.mark.parametrize("fmt", ["xlsx", "xls", "ods"])
def test_office_saved_files_are_shown_as_saved(fmt):
    """LibreOffice-saved files of the corpus: a formula error shows its error text and is marked; values show as
    the corpus truth records what the office saw (the decimal comma aside)."""
    path = CORPUS / "files" / fmt / f"err_div0.{fmt}"
    checked = check_file(path)
    [view] = sheet_views(path, checked)
    by_ref = _cells(view)
    assert by_ref["D41"].text == "#DIV/0!" and by_ref["D41"].severity == "error"
    assert any("#DIV/0!" in vi for vi, _ in by_ref["D41"].messages)
    truth = next(f for f in json.loads((CORPUS / "truth.json").read_text(encoding="utf-8"))["files"]
                 if f["case"] == "err_div0")
    shown = {ref: text for ref, text in truth["sheets"][0]["cells"].values() if ref != "D41"}
    assert len(shown) > 20
    for ref, text in shown.items():  # "43,30" as LibreOffice (vi-VN) showed it; 43.3 here
        assert float(by_ref[ref].text) == float(text.replace(".", "").replace(",", ".")), ref


def test_the_window_keeps_marked_cells(tmp_path):
    src = tmp_path / "b04.xlsx"
    cells = _bieu04(src, **{"27": 9})  # 27 (compliant) > 26 (built): marked near the bottom of the sheet
    checked = check_file(src)
    [view] = sheet_views(src, checked, max_rows=5, max_cols=2)
    assert view.truncated
    flagged = [c for c in _cells(view).values() if c.severity]
    assert {c.ref for c in flagged} >= {cells["27"]}
    assert len(view.rows) <= 5 + len({c.ref for c in flagged})
    assert view.rows == sorted(view.rows, key=lambda r: r[0])


def test_a_hostile_file_is_refused_and_not_parsed(tmp_path):
    staging = tmp_path / "staging"
    laughs = hc.xlsx(hc.LAUGHS + b'<worksheet><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is>'
                                 b'</c></row></sheetData></worksheet>')
    s = stage_upload(staging, P, "bao_cao.xlsx", laughs)
    assert s.check is None and not s.path.exists()  # never parsed, bytes not kept
    vi, en = s.refused.split(" — ")
    assert vi.startswith("Không đọc được tệp: ") and "thực thể XML" in vi
    assert en.startswith("The file cannot be read: ") and "entities" in en
    assert staged(staging, s.token).refused == s.refused
    with pytest.raises(UploadError, match="refused"):
        send_upload(staging, s.token, tmp_path / "inbox", None, "p1")  # type: ignore[arg-type]
    assert not (tmp_path / "inbox").exists()

    # a 5 KB .xls with a cell at row 65,536 would cost calamine a gigabyte: refused on its records
    s = stage_upload(staging, P, "bieu04.xls", hc._xls_cell(65535, 255))
    assert s.check is None and "CCN_MAX_ROWS" in s.refused


class _Endless(io.RawIOBase):
    """An upload that never ends, counting what was read from it."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        n = 1 << 16 if size is None or size < 0 else size
        self.read_bytes += n
        return b"x" * n


def test_an_oversized_upload_is_refused_without_reading_past_the_limit(tmp_path):
    staging = tmp_path / "staging"
    limits = Limits(max_file_bytes=3 * 1024 * 1024 + 5)
    stream = _Endless()
    s = stage_upload(staging, P, "lon.xlsx", stream, limits)  # type: ignore[arg-type]
    assert stream.read_bytes == limits.max_file_bytes + 1  # one byte past the limit tells; not one more
    assert s.check is None and "CCN_MAX_FILE_MB" in s.refused and "3.145.733" in s.refused
    assert not s.path.exists() and [p.name for p in (staging / s.token).rglob("*") if p.is_file()] == ["staged.json"]

    s = stage_upload(staging, P, "lon.xlsx", b"PK" + b"\0" * 4000, Limits(max_file_bytes=1000))
    assert "1.000 byte" in s.refused and "1,000 bytes" in s.refused and not s.path.exists()


def test_another_provinces_workbook_gets_the_folder_conflict(tmp_path):
    src = tmp_path / "bieu04_khac.xlsx"
    _bieu04(src, province=Q)
    s = stage_upload(tmp_path / "staging", P, src.name, src.read_bytes())
    conflicts = [f for f in s.check.all_findings if f.rule_id == "identity.province_folder_conflict"]
    assert len(conflicts) == 1 and conflicts[0].is_error and s.errors == 1
    names = admin().provinces
    assert names[Q].name in conflicts[0].message_en and names[P].name in conflicts[0].message_en
    [view] = sheet_views(s.path, s.check)
    assert view.unplaced == conflicts  # about the report, not a cell
    own = stage_upload(tmp_path / "staging", Q, src.name, src.read_bytes())
    assert own.errors == 0


@pytest.mark.parametrize("code", sorted(admin().provinces))
def test_each_province_folder_is_read_as_its_province(code):
    folder = province_folder(code)
    assert folder.isascii() and folder_conflict(code, [folder], None) == []
    other = next(c for c in admin().provinces if c != code)
    assert [f.rule_id for f in folder_conflict(other, [folder], None)] == ["identity.province_folder_conflict"]


def test_sent_files_load_for_the_province_and_are_audited(home, tmp_path):
    eng = engine()
    upgrade(eng)
    staging, inbox = tmp_path / "staging", home / "inbox"
    src = tmp_path / "bieu04.xlsx"
    _bieu04(src)
    s = stage_upload(staging, P, "Biểu 04 tổng hợp.xlsx", src.read_bytes())
    assert s.errors == 0
    record_upload(eng, "lao.cai", s, address="10.0.0.7")
    sent = send_upload(staging, s.token, inbox, eng, "lao.cai", address="10.0.0.7")
    eng.dispose()
    assert sent.parent == inbox / province_folder(P) and sent.read_bytes() == src.read_bytes()
    assert sent.name.endswith(f"-{s.token[:6]}-Biểu 04 tổng hợp.xlsx") and len(sent.name.split("-", 2)[0]) == 8
    assert given_name(sent.name) == "Biểu 04 tổng hợp.xlsx"  # as the pages and downloads name it
    assert given_name("bieu04_20_tinh-lang-son.xlsx") == "bieu04_20_tinh-lang-son.xlsx"  # not sent by the portal
    assert [p.name for p in sent.parent.iterdir()] == [sent.name]  # no temporary copy left
    assert not (staging / s.token).exists() and staged(staging, s.token) is None
    with pytest.raises(UploadError):
        send_upload(staging, s.token, inbox, eng, "lao.cai")  # sent once only

    run_stages(inbox)
    [sub] = rows("SELECT s.province_code, s.form, s.status, f.source_path FROM submission s "
                 "JOIN received_file f ON f.sha256 = s.sha256")
    assert (sub.province_code, sub.form) == (P, "04") and sub.status != "rejected"
    assert sub.source_path == f"{province_folder(P)}/{sent.name}"
    audit = rows("SELECT actor, action, address, target, detail FROM audit_event ORDER BY event_id")
    assert [(a.actor, a.action, a.address) for a in audit] == [("lao.cai", "upload.check", "10.0.0.7"),
                                                                 ("lao.cai", "upload.send", "10.0.0.7")]
    assert audit[0].target == "Biểu 04 tổng hợp.xlsx"
    assert audit[0].detail == f"sha256={s.sha256} province={P} errors=0 warnings=0"
    assert audit[1].target == sub.source_path and audit[1].detail == s.sha256


def test_a_changed_staged_file_is_not_sent(tmp_path):
    staging = tmp_path / "staging"
    src = tmp_path / "bieu04.xlsx"
    _bieu04(src)
    s = stage_upload(staging, P, src.name, src.read_bytes())
    s.path.write_bytes(s.path.read_bytes() + b"\0")
    with pytest.raises(UploadError, match="changed since it was checked"):
        send_upload(staging, s.token, tmp_path / "inbox", None, "p1")  # type: ignore[arg-type]
    assert list((tmp_path / "inbox").rglob("*.*")) == []


@pytest.mark.parametrize("token", ["..", "../../etc/passwd", "/etc/passwd", "", "a" * 21, "a" * 23,
                                   "../" + "a" * 19, "a" * 21 + "/", "a" * 21 + ".", "a" * 21 + "\0",
                                   "AAAAAAAAAAAAAAAAAAAAAA\n"])
def test_tokens_not_of_the_generated_shape_are_refused(tmp_path, token):
    staging = tmp_path / "staging"
    outside = tmp_path / "staged.json"  # what "../" would reach
    outside.write_text(json.dumps({"token": "x"}), encoding="utf-8")
    assert staged(staging, token) is None
    with pytest.raises(UploadError):
        send_upload(staging, token, tmp_path / "inbox", None, "p1")  # type: ignore[arg-type]


def test_unknown_tokens_and_provinces(tmp_path):
    assert staged(tmp_path, "A" * 22) is None
    with pytest.raises(UploadError, match="2025 province code"):
        stage_upload(tmp_path, "99", "a.xlsx", b"x")


@pytest.mark.parametrize("given, kept", [
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\So CT\\Báo cáo Lào Cai.xlsx", "Báo cáo Lào Cai.xlsx"),
    (".hidden.xlsx", "hidden.xlsx"),
    ("~$bieu04.xlsx", "bieu04.xlsx"),
    (" . ~$.x.xls", "x.xls"),
    ("bie\u0301u\x00 04\n\x1b[31m.xlsx", "biéu 04[31m.xlsx"),
    ('a<b>c:"d|e?f*.ods', "a_b_c__d_e_f_.ods"),
    ("..", "tep"),
    ("", "tep"),
])
def test_safe_names(given, kept):
    assert safe_name(given) == kept


def test_long_names_keep_their_extension():
    name = safe_name("Báo cáo tình hình cụm công nghiệp " * 20 + ".xlsx")
    assert name.endswith(".xlsx") and len(name.encode()) <= MAX_NAME_BYTES
    assert unicodedata.is_normalized("NFC", name) and name.startswith("Báo cáo")


def test_stale_uploads_are_discarded(tmp_path):
    staging = tmp_path / "staging"
    src = tmp_path / "bieu04.xlsx"
    _bieu04(src)
    old = stage_upload(staging, P, src.name, src.read_bytes())
    new = stage_upload(staging, P, src.name, src.read_bytes())
    (staging / "not-a-token").mkdir()
    day_ago = time.time() - 2 * 86400
    for p in [staging / "not-a-token", staging / old.token]:
        os.utime(p, (day_ago, day_ago))
    assert discard_stale(staging) == 1
    assert staged(staging, old.token) is None and staged(staging, new.token) is not None
    assert (staging / "not-a-token").is_dir()
    assert discard_stale(tmp_path / "none") == 0


def test_date_and_time_cells():
    assert shown(datetime(2026, 6, 30, tzinfo=VN_TZ)) == "30/06/2026"
    assert shown(datetime(2026, 6, 30, 14, 5, tzinfo=VN_TZ)) == "30/06/2026 14:05"
    assert shown(0.6344, "percent") == "63.44%" and shown(5.0, "hidden") == "" and shown(True) == "TRUE"
