"""`ccn register`: a province's cluster register workbook, filled in the template, becomes the warehouse's
register — a cluster that already reported under another spelling keeps its ID and is verified, new clusters are
added, planned ones are not expected — and who should send Biểu 02 follows it at once; a register with an error
loads nothing; loading it twice changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import text

from pipelines.steward.templates import write_register_template
from schemas.forms import load_register
from tests.helpers import ccn, engine, view
from tests.test_validation import B02, PERIOD, communes_of, write_report

PROVINCE = "15"
STATUS = {"established": "Đã thành lập", "planned": "Trong phương án"}


def write_register(path: Path, rows: list[tuple[str, str, str]]) -> None:
    """(name, commune name, status) per cluster, typed into the register template."""
    layout = write_register_template(path, province_code=PROVINCE)
    wb = load_workbook(path)
    ws = wb["Danh sách CCN"]  # the province line is filled by the template (``ccn template register --province``)
    cols = {c.key: i for i, c in enumerate(load_register().columns, start=2)}
    for i, (name, commune, status) in enumerate(rows):
        r = layout["first_row"] + i
        ws.cell(r, cols["name"], name)
        ws.cell(r, cols["commune"], commune)
        ws.cell(r, cols["status"], STATUS[status])
        ws.cell(r, cols["planned_area_ha"], 50.0 + i)
    wb.save(path)


def test_register_template_fills_the_province_asked_for(tmp_path):
    """``--province 15`` writes the province line as its drop-down shows it; without it the line is left to fill."""
    layout = write_register_template(tmp_path / "r15.xlsx", province_code=PROVINCE)
    assert load_workbook(tmp_path / "r15.xlsx")["Danh sách CCN"][layout["province"]].value == "15 - Tỉnh Lào Cai"
    layout = write_register_template(tmp_path / "any.xlsx")
    assert load_workbook(tmp_path / "any.xlsx")["Danh sách CCN"][layout["province"]].value is None


def clusters() -> dict[str, tuple]:
    eng = engine()
    with eng.connect() as conn:
        rows = conn.execute(text("SELECT cluster_id, name, commune_code, status, verified, source FROM cluster "
                                 "WHERE province_code = :p"), {"p": PROVINCE}).all()
    eng.dispose()
    return {r.cluster_id: (r.name, r.commune_code, r.status, bool(r.verified), r.source) for r in rows}


@pytest.mark.slow
def test_register_loads_and_completeness_follows(home, tmp_path, capsys):
    c = communes_of(PROVINCE)
    write_report(home / "inbox" / "b02_dong_tam.xlsx", "02", B02, province=PROVINCE, commune=c[0],
                 cluster="Cụm công nghiệp Đồng Tâm", tax_code="0200000001")
    assert ccn("run") == 0
    [(learnt, row)] = clusters().items()
    assert row == ("Cụm công nghiệp Đồng Tâm", c[0].code, None, False, "report")

    register = tmp_path / "danh_sach_ccn.xlsx"
    write_register(register, [("CCN Đồng Tâm", c[0].name, "established"),  # the same cluster, spelt otherwise
                              ("Cụm công nghiệp Bắc Sơn", c[1].name, "established"),
                              ("Cụm công nghiệp Nam Hà", c[2].name, "planned")])
    capsys.readouterr()
    assert ccn("register", str(register)) == 0
    assert "2 clusters added, 1 learnt from reports now verified" in capsys.readouterr().out
    got = clusters()
    assert got[learnt] == ("CCN Đồng Tâm", c[0].code, "established", True, "register")
    assert len(got) == 3
    by_name = {v[0]: (k, v) for k, v in got.items()}
    assert by_name["Cụm công nghiệp Bắc Sơn"][1] == ("Cụm công nghiệp Bắc Sơn", c[1].code, "established", True,
                                                     "register")
    assert by_name["Cụm công nghiệp Nam Hà"][1][2] == "planned"

    # Biểu 02 is now expected from the two clusters that are not only planned: one reported, one is missing
    comp = view("mart_reporting_completeness", f"WHERE period = '{PERIOD.code}' AND form = '02'")
    assert comp[["province_code", "expected", "received", "missing"]].values.tolist() == [[PROVINCE, 2, 1, 1]]
    missing = view("mart_missing_reports", f"WHERE period = '{PERIOD.code}' AND form = '02'")
    assert missing.unit_key.tolist() == [by_name["Cụm công nghiệp Bắc Sơn"][0]]

    # a report spelt the register's way lands on the same cluster
    write_report(home / "inbox" / "b02_bac_son.xlsx", "02", B02, province=PROVINCE, commune=c[1],
                 cluster="CCN Bắc Sơn", tax_code="0200000002")
    assert ccn("run") == 0
    assert len(clusters()) == 3
    comp = view("mart_reporting_completeness", f"WHERE period = '{PERIOD.code}' AND form = '02'")
    assert comp[["expected", "received", "missing"]].values.tolist() == [[2, 2, 0]]

    # the same register again changes nothing
    before = clusters()
    assert ccn("register", str(register)) == 0
    assert "0 clusters added, 0 learnt from reports now verified" in capsys.readouterr().out
    assert clusters() == before


def test_register_with_an_error_loads_nothing(home, tmp_path, capsys):
    register = tmp_path / "sai.xlsx"
    c = communes_of(PROVINCE)
    write_register(register, [("Cụm công nghiệp Bắc Sơn", c[1].name, "established"),
                              ("Cụm công nghiệp Không Có", "Xã Không Tồn Tại", "established")])
    assert ccn("register", str(register), str(tmp_path / "khong_co.xlsx")) == 1
    out = capsys.readouterr()
    assert "nothing loaded" in out.out and "register.commune_unresolved" in out.out and "Danh sách CCN!C8" in out.out
    assert "no such file" in out.err
    assert clusters() == {}


@pytest.mark.slow
def test_a_register_dropped_in_the_inbox_says_how_to_load_it(home, tmp_path):
    c = communes_of(PROVINCE)
    (home / "inbox").mkdir()
    write_register(home / "inbox" / "danh_sach_ccn.xlsx", [("Cụm công nghiệp Bắc Sơn", c[1].name, "established")])
    assert ccn("run") == 0
    issues = view("mart_validation_issues")
    assert issues.rule_id.tolist() == ["structure.form_not_found"]
    assert "cluster register: `ccn register`" in issues.message[0]
    assert clusters() == {}
