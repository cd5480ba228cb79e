"""Workbooks saved by a real office suite (issue 11): every file of ``tests/corpus/files`` was drafted with openpyxl
and computed and saved by LibreOffice as .xlsx, .xls and .ods (``tests/corpus/make_corpus.py``); ``truth.json``
holds what LibreOffice shows in every result cell and what a reader must make of it.

A file expected rejected carries each expected error at its sheet and cell; a file expected accepted has no error
and every value equals the number shown (within half a unit of the last digit shown); over the whole corpus, no
file the reader accepts holds a value other than what its sheet shows; and ``ccn run`` loads exactly the shown
numbers of the accepted files into the warehouse.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parent / "corpus"
TRUTH = json.loads((CORPUS / "truth.json").read_text(encoding="utf-8"))
FILES = TRUTH["files"]
ACCEPTED = [f for f in FILES if f["expected"]["status"] == "accepted"]
REJECTED = [f for f in FILES if f["expected"]["status"] == "rejected"]
WITH_WARNINGS = [f for f in FILES if f["expected"]["warnings"]]
WITH_PERCENT = [f for f in ACCEPTED if any(r["percent_formatted"] for r in f["expected"]["reports"])]
ERRORS = {"#DIV/0!", "#N/A", "#REF!", "#VALUE!", "#NAME?", "#NUM!", "#NULL!"}


def _ids(files: list[dict]) -> list[str]:
    return [f["file"] for f in files]


def _path(entry: dict) -> Path:
    return CORPUS / "files" / entry["file"]


@cache
def _check(file: str):
    """``ccn check`` of one corpus file (pipelines.steward.check.check_file): findings of the reading, the
    identification and the within-form rules."""
    from pipelines.steward.check import check_file

    return check_file(CORPUS / "files" / file)


@cache
def _reading(file: str):
    from pipelines.read.workbook import read_workbook

    return read_workbook(CORPUS / "files" / file)


def _where(f) -> str:
    return f"{f.rule_id} {f.severity} {f.sheet}!{f.cell}"


def shown_number(text: str, unit: str) -> tuple[float, float] | None:
    """The number a person reads in a cell LibreOffice shows (vi-VN) as ``text`` and half a unit of its last digit:
    ``1.234,50`` -> 1234.5 ± 0.005, ``63%`` on a % row -> 63 ± 0.5, ``-`` (accounting zero) -> 0 ± 0, ``12,50 ha``
    -> 12.5; None for a blank or an error shown."""
    t = text.replace("\xa0", " ").strip()
    if not t or t in ERRORS or re.fullmatch(r"Err:\d{3}", t):
        return None
    if t == "-":
        return 0.0, 0.0
    if t.endswith("%"):
        assert unit == "percent", (text, unit)
        t = t[:-1].strip()
    if t.endswith(" ha"):
        t = t[:-3].strip()
    plain = t.replace(".", "").replace(",", ".")
    decimals = len(plain.split(".")[1]) if "." in plain else 0
    return float(plain), 0.5 * 10 ** -decimals


def _unit(form: str, code: str) -> str:
    from schemas.forms import load_forms

    return load_forms()[form].row(code).unit


def test_the_corpus_is_what_make_corpus_wrote():
    assert TRUTH["locale"] == "vi-VN" and TRUTH["period"] == "2026-H1"
    on_disk = sorted(str(p.relative_to(CORPUS / "files")) for p in (CORPUS / "files").rglob("*") if p.is_file())
    assert on_disk == sorted(_ids(FILES))
    by_format = {fmt: sum(f["format"] == fmt for f in FILES) for fmt in ("xlsx", "xls", "ods")}
    assert min(by_format.values()) == max(by_format.values()) > 0, by_format
    for f in ACCEPTED:  # the truth's numbers are those its shown texts say
        for rep in f["expected"]["reports"]:
            sheet = next(s for s in f["sheets"] if s["sheet"] == rep["sheet"])
            for code, (_, text) in sheet["cells"].items():
                got = shown_number(text, _unit(sheet["form"], code))
                expected = (rep["values"][code], rep["tolerance"][code]) if code in rep["values"] else None
                assert got == expected, (f["file"], code, text)


@pytest.mark.parametrize("entry", REJECTED, ids=_ids(REJECTED))
def test_rejected_file_names_each_error_at_its_cell(entry):
    result = _check(entry["file"])
    found = result.all_findings
    for want in entry["expected"]["errors"]:
        hits = [f for f in found if f.rule_id == want["rule_id"] and f.is_error and f.sheet == want["sheet"]
                and (want["cell"] is None or f.cell == want["cell"])]
        assert hits, (f"{entry['file']}: expected {want['rule_id']} at {want['sheet']}!{want['cell'] or '*'}; "
                      f"found {[_where(f) for f in found]}")


def _values_match(entry: dict, reading) -> list[str]:
    """What differs between the reader's reports and the truth's expected reports of an accepted file."""
    wrong = []
    reports = {r.sheet: r for r in reading.reports}
    expected = entry["expected"]["reports"]
    if sorted(reports) != sorted(r["sheet"] for r in expected):
        wrong.append(f"reports on sheets {sorted(reports)}, expected {sorted(r['sheet'] for r in expected)}")
    for rep in expected:
        got = reports.get(rep["sheet"])
        if got is None:
            continue
        if got.form != rep["form"]:
            wrong.append(f"{rep['sheet']}: form {got.form}, expected {rep['form']}")
        values = {c: v.value for c, v in got.values.items() if v.value is not None}
        for code in sorted(set(values) | set(rep["values"])):
            want, tol = rep["values"].get(code), rep["tolerance"].get(code, 0.0)
            have = values.get(code)
            if want is None or have is None or abs(have - want) > tol + 1e-9:
                wrong.append(f"{rep['sheet']} row {code}: read {have}, shown {want} (±{tol})")
    return wrong


@pytest.mark.parametrize("entry", ACCEPTED, ids=_ids(ACCEPTED))
def test_accepted_file_reads_as_shown(entry):
    result = _check(entry["file"])
    errors = [_where(f) for f in result.all_findings if f.is_error]
    assert not errors, f"{entry['file']}: {errors}"
    wrong = _values_match(entry, _reading(entry["file"]))
    assert not wrong, f"{entry['file']}: {wrong}"


@pytest.mark.parametrize("entry", WITH_WARNINGS, ids=_ids(WITH_WARNINGS))
def test_expected_warning(entry):
    found = _check(entry["file"]).all_findings
    for want in entry["expected"]["warnings"]:
        hits = [f for f in found if f.rule_id == want["rule_id"] and f.sheet == want["sheet"]
                and (want["cell"] is None or f.cell == want["cell"])]
        assert hits, (f"{entry['file']}: expected {want['rule_id']} on {want['sheet']}; "
                      f"found {[_where(f) for f in found]}")


@pytest.mark.parametrize("entry", WITH_PERCENT, ids=_ids(WITH_PERCENT))
def test_percent_formatted_cell_is_its_percentage_without_warning(entry):
    """0.6344 in a cell formatted ``0.00%`` on a % row *is* 63.44: read so, and nothing is "assumed"."""
    found = _check(entry["file"]).all_findings
    for rep in entry["expected"]["reports"]:
        sheet = next(s for s in entry["sheets"] if s["sheet"] == rep["sheet"])
        cells = {sheet["cells"][code][0] for code in rep["percent_formatted"]}
        assumed = [_where(f) for f in found if f.rule_id == "value.percent_assumed" and f.sheet == rep["sheet"]
                   and f.cell in cells]
        assert not assumed, f"{entry['file']}: {assumed}"


def test_no_accepted_file_holds_a_value_other_than_shown():
    """Over the whole corpus, whatever its expected outcome: a file the reader accepts (no error) holds only values
    equal to what their cells show, read from the result cells a person sees (no hidden sheet, row or column), and
    none of its visible forms shows a formula error in a result cell (a figure silently missing)."""
    wrong = []
    for entry in FILES:
        result = _check(entry["file"])
        if any(f.is_error for f in result.all_findings):
            continue
        sheets = {s["sheet"]: s for s in entry["sheets"]}
        for sheet in entry["sheets"]:
            if sheet["hidden"]:
                continue
            for code, (where, text) in sheet["cells"].items():
                if text.strip() in ERRORS or re.fullmatch(r"Err:\d{3}", text.strip()):
                    wrong.append(f"{entry['file']} {sheet['sheet']}!{where} row {code}: accepted while it shows {text}")
        for report in _reading(entry["file"]).reports:
            sheet = sheets.get(report.sheet)
            if sheet is None:
                wrong.append(f"{entry['file']}: a report from sheet {report.sheet!r}, which holds no form")
                continue
            if sheet["hidden"]:
                wrong.append(f"{entry['file']}: a report from the hidden sheet {report.sheet!r}")
            cells = sheet["cells"]
            for code, v in report.values.items():
                if v.value is None:
                    continue
                where, text = cells[code]
                shown = shown_number(text, _unit(sheet["form"], code))
                if v.cell in sheet["hidden_cells"]:
                    wrong.append(f"{entry['file']} {report.sheet}!{v.cell} row {code}: read from a hidden cell")
                elif v.cell != where:
                    wrong.append(f"{entry['file']} {report.sheet}!{v.cell} row {code}: read from {v.cell}, the result "
                                 f"shown is in {where} ({text!r})")
                elif shown is None or abs(v.value - shown[0]) > shown[1] + 1e-9:
                    wrong.append(f"{entry['file']} {report.sheet}!{where} row {code}: read {v.value}, shows {text!r}")
    assert not wrong, "\n".join(wrong)


# --- the whole pipeline ---------------------------------------------------------------------------------------------
@pytest.fixture(params=["xlsx", "xls", "ods"])
def corpus_run(request, tmp_path, monkeypatch):
    """``ccn run`` over the corpus files of one format, on a SQLite warehouse of its own.  Files arrive before the
    deadline of 2026-H1 (their modification time), so no timeliness warning blurs the status."""
    from tests.helpers import ccn

    fmt = request.param
    home = tmp_path / "home"
    inbox = home / "inbox"
    inbox.mkdir(parents=True)
    monkeypatch.setenv("CCN_HOME", str(home))
    monkeypatch.setenv("CCN_WAREHOUSE_URL", f"sqlite:///{home / 'warehouse.sqlite'}")
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    arrived = datetime(2026, 6, 10, 9, 0, tzinfo=UTC).timestamp()
    entries = [f for f in FILES if f["format"] == fmt]
    for entry in entries:
        dest = inbox / Path(entry["file"]).name
        shutil.copy2(_path(entry), dest)
        os.utime(dest, (arrived, arrived))
    assert ccn("run") == 0
    return fmt, entries


@pytest.mark.slow
def test_pipeline_loads_the_shown_numbers(corpus_run):
    from tests.helpers import rows

    fmt, entries = corpus_run
    subs = rows("SELECT m.submission_id, m.file_name, s.sheet, m.form, m.status FROM mart_submissions m "
                "JOIN submission s ON s.submission_id = m.submission_id")
    values = rows("SELECT v.submission_id, v.indicator_code, v.value, v.cell FROM indicator_value v "
                  "JOIN submission s ON s.submission_id = v.submission_id "
                  "WHERE s.status IN ('accepted', 'accepted_with_warnings')")
    by_file: dict[str, list] = {}
    for row in subs:
        by_file.setdefault(row.file_name, []).append(row)
    loaded: dict[int, dict[str, float]] = {}
    for row in values:
        loaded.setdefault(row.submission_id, {})[row.indicator_code] = row.value
    wrong = []
    for entry in entries:
        name = Path(entry["file"]).name
        file_subs = by_file.get(name, [])
        if entry["expected"]["status"] == "rejected":
            taken = [r for r in file_subs if r.status in ("accepted", "accepted_with_warnings")]
            if taken:
                wrong.append(f"{name}: expected rejected, loaded {[(r.sheet, r.status) for r in taken]}")
            continue
        want = {r["sheet"]: r for r in entry["expected"]["reports"]}
        if sorted(r.sheet for r in file_subs) != sorted(want):
            got_sheets = sorted(r.sheet or "" for r in file_subs)
            wrong.append(f"{name}: submissions for sheets {got_sheets}, expected {sorted(want)}")
        for r in file_subs:
            rep = want.get(r.sheet)
            if rep is None:
                continue
            if r.status not in ("accepted", "accepted_with_warnings"):
                wrong.append(f"{name} {r.sheet}: {r.status}")
                continue
            got = loaded.get(r.submission_id, {})
            for code in sorted(set(got) | set(rep["values"])):
                have, exp = got.get(code), rep["values"].get(code)
                if have is None or exp is None or abs(have - exp) > rep["tolerance"].get(code, 0) + 1e-9:
                    wrong.append(f"{name} {r.sheet} row {code}: loaded {have}, shown {exp}")
    assert not wrong, f"{fmt}:\n" + "\n".join(wrong)
