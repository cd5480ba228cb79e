"""Workbooks built from the real Lào Cai figures (schemas/reference/clusters/, the DoIT report of 2026-06-18 and
Decision 1382/QĐ-UBND): the raw strings as published are parsed here ("16 ha (11,99)", "23,29% (4 dự án)"),
typed into the register and into Biểu 02/04 the way an office would, and read back exactly; the strings that are
not numbers (">95%", "đã lấp đầy") must come back as errors naming their cell."""

from __future__ import annotations

import csv
import re
from datetime import date
from pathlib import Path

import pytest

from pipelines.read.identify import resolve_units
from pipelines.read.register import read_register
from pipelines.read.workbook import read_workbook
from pipelines.steward.templates import FormContent, Identification, Typing, write_form, write_register_template
from schemas.admin import admin
from schemas.forms import load_register
from schemas.periods import Period

REF = Path(__file__).resolve().parent.parent / "schemas" / "reference" / "clusters"
LAO_CAI = "15"


def _vn(x: float) -> str:
    return f"{x:,.2f}".rstrip("0").rstrip(".").replace(",", "X").replace(".", ",").replace("X", ".")


def _number(text: str) -> float:
    return float(text.replace(".", "").replace(",", "."))


def _status_rows() -> list[dict]:
    """The 23 clusters of the DoIT report, each raw string parsed into what the register and Biểu 02 hold."""
    out = []
    with open(REF / "laocai_ccn_status_2026-06-18.csv", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            area = re.match(r"([\d.,]+) ha(?: \(([\d.,]+)\))?", r["area_ha_raw(industrial_land)"])
            occ = r["occupancy_raw"]
            m = re.fullmatch(r"([\d.,]+)% \((\d+) (?:dự án|DN|cơ sở)(?: thứ cấp)?\)", occ)
            decision = re.search(r"(\d+/QĐ-UBND) (\d{1,2})/(\d{1,2})/(\d{4})", r["decisions"])
            plan_only = r["decisions"].startswith("QHCT")
            out.append({
                "name": r["ccn_name"].replace(" (CCN)", ""), "commune": r["location_ward_2025"],
                "area": _number(area.group(1)), "land": _number(area.group(2)) if area.group(2) else None,
                "investor": r["infra_investor"] or r["infra_investor_group"],
                "decision": None if plan_only or not decision else decision.group(1),
                "decided_on": None if plan_only or not decision else
                date(int(decision.group(4)), int(decision.group(3)), int(decision.group(2))),
                "status": "operating_unestablished" if "CHƯA có QĐ thành lập" in r["notes"] else "established",
                "occupancy_raw": occ,
                "occupancy": _number(m.group(1)) if m else 0.0 if occ.startswith("chưa cho thuê") else None,
                "projects": int(m.group(2)) if m else 0 if occ.startswith("chưa cho thuê") else None,
            })
    return out


STATUS = _status_rows()


def test_the_reference_strings_parse_as_expected():
    by = {r["name"]: r for r in STATUS}
    assert len(STATUS) == 23
    assert (by["Đầm Hồng"]["area"], by["Đầm Hồng"]["land"]) == (16.0, 11.99)
    assert (by["Báo Đáp"]["occupancy"], by["Báo Đáp"]["projects"]) == (23.29, 4)
    assert (by["Thịnh Hưng"]["area"], by["Thịnh Hưng"]["land"]) == (53.05, 37.14)
    assert by["Âu Lâu"]["occupancy"] is None  # ">95% (13 dự án)" is not a figure
    assert by["Sơn Mãn"]["occupancy"] is None  # "đã lấp đầy (43 cơ sở)"
    assert by["Đông An"]["status"] == "operating_unestablished" and by["Đông An"]["decision"] is None
    assert by["Thống Nhất 1"]["decided_on"] == date(2025, 2, 20)


def test_laocai_register_filled_in_the_template_reads_back(tmp_path):
    from openpyxl import load_workbook

    path = tmp_path / "danh_sach_ccn_lao_cai.xlsx"
    layout = write_register_template(path)
    wb = load_workbook(path)
    ws = wb["Danh sách CCN"]
    ws[layout["province"]] = "15 - Tỉnh Lào Cai"
    cols = {c.key: i for i, c in enumerate(load_register().columns, start=2)}
    first = layout["first_row"]
    for i, c in enumerate(STATUS):
        r = first + i
        ws.cell(r, cols["name"], f"CCN {c['name']}" if i % 3 == 0 else c["name"])
        ws.cell(r, cols["commune"], c["commune"])
        ws.cell(r, cols["status"], {"established": "Đã thành lập",
                                    "operating_unestablished": "Đang hoạt động, chưa thành lập"}[c["status"]])
        ws.cell(r, cols["planned_area_ha"], c["area"] if i % 2 else f"{_vn(c['area'])} ha")  # typed as text too
        if c["land"] is not None:
            # "1,845" would be ambiguous (1.845 or 1845): the reader refuses it, so three decimals go in as a number
            as_text = i % 2 and round(c["land"], 2) == c["land"]
            ws.cell(r, cols["industrial_land_ha"], _vn(c["land"]) if as_text else c["land"])
        if c["decision"]:
            ws.cell(r, cols["established_decision"], c["decision"])
            ws.cell(r, cols["established_on"], c["decided_on"] if i % 2 else c["decided_on"].strftime("%d/%m/%Y"))
        ws.cell(r, cols["investor"], c["investor"])
    wb.save(path)

    got = read_register(path)
    assert got.findings == []
    assert (got.province_code, got.sheet) == (LAO_CAI, "Danh sách CCN")
    assert len(got.rows) == 23
    a = admin()
    for row, c in zip(got.rows, STATUS, strict=True):
        assert row.name.removeprefix("CCN ") == c["name"]
        assert row.values["planned_area_ha"] == c["area"]
        assert row.values.get("industrial_land_ha") == c["land"]
        assert row.values.get("established_decision") == c["decision"]
        assert row.values.get("established_on") == c["decided_on"]
        assert row.values["status"] == c["status"]
        names = [a.communes[code].name.lower() for code in row.commune_codes]
        assert names == [p.strip().lower() for p in re.split(r"\+|,", c["commune"])]
    by = {r.name.removeprefix("CCN "): r for r in got.rows}
    assert len(by["Đầm Hồng"].commune_codes) == 2  # "phường Yên Bái + phường Văn Phú": both kept, first is primary


def test_register_errors_name_their_cells(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "CCN"
    ws["A1"] = "DANH SÁCH CỤM CÔNG NGHIỆP TỈNH LÀO CAI"
    ws.append([])
    ws.append(["STT", "Tên CCN", "Địa điểm", "Hiện trạng", "Diện tích (ha)", "Ngày thành lập"])
    ws.append([1, "Âu Lâu", "phường Âu Lâu", "Đã thành lập", "50", "30/10/2009"])
    ws.append([2, "Âu Lâu", "phường Âu Lâu", "Đã thành lập", "50", None])  # listed twice
    ws.append([3, "Hưng Khánh", "xã Không Có", "Đã thành lập", "> 20", "tháng 3/2026"])
    ws.append([4, "Y Can", "xã Quy Mông", "đang xây dựng", "75", None])
    ws.append([5, None, "xã Quy Mông", "Đã thành lập", "75", None])
    path = tmp_path / "ccn.xlsx"
    wb.save(path)
    got = read_register(path)
    assert got.province_code == LAO_CAI  # from the title line
    found = {(f.rule_id, f.cell) for f in got.findings}
    assert found == {("register.duplicate", "B5"), ("register.commune_unresolved", "C6"),
                     ("value.not_a_number", "E6"), ("register.date_invalid", "F6"), ("register.choice_unknown", "D7"),
                     ("register.name_missing", "B8")}
    assert [r.name for r in got.rows] == ["Âu Lâu", "Hưng Khánh", "Y Can"]
    assert got.rows[0].values["established_on"] == date(2009, 10, 30) and got.rows[0].values["planned_area_ha"] == 50.0


@pytest.mark.parametrize("typing", [Typing(), Typing(percent_style="text", code_style="number", row_offset=3),
                                    Typing(identification=False, label_style="nfd", title_style="code")])
def test_laocai_bieu02_occupancy_as_published(tmp_path, typing):
    """Row 5 (occupancy) and 6 (projects) of every cluster's Biểu 02, typed from the report's raw strings."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    expected_cells = {}
    a = admin()
    for i, c in enumerate(STATUS):
        ws = wb.create_sheet(f"{i + 1:02d} {c['name']}"[:31])
        commune = a.find_commune(re.split(r"\+|,", c["commune"])[0], LAO_CAI)[0]
        occ = c["occupancy_raw"].split(" (")[0] if c["occupancy"] is None else \
            (f"{_vn(c['occupancy'])}%" if typing.percent_style == "text" else c["occupancy"])
        values = {"5": occ, "6": c["projects"]}
        ident = Identification(province="Tỉnh Lào Cai", commune=commune.name, cluster=f"Cụm công nghiệp {c['name']}",
                               sender=c["investor"], period=Period(2026, "H1"))
        expected_cells[ws.title] = write_form(ws, FormContent("02", ident, values), typing)
    path = tmp_path / "lao_cai_bieu02_2026_H1.xlsx"
    wb.save(path)

    reading = read_workbook(path)
    assert len(reading.reports) == 23
    for report, c in zip(reading.reports, STATUS, strict=True):
        assert report.form == "02"
        errors = [(f.rule_id, f.cell) for f in report.findings if f.is_error]
        if c["occupancy"] is None:  # ">95%", "đã lấp đầy": refused at the cell, never guessed
            assert errors == [("value.not_a_number", expected_cells[report.sheet]["5"])]
            assert "5" not in report.values
        else:
            assert errors == []
            assert report.values["5"].value == c["occupancy"]
        if c["projects"] is not None:
            assert report.values["6"].value == c["projects"]
        who = resolve_units(report, path.name, ["inbox", "15_lao-cai"])
        assert who.province_code == LAO_CAI and who.period == Period(2026, "H1")
        if typing.identification:
            assert who.cluster_name == f"Cụm công nghiệp {c['name']}" and not who.findings


def test_laocai_bieu04_with_the_reported_province_figures(tmp_path):
    """Biểu 04 of Lào Cai for 2026-H1 from the figures in ccn_provincial_stats_from_press.csv, typed with
    Vietnamese separators exactly as published ("3.052,81", "29,0")."""
    from openpyxl import Workbook

    with open(REF / "ccn_provincial_stats_from_press.csv", encoding="utf-8") as fh:
        (row,) = [r for r in csv.DictReader(fh) if r["province"].startswith("Lào Cai")]
    other = row["other_figures"]
    typed = {
        "1": row["ccn_planned_count_raw"], "2": row["ccn_planned_area_ha_raw"],
        "3": row["ccn_established_count_raw"].split(" ")[0],
        "9": re.search(r"\((\d+) đã phê duyệt QHCT", row["ccn_established_count_raw"]).group(1),
        "10": re.search(r"QHCT, ([\d.,]+) ha", row["ccn_established_count_raw"]).group(1),
        "17": re.search(r"đất CN ([\d.,]+) ha", other).group(1) + " ha",
        "18": re.search(r"đã cho thuê ([\d.,]+) ha", other).group(1),
        "19": row["avg_occupancy_pct_raw"] + "%",
        "20": re.search(r"(\d+) dự án", other).group(1), "22": re.search(r"\((\d+) hoạt động", other).group(1),
    }
    wb = Workbook()
    ws = wb.active
    ws.title = "Biểu 04 Lào Cai"
    write_form(ws, FormContent("04", Identification(province="Lào Cai", sender="Sở Công Thương tỉnh Lào Cai",
                                                    period=Period(2026, "H1")), typed), Typing())
    path = tmp_path / "bieu04_lao_cai.xlsx"
    wb.save(path)
    (report,) = read_workbook(path).reports
    assert {c: v.value for c, v in report.values.items()} == {
        "1": 56.0, "2": 3052.81, "3": 13.0, "9": 23.0, "10": 903.78, "17": 650.32, "18": 188.75, "19": 29.0,
        "20": 234.0, "22": 199.0}
    assert not [f for f in report.findings if f.is_error]
    assert {f.indicator_code for f in report.findings if f.rule_id == "value.blank"} == \
        {r.code for r in report.spec.rows} - set(typed)
    who = resolve_units(report, path.name)
    assert (who.province_code, who.period, who.findings) == (LAO_CAI, Period(2026, "H1"), [])
