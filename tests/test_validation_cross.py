"""Cross-level and cross-period rules, evaluated in the warehouse (validations/cross_rules.py), on SQLite and
PostgreSQL.  The reports are workbooks written with openpyxl; each rule meets data that breaks it and data
that does not."""

from __future__ import annotations

import os

import pytest
from openpyxl import load_workbook
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string

from schemas.admin import admin
from schemas.periods import Period
from tests.helpers import rows, view
from tests.test_validation import B01, B02, B0304, communes_of, findings_by_file, run_stages, statuses, write_report
from validations.catalogue import fmt

pytestmark = pytest.mark.slow  # stages over several reports per backend: 16 s for the module

# rules these tests cover (test_rules checks that every cross rule of the catalogue is here)
COVERED = {"cross.b04_vs_b03", "cross.b03_vs_b02", "cross.b03_vs_b01", "cross.b02_projects_reported",
           "period.cumulative_fell", "period.annual_below_h1"}


def _province_total(*parts: dict) -> dict:
    """Biểu 04 as the sum of Biểu 03 (ratio row 19 recomputed from its parts)."""
    out = {k: sum(p[k] for p in parts) for k in parts[0] if k != "19"}
    out["19"] = round(100 * out["18"] / out["17"], 2)
    return out


A = dict(B0304)
B = {**B0304, "1": 4, "2": 150.0, "3": 3, "4": 120.0, "5": 0, "6": 0.0, "20": 30, "21": 2, "22": 25, "23": 400.0,
     "24": 20.0, "25": 2500, "17": 90.0, "18": 45.0, "19": 50.0, "15": 3, "15.1": 2, "15.2": 1, "15.3": 0,
     "15.4": 1, "16": 100.0, "16.1": 70.0, "16.2": 30.0, "16.3": 0.0, "16.4": 20.0, "26": 1, "27": 1}


