"""``ccn export national``: the national report workbook, read back with the project's own reader (the
national and provincial sheets are in the Biểu 04 layout) and compared with the views and the sample's truth;
then printed through LibreOffice as a Ministry official would print it (issue 13): every page A4, the first
sheet a report of the Ministry with the provinces that reported and those that did not, every table's header
on each of its pages and nothing cut, the regional sheet in the form's order, units named, never keyed."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from openpyxl import load_workbook

from pipelines.report.export import MINISTRY, NATIONAL_RECEIVER
from schemas.admin import REGIONS, admin
from schemas.forms import load_forms
from tests.helpers import ccn, view
from tests.test_printing import A4_LANDSCAPE, A4_PORTRAIT, _words

pytestmark = pytest.mark.slow  # the national workbook of a whole sample: 8 s; printing it: 5 s more

HEADER_ROW = 4  # of the table sheets: their title (Vietnamese, English) and a blank row above

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
    for code, value in got.items():  # rounded as the form asks, the same figures as the truth and the view
        assert value == pytest.approx(truth["national_summary"][code]["value"], abs=1e-9), code
        assert value == pytest.approx(national[code], abs=1e-9), code

    for sheet in province_sheets:
        b04 = next(r for f in truth["files"] if f["expected_status"] != "rejected" for r in f["reports"]
                   if r["form"] == "04" and r["province_code"] == sheet[:2])
        values = _read(exported, sheet)
        for code, value in b04["values"].items():
            assert values[code] == pytest.approx(value, abs=0.006), (sheet, code)


def test_completeness_sheets(exported, truth):
    wb = load_workbook(exported, read_only=True)
    rows = list(wb["Tình hình báo cáo"].iter_rows(values_only=True))
    header, body = rows[HEADER_ROW - 1], rows[HEADER_ROW:]
    assert header == ("Biểu / Form", "Mã tỉnh / Code", "Tỉnh, thành phố / Province", "Phải báo cáo / Expected",
                      "Đã nhận / Received", "Đúng hạn / On time", "Trễ hạn / Late", "Chưa báo cáo / Missing")
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

    missing = list(wb["Chưa báo cáo"].iter_rows(values_only=True))[HEADER_ROW:]
    assert len(missing) == int(comp["missing"].sum())
    sample_provinces = {r["province_code"] for f in truth["files"] for r in f["reports"]}
    b04_missing = {r[1] for r in missing if r[0].startswith("Biểu 04")}
    assert len(b04_missing) == 34 - len(sample_provinces) and not (b04_missing & sample_provinces)
    wb.close()
    units = {r.unit_key: r for r in view("mart_missing_reports", f"WHERE period = '{PERIOD}'").itertuples()}
    names = {r.unit_name for r in units.values()}
    for row in missing:  # every missing unit by its name and its province's, never by an internal key alone
        assert row[2] == admin().provinces[row[1]].name, row
        assert row[5] in names or (row[0].startswith("Biểu 04") and row[5] == f"Sở Công Thương {row[2]}"), row
    assert any(r[0].startswith("Biểu 01") for r in missing), "the sample leaves out some Biểu 01"
    for row in (r for r in missing if r[0].startswith("Biểu 01")):  # a project: its cluster and commune too
        assert row[3] and row[4], row
    assert not [c for r in missing for c in r if isinstance(c, str) and re.search(r"/\d{6,}", c)]
    wb.close()


def test_regional_sheet_in_form_order_and_rounded(exported):
    """Each region's rows in Biểu 04's order (1, 2, … 9, 10 … 15, 15.1 …, not 1, 10, 11), its numbers rounded
    as the form's unit asks (3 decimals for tỷ đồng, 2 for ha and %, whole numbers for counts), formatted so."""
    spec = load_forms()["04"]
    order = [r.code for r in spec.rows]
    wb = load_workbook(exported)
    ws = wb["Vùng"]
    assert all("/" in c.value for c in ws[HEADER_ROW])  # Vietnamese with its English gloss
    blocks: list[tuple[str, list]] = []
    for row in ws.iter_rows(min_row=HEADER_ROW + 1):
        if row[1].value is None:  # a region's heading row, across the table
            blocks.append((row[0].value, []))
        else:
            blocks[-1][1].append(row)
    regions = view("mart_region_summary", f"WHERE period = '{PERIOD}'")
    assert [b[0].split(" (")[0] for b in blocks] == [g for g in REGIONS if g in set(regions["region"])]
    for heading, rows in blocks:
        assert [r[0].value for r in rows] == order, heading
        truth = {r.indicator_code: r for r in regions[regions["region"] == heading.split(" (")[0]].itertuples()}
        for r in rows:
            unit = spec.row(r[0].value)
            for cell, column in ((r[3], "reported_value"), (r[4], "computed_value")):
                expected = getattr(truth[r[0].value], column)
                if expected is None or expected != expected:
                    assert cell.value is None
                    continue
                decimals = {"billion_vnd": 3, "ha": 2, "percent": 2}.get(unit.unit, 0)
                assert cell.value == round(expected, decimals), (heading, r[0])
                assert cell.number_format == "#,##0" + ("." + "0" * decimals if decimals else ""), (heading, r[0])
    for sheet in ("Vùng", "Tình hình báo cáo", "Chưa báo cáo"):  # set to print: A4, the header on each page
        ws = wb[sheet]
        assert int(ws.page_setup.paperSize) == int(ws.PAPERSIZE_A4) and ws.sheet_properties.pageSetUpPr.fitToPage
        assert ws.print_title_rows.replace("$", "") == f"{HEADER_ROW}:{HEADER_ROW}"
        assert ws.row_dimensions[HEADER_ROW].height >= 2 * 15  # the wrapped header is shown whole
    wb.close()


