"""`ccn feedback` (the workbook sent back to the office) and `ccn waive` (accepting a finding knowingly)."""

from __future__ import annotations

import os
import zipfile

import pytest
from openpyxl import load_workbook

from tests.helpers import ccn, view
from tests.test_validation import B02, B0304, communes_of, findings_by_file, write_report


def _formulas(path) -> list[str]:
    """Every <f> (formula) element in the sheets of an .xlsx."""
    with zipfile.ZipFile(path) as z:
        return [n for n in z.namelist() if n.startswith("xl/worksheets/") and b"<f>" in z.read(n)]


@pytest.mark.slow
def test_feedback_never_turns_text_into_a_formula(home, tmp_path, capsys):
    inbox = home / "inbox"
    path = inbox / "b02_formula.xlsx"
    cells = write_report(path, "02", {**B02, "9": "=1+2", "7": 11}, province="01", commune=communes_of("01")[0],
                         cluster="Cụm công nghiệp Công Thức", tax_code="0200000009")
    wb = load_workbook(path)
    ws = wb.active
    ws["H2"].value = '=HYPERLINK("http://example.invalid","bấm vào đây")'
    ws["H2"].data_type = "s"  # typed as text by the office
    wb.save(path)
    mtime = os.path.getmtime(path) - 86400 * 30
    os.utime(path, (mtime, mtime))
    assert not _formulas(path)
    assert ccn("run", "--inbox", str(inbox)) == 0
    sid = int(view("mart_submissions")["submission_id"].iloc[0])
    out = tmp_path / "fb.xlsx"
    capsys.readouterr()
    assert ccn("feedback", str(sid), "--out", str(out)) == 0
    assert "cells marked" in capsys.readouterr().out
    assert not _formulas(out)
    back = load_workbook(out)
    sheet = back["Biểu 02"]
    assert sheet["H2"].data_type == "s" and sheet["H2"].value.startswith("=HYPERLINK")
    assert sheet[cells["9"]].data_type == "s" and sheet[cells["9"]].value == "=1+2"
    assert "value.not_a_number" in sheet[cells["9"]].comment.text
    assert "b02.foreign_le_projects" in sheet[cells["7"]].comment.text
    # the rule in words, its id in brackets under it (issue 13)
    listing = {r[5].rsplit("(", 1)[-1].rstrip(")"): r
               for r in back["Kết quả kiểm tra"].iter_rows(min_row=6, values_only=True) if isinstance(r[0], int)}
    assert set(listing) >= {"value.not_a_number", "b02.foreign_le_projects"}
    assert listing["b02.foreign_le_projects"][2] == cells["7"]


@pytest.mark.slow
def test_feedback_from_a_legacy_xls(home, tmp_path):
    import xlwt
    from openpyxl import load_workbook as load

    inbox = home / "inbox"
    src = tmp_path / "src.xlsx"
    cells = write_report(src, "03", {**B0304, "21": 90}, province="01", commune=communes_of("01")[0])
    book = xlwt.Workbook()
    sheet = book.add_sheet("Biểu 03")
    for row in load(src).active.iter_rows():
        for c in row:
            if c.value is not None:
                sheet.write(c.row - 1, c.column - 1, c.value)
    inbox.mkdir(parents=True, exist_ok=True)
    book.save(str(inbox / "bieu03.xls"))
    os.utime(inbox / "bieu03.xls", (os.path.getmtime(src), os.path.getmtime(src)))
    assert ccn("run", "--inbox", str(inbox)) == 0
    sub = view("mart_submissions")
    assert sub.status.iloc[0] == "rejected"
    out = tmp_path / "fb.xlsx"
    assert ccn("feedback", str(int(sub.submission_id.iloc[0])), "--out", str(out)) == 0
    back = load_workbook(out)
    assert back.sheetnames == ["Kết quả kiểm tra", "Biểu 03"]
    marked = back["Biểu 03"][cells["21"]]
    assert marked.value == 90 and "b0304.foreign_le_projects" in marked.comment.text


def test_feedback_of_an_unknown_submission(home, tmp_path, capsys):
    from schemas.migrate import upgrade
    from tests.helpers import engine

    upgrade(engine())  # an existing, empty warehouse (with none, the command says where it looked instead)
    assert ccn("feedback", "999", "--out", str(tmp_path / "x.xlsx")) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.slow
def test_waived_errors_load_on_the_next_run(home, capsys):
    from schemas.admin import admin

    inbox = home / "inbox"
    p = sorted(admin().provinces)[3]
    # the province reports 8 established clusters of which 9 in the period: an error it says is a typo
    cells = write_report(inbox / "b04.xlsx", "04", {**B0304, "5": 9}, province=p)
    assert ccn("run", "--inbox", str(inbox)) == 0
    assert view("mart_submissions").status.iloc[0] == "rejected"
    assert view("mart_national_summary").empty
    found = findings_by_file()["b04.xlsx"]
    errors = [g for g in found if g.severity == "error"]
    assert [(g.rule_id, g.cell) for g in errors] == [("b0304.established_in_period_le_established", cells["5"])]
    fid = int(view("mart_findings", "WHERE severity = 'error'").finding_id.iloc[0])

    capsys.readouterr()
    assert ccn("waive", str(fid), "--reason", "  ", "--by", "Lê Thị B") == 2
    assert "needs a reason" in capsys.readouterr().err
    assert ccn("waive", "424242", "--reason", "x", "--by", "y") == 2
    assert "does not exist" in capsys.readouterr().err
    assert ccn("waive", str(fid), "--reason", "Sở xác nhận: 9 cụm thành lập theo QĐ 1382", "--by", "Lê Thị B") == 0
    assert "next `ccn run` loads it" in capsys.readouterr().out
    assert ccn("waive", str(fid), "--reason", "again", "--by", "Someone") == 2
    assert "already waived by Lê Thị B" in capsys.readouterr().err

    assert ccn("run", "--inbox", str(inbox)) == 0  # nothing new in the inbox: the waived submission is settled
    subs = view("mart_submissions")
    assert subs.status.iloc[0] == "accepted_with_warnings" and subs.errors.iloc[0] == 0
    summary = view("mart_national_summary").set_index("indicator_code")
    assert summary.loc["5", "value"] == 9 and summary.loc["5", "provinces_reporting"] == 1
    waived = view("mart_findings", f"WHERE finding_id = {fid}").iloc[0]
    assert waived.waived_by == "Lê Thị B" and "QĐ 1382" in waived.waiver_reason and waived.waived_at is not None
    capsys.readouterr()
    assert ccn("findings", "--province", p) == 0
    assert "error (waived)" in capsys.readouterr().out
