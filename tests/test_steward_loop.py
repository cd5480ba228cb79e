"""One bad file through the whole steward's loop, with the `ccn` commands a steward types:
rejected → `ccn findings` names it → `ccn feedback` marks the cell → the corrected file is dropped → it
supersedes the bad one, loads, and the national summary changes accordingly."""

from __future__ import annotations

import pytest
from openpyxl import load_workbook

from tests.helpers import ccn, view
from tests.test_validation import B0304, write_report

pytestmark = pytest.mark.slow  # the whole steward loop, 10-17 s per backend


def _summary() -> dict[str, tuple[float, int]]:
    s = view("mart_national_summary")
    return {r.indicator_code: (r.value, r.provinces_reporting) for r in s.itertuples()}


def test_bad_file_through_the_loop(home, capsys, tmp_path):
    from schemas.admin import admin

    p, q = sorted(admin().provinces)[:2]
    inbox = home / "inbox"
    other = {**B0304, "20": 30, "21": 2, "22": 25}
    write_report(inbox / "q_bieu04.xlsx", "04", other, province=q)
    bad_cells = write_report(inbox / "p_bieu04.xlsx", "04", {**B0304, "15": 7}, province=p, days_before=6)
    assert ccn("run", "--inbox", str(inbox)) == 0

    subs = view("mart_submissions").set_index("file_name")
    assert subs.loc["p_bieu04.xlsx", "status"] == "rejected"
    bad_id = int(subs.loc["p_bieu04.xlsx", "submission_id"])
    before = _summary()
    assert before["20"] == (30, 1)  # only the other province reaches the summary

    capsys.readouterr()
    assert ccn("findings", "--province", p, "--severity", "error") == 0
    out = capsys.readouterr().out
    assert "b0304.operating_count_sum" in out and f"Biểu 04!{bad_cells['15']}" in out
    assert "Dòng 15 ghi 7 nhưng 15.1 + 15.2 = 6" in out and "Data Docs" in out
    assert "q_bieu04" not in out

    fb = tmp_path / "phan_hoi.xlsx"
    assert ccn("feedback", str(bad_id), "--out", str(fb)) == 0
    wb = load_workbook(fb)
    assert wb.sheetnames[0] == "Kết quả kiểm tra"
    listing = [[c.value for c in row] for row in wb.worksheets[0].iter_rows(min_row=6)]
    assert listing[0][5].endswith("(b0304.operating_count_sum)") and listing[0][2] == bad_cells["15"]
    cell = wb["Biểu 04"][bad_cells["15"]]
    assert cell.value == 7
    assert cell.fill.fgColor.rgb.endswith("FFC7CE")
    assert "b0304.operating_count_sum" in cell.comment.text and "15.1 + 15.2 = 6" in cell.comment.text
    assert "= 6" in cell.comment.text  # what was expected
    assert wb["Biểu 04"][bad_cells["16"]].comment is None

    # the province corrects row 15 and sends the file again, later
    write_report(inbox / "p_bieu04_sua.xlsx", "04", B0304, province=p, days_before=1)
    assert ccn("run", "--inbox", str(inbox)) == 0
    subs = view("mart_submissions").set_index("file_name")
    assert subs.loc["p_bieu04_sua.xlsx", "status"] == "accepted"
    assert subs.loc["p_bieu04.xlsx", "status"] == "superseded"
    values = view("mart_indicator_values")
    mine = values[values.province_code == p]
    assert set(mine.submission_id) == {int(subs.loc["p_bieu04_sua.xlsx", "submission_id"])}
    assert float(mine[mine.indicator_code == "15"].value.iloc[0]) == 6
    after = _summary()
    assert after["20"] == (30 + B0304["20"], 2)
    assert after["15"] == (other["15"] + 6, 2)
    assert after["19"][0] == pytest.approx(100 * (2 * 117) / (2 * 180))
    # both files stay in the archive and in mart_submissions with their history
    assert len(subs.loc[["p_bieu04.xlsx", "p_bieu04_sua.xlsx"]]) == 2
