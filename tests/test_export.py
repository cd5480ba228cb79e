"""``ccn export national``: the national report workbook, read back with the project's own reader (the
national and provincial sheets are in the Biểu 04 layout) and compared with the views and the sample's truth."""

from __future__ import annotations

import shutil

import pytest
from openpyxl import load_workbook

from tests.helpers import ccn, view

pytestmark = pytest.mark.slow  # the national workbook of a whole sample: 8 s

PERIOD = "2026-H1"


@pytest.fixture(scope="module")
def exported(tmp_path_factory, sample_dir):
    tmp = tmp_path_factory.mktemp("export")
    home = tmp / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CCN_HOME", str(home))
        mp.setenv("CCN_WAREHOUSE_URL", f"sqlite:///{home / 'warehouse.sqlite'}")
        mp.setenv("DAGSTER_HOME", str(home / "dagster"))
        shutil.copytree(sample_dir, home / "inbox")
        assert ccn("run") == 0
        out = tmp / "quoc_gia.xlsx"
        assert ccn("export", "national", "--period", PERIOD, "--out", str(out)) == 0
        yield out


def _read(path, sheet):
    from pipelines.read.workbook import read_workbook

    reading = read_workbook(path)
    report = next(r for r in reading.reports if r.sheet == sheet)
    assert report.form == "04"
    return {code: v.value for code, v in report.values.items()}


def test_national_workbook_layout_and_values(exported, truth):
    wb = load_workbook(exported, read_only=True)
    provinces = sorted({r["province_code"] for f in truth["files"] for r in f["reports"] if r["form"] == "04"})
    province_sheets = [s for s in wb.sheetnames if s[:2].isdigit()]
    assert wb.sheetnames[:2] == ["Toàn quốc", "Vùng"]
    assert wb.sheetnames[-2:] == ["Tình hình báo cáo", "Chưa báo cáo"]
    assert [s[:2] for s in province_sheets] == provinces
    wb.close()

    national = {r.indicator_code: r.value for r in view("mart_national_summary", f"WHERE period = '{PERIOD}'")
                .itertuples()}
    got = _read(exported, "Toàn quốc")
    assert got.keys() == national.keys() == truth["national_summary"].keys()
    for code, value in got.items():
        assert value == pytest.approx(truth["national_summary"][code]["value"], abs=0.006), code
        assert value == pytest.approx(national[code], abs=0.006), code

    for sheet in province_sheets:
        b04 = next(r for f in truth["files"] if f["expected_status"] != "rejected" for r in f["reports"]
                   if r["form"] == "04" and r["province_code"] == sheet[:2])
        values = _read(exported, sheet)
        for code, value in b04["values"].items():
            assert values[code] == pytest.approx(value, abs=0.006), (sheet, code)


def test_completeness_sheets(exported, truth):
    wb = load_workbook(exported, read_only=True)
    rows = list(wb["Tình hình báo cáo"].iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert header == ("Biểu", "Mã tỉnh", "Tỉnh, thành phố", "Phải báo cáo", "Đã nhận", "Đúng hạn", "Trễ hạn",
                      "Chưa báo cáo")
    comp = view("mart_reporting_completeness", f"WHERE period = '{PERIOD}'")
    per_province = [r for r in body if r[1]]
    assert len(per_province) == len(comp)
    national = {r[0][:7]: r[3:] for r in body if r[2] == "Cả nước"}
    for form, part in comp.groupby("form"):
        assert national[f"Biểu {form}"] == tuple(int(part[c].sum()) for c in
                                                 ("expected", "received", "on_time", "late", "missing"))
    assert national["Biểu 04"][0] == 34
    for r in per_province:
        assert r[3] == r[4] + r[7] and r[4] == r[5] + r[6]  # expected = received + missing; received = on time + late

    missing = list(wb["Chưa báo cáo"].iter_rows(values_only=True))[1:]
    assert len(missing) == int(comp["missing"].sum())
    sample_provinces = {r["province_code"] for f in truth["files"] for r in f["reports"]}
    b04_missing = {r[1] for r in missing if r[0].startswith("Biểu 04")}
    assert len(b04_missing) == 34 - len(sample_provinces) and not (b04_missing & sample_provinces)
    wb.close()