@pytest.fixture(scope="module")
def cross_batch(module_home):
    inbox = module_home / "inbox"
    p1, p2, p3, p4, p5 = sorted(admin().provinces)[:5]
    cells = {}
    # province 1: Biểu 04 equals its communes' Biểu 03
    c = communes_of(p1)
    write_report(inbox / "p1_b03_a.xlsx", "03", A, province=p1, commune=c[0])
    write_report(inbox / "p1_b03_b.xlsx", "03", B, province=p1, commune=c[1])
    write_report(inbox / "p1_b04.xlsx", "04", _province_total(A, B), province=p1)
    # province 2: Biểu 04 says 5 more projects than its communes
    c = communes_of(p2)
    write_report(inbox / "p2_b03_a.xlsx", "03", A, province=p2, commune=c[0])
    write_report(inbox / "p2_b03_b.xlsx", "03", B, province=p2, commune=c[1])
    cells["p2_b04"] = write_report(inbox / "p2_b04.xlsx", "04", {**_province_total(A, B), "20": 115},
                                   province=p2)
    # province 3: one commune's Biểu 03 is rejected, so the province cannot be compared
    c = communes_of(p3)
    write_report(inbox / "p3_b03_a.xlsx", "03", A, province=p3, commune=c[0])
    write_report(inbox / "p3_b03_b.xlsx", "03", {**B, "20": "khoảng 30"}, province=p3, commune=c[1])
    write_report(inbox / "p3_b04.xlsx", "04", _province_total(A, B), province=p3)
    # province 5: one commune's Biểu 03 breaks a within-form rule (an error found by GX in the same batch, not
    # stored before the cross rules run): the province is not compared either
    c = communes_of(p5)
    write_report(inbox / "p5_b03_a.xlsx", "03", A, province=p5, commune=c[0])
    write_report(inbox / "p5_b03_b.xlsx", "03", {**B, "15": 4}, province=p5, commune=c[1])
    write_report(inbox / "p5_b04.xlsx", "04", _province_total(A, B), province=p5)
    # province 4: communes against their clusters (Biểu 02) and projects (Biểu 01)
    c = communes_of(p4)
    k1 = {**B02, "4": 20.0, "6": 2, "7": 0, "8": 2, "13": 1, "14": 1}
    k2 = {**B02, "4": 15.0, "6": 1, "7": 1, "8": 1, "13": 0, "14": 0}
    k3 = {**B02, "4": 10.0, "6": 1, "7": 0, "8": 1, "13": 0, "14": 0}
    k4 = {**B02, "6": 3, "7": 0, "8": 3}
    clusters = [("Cụm công nghiệp Đồng Tâm", c[0], k1, 2), ("Cụm công nghiệp Bắc Sơn", c[0], k2, 1),
                ("Cụm công nghiệp Nam Hà", c[1], k3, 1), ("Cụm công nghiệp Tây Tiến", c[2], k4, 2)]
    projects = {}
    n = 0
    for name, commune, values, n_projects in clusters:
        tag = name.split()[-1]
        cells[f"b02_{tag}"] = write_report(inbox / f"p4_b02_{tag}.xlsx", "02", values, province=p4,
                                           commune=commune, cluster=name, tax_code=f"04{n:08d}")
        for j in range(n_projects):
            n += 1
            v = {"1": 10.0 * n, "2": 0.5 * n, "3": 40 * n, "4": 8.0}
            projects.setdefault(commune.code, []).append(v)
            write_report(inbox / f"p4_b01_{tag}_{j}.xlsx", "01", v, province=p4, commune=commune, cluster=name,
                         project=f"Nhà máy {tag} {j}", tax_code=f"01{n:08d}")

    def commune_report(code, k_list):
        p = projects[code]
        leased = sum(k["4"] for k in k_list)
        return {**B0304, "13": sum(k["1"] for k in k_list), "14": sum(k["2"] for k in k_list),
                "18": leased, "19": round(100 * leased / B0304["17"], 2), "20": sum(k["6"] for k in k_list),
                "21": sum(k["7"] for k in k_list),
                "22": sum(k["8"] for k in k_list), "26": sum(k["13"] for k in k_list),
                "27": sum(k["14"] for k in k_list), "23": sum(x["1"] for x in p), "24": sum(x["2"] for x in p),
                "25": sum(x["3"] for x in p)}

    good = commune_report(c[0].code, [k1, k2])
    write_report(inbox / "p4_b03_agrees.xlsx", "03", good, province=p4, commune=c[0])
    bad = commune_report(c[1].code, [k3])
    bad = {**bad, "14": bad["14"] + 50, "20": bad["20"] + 1, "22": bad["22"] + 1, "25": bad["25"] + 100}
    cells["p4_b03_differs"] = write_report(inbox / "p4_b03_differs.xlsx", "03", bad, province=p4, commune=c[1])
    run_stages(inbox)
    return findings_by_file(), statuses(), cells, {"bad": bad, "good": good}


def _rules(found, name):
    return {g.rule_id for g in found.get(name, [])}


def test_province_against_its_communes(cross_batch):
    found, status, cells, _ = cross_batch
    assert not found.get("p1_b04.xlsx") and status["p1_b04.xlsx"] == "accepted"
    got = [g for g in found["p2_b04.xlsx"] if g.rule_id == "cross.b04_vs_b03"]
    assert len(got) == 1, [g.message for g in found["p2_b04.xlsx"]]
    g = got[0]
    assert g.indicator_code == "20" and g.cell == cells["p2_b04"]["20"] and g.severity == "warning"
    assert "Biểu 04 ghi 115" in g.message and "tổng Biểu 03 của 2 xã là 110" in g.message
    assert "Biểu 04 reads 115" in g.message and "add up to 110" in g.message
    assert status["p2_b04.xlsx"] == "accepted_with_warnings"  # a warning: the lower level may be incomplete
    # a commune's report was rejected: the province is not compared (that report has its own finding)
    assert status["p3_b03_b.xlsx"] == "rejected"
    assert "cross.b04_vs_b03" not in _rules(found, "p3_b04.xlsx") and status["p3_b04.xlsx"] == "accepted"
    assert "b0304.operating_count_sum" in _rules(found, "p5_b03_b.xlsx") and status["p5_b03_b.xlsx"] == "rejected"
    assert "cross.b04_vs_b03" not in _rules(found, "p5_b04.xlsx") and status["p5_b04.xlsx"] == "accepted"