# --- printing ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def printed(exported) -> list[str]:
    """The export rendered by LibreOffice: the text of each page (every one asserted A4)."""
    soffice = shutil.which("soffice")
    assert soffice, "LibreOffice (soffice) and poppler-utils are needed: .ci/run installs them"
    out = exported.parent
    subprocess.run([soffice, f"-env:UserInstallation=file://{out / 'profile'}", "--headless", "--convert-to", "pdf",
                    "--outdir", str(out), str(exported)], capture_output=True, timeout=300, check=True)
    pdf = out / exported.with_suffix(".pdf").name
    info = subprocess.run(["pdfinfo", "-f", "1", "-l", "1000", str(pdf)], capture_output=True, text=True,
                          check=True).stdout
    sizes = [(round(float(w)), round(float(h))) for w, h in re.findall(r"^Page\s+\d+ size:\s+([\d.]+) x ([\d.]+)",
                                                                      info, re.MULTILINE)]
    assert sizes and all(size in (A4_PORTRAIT, A4_LANDSCAPE) for size in sizes), sizes
    return [subprocess.run(["pdftotext", "-f", str(p), "-l", str(p), "-layout", str(pdf), "-"], capture_output=True,
                           text=True, check=True).stdout for p in range(1, len(sizes) + 1)]


def _contains(printed: list[str], words: list[str]) -> bool:
    """``words`` in this order, one after the other, in the printed words (a line may wrap anywhere)."""
    n = len(words)
    return any(printed[i:i + n] == words for i in range(len(printed) - n + 1))


def test_national_sheet_prints_as_the_ministrys_report(printed, truth):
    """Page 1 is the Ministry's report: its title, its receiver, its signature, and the coverage line naming the
    provinces whose Biểu 04 is missing, in Vietnamese and then in English (counts and names from the sample)."""
    first = printed[0]
    words = _words(first)
    reported = {r["province_code"] for f in truth["files"] if f["expected_status"] != "rejected"
                for r in f["reports"] if r["form"] == "04"}
    provinces = admin().provinces
    missing = [provinces[c].name for c in sorted(provinces) if c not in reported]
    assert missing and reported
    assert MINISTRY in first and "toàn quốc" in first and _contains(words, _words(NATIONAL_RECEIVER))
    assert MINISTRY.upper() in first and "SỞ CÔNG THƯƠNG" not in first.upper()  # not a province's signature
    vi = f"{len(reported)} trên {len(provinces)} tỉnh, thành phố đã báo cáo; chưa báo cáo: {', '.join(missing)}"
    en = f"{len(reported)} of {len(provinces)} provinces reported; missing: {', '.join(missing)}"
    assert _contains(words, _words(vi)), vi
    assert _contains(words, _words(en)), en
    assert words.index("missing") > words.index("chưa")  # English on its own line, after the Vietnamese


def _pages_of(printed: list[str], header: tuple[str, ...]) -> list[str]:
    """The pages carrying every word of a table's header (its repeated header row)."""
    wanted = [w for h in header for w in _words(h)]
    return [text for text in printed if all(w in _words(text) for w in wanted)]


def test_tables_print_their_header_on_every_page_and_units_by_name(printed, exported):
    """The whole export: one page for the nation (2 provinces reported), one per province, the region and
    completeness tables with their headers — every word of them — on each page, and no internal key."""
    wb = load_workbook(exported, read_only=True)
    province_sheets = [s for s in wb.sheetnames if s[:2].isdigit()]
    headers = {sheet: tuple(c for c in next(wb[sheet].iter_rows(min_row=HEADER_ROW, max_row=HEADER_ROW,
                                                                  values_only=True)) if c)
               for sheet in ("Vùng", "Tình hình báo cáo", "Chưa báo cáo")}
    rows = {sheet: sum(1 for _ in wb[sheet].iter_rows(min_row=HEADER_ROW + 1)) for sheet in headers}
    wb.close()
    pages = {sheet: _pages_of(printed, header) for sheet, header in headers.items()}
    national = [p for p in printed if MINISTRY.upper() in p and "toàn quốc" in p]
    province_pages = [p for p in printed if p.startswith("Biểu số 04.")]  # a province's own report
    assert len(national) == 1 and len(province_pages) == len(province_sheets)  # one page each
    for sheet, found in pages.items():
        assert found, sheet
        assert len(found) <= -(-rows[sheet] // 20), (sheet, len(found))  # never fewer than 20 rows to a page
    assert len(printed) == 1 + len(province_sheets) + sum(map(len, pages.values())), len(printed)
    for text in pages["Tình hình báo cáo"] + pages["Chưa báo cáo"]:
        assert not re.search(r"/\d{6,}", text)
    print(f"national export: {len(printed)} pages")  # the figure the issue asks for