def test_commune_against_its_clusters_and_projects(cross_batch):
    found, status, cells, values = cross_batch
    assert not found.get("p4_b03_agrees.xlsx"), [g.message for g in found.get("p4_b03_agrees.xlsx", [])]
    got = {(g.rule_id, g.indicator_code): g for g in found["p4_b03_differs.xlsx"]}
    assert set(got) == {("cross.b03_vs_b02", "14"), ("cross.b03_vs_b02", "20"), ("cross.b03_vs_b02", "22"),
                        ("cross.b03_vs_b01", "25")}
    bad = values["bad"]
    # capital paid (03 row 14) is the sum of the clusters' Biểu 02 row 2 (the roll-up of indicators.csv)
    g = got[("cross.b03_vs_b02", "14")]
    assert f"Biểu 03 ghi {fmt(bad['14'])}" in g.message
    assert f"dòng 2 Biểu 02 của 1 cụm là {fmt(bad['14'] - 50)}" in g.message
    g = got[("cross.b03_vs_b02", "20")]
    assert f"Biểu 03 ghi {bad['20']}" in g.message and f"Biểu 02 của 1 cụm là {bad['20'] - 1}" in g.message
    assert g.cell == cells["p4_b03_differs"]["20"]
    g = got[("cross.b03_vs_b01", "25")]
    assert f"ghi {bad['25']}" in g.message and f"là {bad['25'] - 100}" in g.message
    assert status["p4_b03_differs.xlsx"] == "accepted_with_warnings"


def test_projects_received_against_projects_counted(cross_batch):
    found, _, cells, _ = cross_batch
    for tag in ("Tâm", "Sơn", "Hà"):
        assert "cross.b02_projects_reported" not in _rules(found, f"p4_b02_{tag}.xlsx")
    got = [g for g in found["p4_b02_Tiến.xlsx"] if g.rule_id == "cross.b02_projects_reported"]
    assert len(got) == 1 and got[0].cell == cells["b02_Tiến"]["6"]
    assert "Cụm khai 3 dự án" in got[0].message and "đã nhận 2 Biểu 01" in got[0].message


def test_across_periods(home):
    """Cumulative rows do not fall from one period to the next unless a remark is typed in column (5) Ghi chú
    (stored with the value); an annual flow is not below its H1."""
    inbox = home / "inbox"
    p5, p6, p7, p8 = sorted(admin().provinces)[4:8]
    c = communes_of(p5)[0]
    y25, h26, y26 = Period.parse("2025-Y"), Period.parse("2026-H1"), Period.parse("2026-Y")
    for p in (p5, p6, p7, p8):
        write_report(inbox / "a" / f"{p}_2025Y.xlsx", "04", B0304, province=p, period=y25)
    for i in (1, 2):
        write_report(inbox / "a" / f"b01_h1_{i}.xlsx", "01", B01, province=p5, commune=c,
                     cluster="Cụm công nghiệp Kỳ Trước", project=f"Nhà máy {i}", tax_code=f"05{i:08d}", period=h26)
    run_stages(inbox / "a")
    cells = write_report(inbox / "b" / "p5_2026H1.xlsx", "04", {**B0304, "3": 7, "14": 950.0}, province=p5,
                         period=h26)
    why = "Thu hồi quyết định thành lập 01 cụm (QĐ 55/QĐ-UBND)"
    remark = write_report(inbox / "b" / "p6_2026H1.xlsx", "04", {**B0304, "3": 7}, province=p6, period=h26)
    _edit(inbox / "b" / "p6_2026H1.xlsx", remark["3"], remark=why)
    # an office's own column between (4) Kết quả and (5) Ghi chú: the remark is the Ghi chú column's, wherever
    # it stands, and the column next to the value is no remark (a number there, or a text that is not in Ghi chú)
    moved = write_report(inbox / "b" / "p7_2026H1.xlsx", "04", {**B0304, "3": 7}, province=p7, period=h26)
    _edit(inbox / "b" / "p7_2026H1.xlsx", moved["3"], remark=why, inserted=("So với kỳ trước (%)", 87.5))
    beside = write_report(inbox / "b" / "p8_2026H1.xlsx", "04", {**B0304, "3": 7}, province=p8, period=h26)
    _edit(inbox / "b" / "p8_2026H1.xlsx", beside["3"], inserted=("Nguồn số liệu", "Sở Công Thương"))
    cells01 = write_report(inbox / "b" / "b01_y_1.xlsx", "01", {**B01, "1": 40.0}, province=p5, commune=c,
                           cluster="Cụm công nghiệp Kỳ Trước", project="Nhà máy 1", tax_code="0500000001",
                           period=y26)
    write_report(inbox / "b" / "b01_y_2.xlsx", "01", {**B01, "1": 60.0}, province=p5, commune=c,
                 cluster="Cụm công nghiệp Kỳ Trước", project="Nhà máy 2", tax_code="0500000002", period=y26)
    run_stages(inbox / "b")
    found = findings_by_file()
    fell = [g for g in found["p5_2026H1.xlsx"] if g.rule_id == "period.cumulative_fell"]
    assert [(g.indicator_code, g.cell) for g in fell] == [("3", cells["3"])]
    assert "từ 8 (2025-Y) xuống 7" in fell[0].message and "fell from 8 (2025-Y) to 7" in fell[0].message
    assert not found.get("p6_2026H1.xlsx")  # the same fall with a remark in column (5) is no finding
    assert not found.get("p7_2026H1.xlsx")
    assert [(g.rule_id, g.cell) for g in found["p8_2026H1.xlsx"]] == [("period.cumulative_fell", beside["3"])]
    below = [g for g in found["b01_y_1.xlsx"] if g.rule_id == "period.annual_below_h1"]
    assert [(g.indicator_code, g.cell) for g in below] == [("1", cells01["1"])]
    assert "40" in below[0].message and "50" in below[0].message
    assert not found.get("b01_y_2.xlsx")
    # the remark is stored with its value (NULL where column (5) is empty) and shown to BI
    notes = rows("SELECT s.unit_key, s.period, v.indicator_code, v.note FROM indicator_value v "
                 "JOIN submission s ON s.submission_id = v.submission_id WHERE v.note IS NOT NULL")
    assert sorted(tuple(r) for r in notes) == [(p6, "2026-H1", "3", why), (p7, "2026-H1", "3", why)]
    bi = view("mart_indicator_values", "WHERE note IS NOT NULL")
    assert sorted(bi[["unit_key", "indicator_code", "note"]].itertuples(index=False, name=None)) == [
        (p6, "3", why), (p7, "3", why)]


def _edit(path, value_cell: str, remark: str | None = None, inserted: tuple[str, object] | None = None) -> None:
    """Type ``remark`` in column (5) Ghi chú on the row of ``value_cell``, after inserting, when ``inserted`` =
    (heading, content), a column of the office's own between (4) Kết quả and (5) Ghi chú with ``content`` on that
    row.  The file keeps its time."""
    mtime = os.path.getmtime(path)
    wb = load_workbook(path)
    ws = wb.active
    col, row = coordinate_from_string(value_cell)
    right = column_index_from_string(col) + 1
    if inserted:
        heading = next(r for r in range(1, row) if ws.cell(r, right).value == "Ghi chú")
        ws.insert_cols(right)
        ws.cell(heading, right).value, ws.cell(row, right).value = inserted
        right += 1
    if remark:
        ws.cell(row, right).value = remark
    wb.save(path)
    os.utime(path, (mtime, mtime))
