"""Within-form rules (validations/rules.toml, run by Great Expectations once per form per batch).

Every expression rule gets a workbook whose values break it and one whose values do not (at the boundary or
within the tolerance); all are written with openpyxl, dropped into one inbox, read, validated in one batch and
published.  The findings must name the rule, the sheet and the cell the value was typed in.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from schemas.periods import Period

PERIOD = Period.parse("2026-H1")

B01 = {"1": 50.0, "2": 2.5, "3": 120, "4": 8.5}
B02 = {"1": 300.0, "2": 150.0, "3": 30.0, "4": 20.0, "5": 50.0, "6": 10, "7": 2, "8": 8, "9": 12.0, "10": 0.8,
       "11": 20, "12": 9.0, "13": 1, "14": 1}
B0304 = {"1": 10, "2": 400.0, "3": 8, "4": 330.0, "5": 1, "6": 40.0, "7": 5, "8": 200.0, "9": 7, "10": 300.0,
         "11": 6, "12": 250.0, "13": 2000.0, "14": 900.0, "15": 6, "15.1": 5, "15.2": 1, "15.3": 1, "15.4": 1,
         "16": 260.0, "16.1": 220.0, "16.2": 40.0, "16.3": 30.0, "16.4": 45.0, "17": 180.0, "18": 117.0,
         "19": 65.0, "20": 80, "21": 8, "22": 70, "23": 1500.0, "24": 60.0, "25": 9000, "26": 3, "27": 2}
BASE = {"01": B01, "02": B02, "03": B0304, "04": B0304}

# rule id -> (forms, values that break it, values that do not: the boundary or within the tolerance)
CASES: dict[str, tuple[tuple[str, ...], dict, dict]] = {
    "form.non_negative": (("01", "02", "03", "04"), {"2": -0.5}, {"2": 0}),
    "b02.occupancy_range": (("02",), {"5": 100.5}, {"5": 100}),
    "b02.leased_le_ready": (("02",), {"4": 30.5}, {"4": 30.004}),
    "b02.foreign_le_projects": (("02",), {"7": 11}, {"7": 10}),
    "b02.operating_le_projects": (("02",), {"8": 11}, {"8": 10}),
    "b02.wwtp_compliant_le_built": (("02",), {"13": 0, "14": 1}, {"13": 1, "14": 0}),
    "b0304.occupancy_range": (("03", "04"), {"19": 100.4, "18": 180.7, "17": 180.0},
                              {"19": 100, "18": 180.0, "17": 180.0}),
    "b0304.operating_count_sum": (("03", "04"), {"15": 7}, {"15": 6}),
    "b0304.operating_area_sum": (("03", "04"), {"16": 260.5}, {"16": 260.015}),
    "b0304.craft_count_le_operating": (("03", "04"), {"15.3": 7}, {"15.3": 6}),
    "b0304.specialised_count_le_operating": (("03", "04"), {"15.4": 7}, {"15.4": 6}),
    "b0304.craft_area_le_operating": (("03", "04"), {"16.3": 261.0}, {"16.3": 260.0}),
    "b0304.specialised_area_le_operating": (("03", "04"), {"16.4": 261.0}, {"16.4": 260.0}),
    "b0304.established_le_planned": (("03", "04"), {"3": 11}, {"3": 10}),
    "b0304.established_area_le_planned": (("03", "04"), {"4": 401.0}, {"4": 400.0}),
    "b0304.established_in_period_le_established": (("03", "04"), {"5": 9}, {"5": 8}),
    "b0304.established_area_in_period_le_established": (("03", "04"), {"6": 331.0}, {"6": 330.0}),
    "b0304.leased_le_industrial_land": (("03", "04"), {"17": 116.0, "19": 100.0}, {"17": 117.0, "19": 100.0}),
    "b0304.foreign_le_projects": (("03", "04"), {"21": 81}, {"21": 80}),
    "b0304.operating_le_projects": (("03", "04"), {"22": 81}, {"22": 80}),
    "b0304.wwtp_compliant_le_built": (("03", "04"), {"27": 4}, {"27": 3}),
    "b0304.occupancy_consistent": (("03", "04"), {"19": 66.0}, {"19": 65.45}),
    "b0304.planned_area_per_cluster": (("03", "04"), {"2": 760.0}, {"2": 750.0}),
    "b0304.planned_area_min_per_cluster": (("03", "04"), {"1": 81}, {"1": 80}),
    "b0304.established_area_per_cluster": (("03", "04"), {"3": 4, "5": 1}, {"3": 5}),
    "b0304.operating_area_per_cluster": (("03", "04"), {"15": 3, "15.1": 2, "15.2": 1},
                                         {"15": 3, "15.1": 2, "15.2": 1, "16": 225.0, "16.1": 185.0}),
}


# ───────────────────────────── helpers shared by the validation tests ─────────────────────────────

def province_label(code: str) -> str:
    from schemas.admin import admin

    return admin().provinces[code].label


def communes_of(code: str) -> list:
    from schemas.admin import admin

    return sorted((c for c in admin().communes.values() if c.province_code == code), key=lambda c: c.code)


def write_report(path: Path, form: str, values: dict, *, province: str, commune=None, cluster: str = "",
                 project: str = "", tax_code: str = "", period: Period = PERIOD, late: bool = False,
                 sheet: str | None = None, days_before: float = 5) -> dict[str, str]:
    """One workbook with one form; returns the cell of each row's value.  Its modification time (= when it
    was received) is a few days before the deadline, or after it when ``late``."""
    from openpyxl import Workbook

    from pipelines.steward.templates import FormContent, Identification, write_form
    from schemas.forms import load_forms

    ident = Identification(province=province_label(province), commune=commune.label if commune else "",
                           cluster=cluster, project=project, tax_code=tax_code, sector="Cơ khí" if project else "",
                           sender="Đơn vị thử nghiệm", period=period)
    wb = Workbook()
    ws = wb.active
    ws.title = sheet or f"Biểu {form}"
    cells = write_form(ws, FormContent(form, ident, dict(values)))
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    deadline = period.deadline(load_forms()[form].deadline[period.kind])
    when = deadline + timedelta(days=2) if late else deadline - timedelta(days=days_before)
    os.utime(path, (when.timestamp(), when.timestamp()))
    return cells


def run_stages(inbox: Path):
    """archive → read → validate → publish, the stages `ccn run` executes (without Dagster)."""
    from pipelines import stages
    from pipelines.settings import settings

    ctx = stages.Context(settings=settings(), inbox=inbox, progress=lambda *a: None)
    stages.prepare(ctx)
    stages.archive_stage(ctx)
    stages.read_stage(ctx)
    stages.validate_stage(ctx)
    result = stages.publish_stage(ctx)
    ctx.engine.dispose()
    return result


def findings_by_file() -> dict[str, list]:
    from tests.helpers import rows

    out: dict[str, list] = {}
    for r in rows("SELECT file_name, rule_id, severity, sheet, cell, indicator_code, message, expected, status, "
                  "submission_id FROM mart_findings"):
        out.setdefault(r.file_name, []).append(r)
    return out


def statuses() -> dict[str, str]:
    from tests.helpers import view

    return dict(view("mart_submissions")[["file_name", "status"]].itertuples(index=False))


# ───────────────────────────── the tests ─────────────────────────────

def _units(form: str, n: int, province: str) -> list[dict]:
    communes = communes_of(province)
    if form == "01":
        return [dict(province=province, commune=communes[0], cluster="Cụm công nghiệp Thử Nghiệm",
                     project=f"Nhà máy thử nghiệm {i}", tax_code=f"01{i:08d}") for i in range(n)]
    if form == "02":
        return [dict(province=province, commune=communes[0], cluster=f"Cụm công nghiệp Kiểm Tra {i}",
                     tax_code=f"02{i:08d}") for i in range(n)]
    if form == "03":
        return [dict(province=province, commune=communes[i]) for i in range(n)]
    return [dict(province=province) for _ in range(n)]


@pytest.fixture(scope="module")
def rule_batch(module_home):
    """Every case of CASES (and a clean report per form) as workbooks, validated in one batch."""
    from schemas.admin import admin

    inbox = module_home / "inbox"
    provinces = sorted(admin().provinces)
    p01, p02, p03, *p04 = provinces
    files: list[tuple[str, str, str, str, dict]] = []  # file, rule, kind, form, cells
    jobs = [("clean", "clean", f, {}) for f in BASE]
    for rule, (forms, bad, good) in CASES.items():
        for f in forms:
            jobs += [(rule, "breaks", f, bad), (rule, "passes", f, good)]
    per_form: dict[str, int] = {}
    for _rule, _kind, form, _change in jobs:
        per_form[form] = per_form.get(form, 0) + 1
    units = {"01": _units("01", per_form["01"], p01), "02": _units("02", per_form["02"], p02),
             "03": _units("03", per_form["03"], p03),
             "04": [dict(province=p04[i % len(p04)]) for i in range(per_form["04"])]}
    for i, (rule, kind, form, change) in enumerate(jobs):
        name = f"bieu{form}_{i:03d}_{kind}.xlsx"
        cells = write_report(inbox / name, form, {**BASE[form], **change}, **units[form].pop())
        files.append((name, rule, kind, form, cells))
    result = run_stages(inbox)
    return files, findings_by_file(), statuses(), result


@pytest.mark.slow
def test_every_rule_breaks_and_holds(rule_batch):
    from validations.catalogue import rules

    files, found, status, _ = rule_batch
    catalogue = rules()
    for name, rule, kind, form, cells in files:
        got = found.get(name, [])
        if kind == "clean":
            assert got == [], (name, [(g.rule_id, g.message) for g in got])
            assert status[name] in ("accepted", "superseded"), (name, status[name])
            continue
        mine = [g for g in got if g.rule_id == rule]
        if kind == "passes":
            assert mine == [], (name, rule, [g.message for g in mine])
            continue
        assert mine, (name, rule, [g.rule_id for g in got])
        g = mine[0]
        assert g.severity == catalogue[rule].severity
        assert g.sheet == f"Biểu {form}"
        assert g.cell == cells[g.indicator_code], (name, rule, g.cell)
        assert " — " in g.message and g.expected
        if catalogue[rule].severity == "error":
            assert status[name] == "rejected" or status[name] == "superseded", (name, status[name])


@pytest.mark.slow
def test_messages_carry_the_numbers(rule_batch):
    files, found, _, _ = rule_batch
    by = {(rule, kind, form): name for name, rule, kind, form, _ in files}
    leased = found[by[("b02.leased_le_ready", "breaks", "02")]]
    msg = next(g.message for g in leased if g.rule_id == "b02.leased_le_ready")
    assert "30.5 ha" in msg and "30 ha" in msg
    occ = found[by[("b0304.occupancy_consistent", "breaks", "03")]]
    g = next(g for g in occ if g.rule_id == "b0304.occupancy_consistent")
    assert g.severity == "warning" and "66%" in g.message and "65%" in g.message and g.indicator_code == "19"
    neg = found[by[("form.non_negative", "breaks", "01")]]
    assert [g.indicator_code for g in neg if g.rule_id == "form.non_negative"] == ["2"]


@pytest.mark.slow
def test_rejected_values_never_reach_the_marts(rule_batch):
    from tests.helpers import view

    subs = view("mart_submissions")
    values = view("mart_indicator_values")
    rejected = set(subs[subs.status == "rejected"].submission_id)
    assert rejected and not (set(values.submission_id) & rejected)
    loaded = set(subs[subs.status.isin(["accepted", "accepted_with_warnings"])].submission_id)
    assert set(values.submission_id) == loaded


@pytest.mark.slow
def test_validation_run_is_recorded_with_data_docs(rule_batch, module_home):
    from schemas.tables import validation_run
    from tests.helpers import engine

    eng = engine()
    with eng.connect() as conn:
        runs = conn.execute(select(validation_run)).all()
    eng.dispose()
    assert len(runs) == 1
    run = runs[0]
    files = rule_batch[0]
    assert run.submissions == len(files)
    docs = Path(run.data_docs)
    assert docs.is_file() and docs.is_relative_to(module_home / "datadocs")
    html = docs.read_text(encoding="utf-8")
    for form in ("01", "02", "03", "04"):  # one validation per form, not per file
        assert f"ccn_bieu_{form}" in html
    pages = sorted((docs.parent / "validations").rglob("*.html"))
    assert len(pages) == 4

    # the failing rows name the check (rule id), the report, the sheet and the cell: GX's pages show a sample with
    # these columns, the first page lists them all per form; every within-form finding is one of them, at its cell
    from tests.helpers import rows
    from validations.within_form import checks

    for page in pages:  # each form of the batch has failing reports
        assert any(r[-4:] == ["check", "submission_id", "sheet", "cell"]
                   for r in _table_rows(page.read_text(encoding="utf-8"))), page
    listed = {(form, check.split("[")[0], int(sid), sheet, cell)
              for form, table in re.findall(r"<h3>Biểu (\d\d)</h3>(<table.*?</table>)", html, re.DOTALL)
              for check, sid, sheet, cell, _excess in _table_rows(table)[1:]}
    within = {c.rule.id for form in ("01", "02", "03", "04") for c in checks(form)}
    found = {(r.form, r.rule_id, r.submission_id, r.sheet, r.cell)
             for r in rows("SELECT form, rule_id, submission_id, sheet, cell FROM mart_findings")
             if r.rule_id in within}
    assert len(found) > 20 and found <= listed

    # whole without the internet: nothing is fetched from another site, the style sheet is the project's, copied
    for page in [docs, *pages, *(docs.parent / "expectations").glob("*.html")]:
        text_ = page.read_text(encoding="utf-8")
        assert not re.search(r'<(link|script|img)\b[^>]*(href|src)="https?://', text_), page
        assert "url('http" not in text_ and 'ccn-docs.css"' in text_, page
    assert (docs.parent / "static" / "styles" / "ccn-docs.css").read_bytes() == (
        Path(__file__).parents[1] / "validations" / "datadocs" / "ccn-docs.css").read_bytes()


def _table_rows(html: str) -> list[list[str]]:
    """The text of every table row of a page (header and data cells alike)."""
    from html.parser import HTMLParser

    class Rows(HTMLParser):
        def __init__(self):
            super().__init__()
            self.rows, self.cell = [], None

        def handle_starttag(self, tag, attrs):
            if tag == "tr":
                self.rows.append([])
            elif tag in ("td", "th"):
                self.cell = []

        def handle_endtag(self, tag):
            if tag in ("td", "th") and self.cell is not None and self.rows:
                self.rows[-1].append(" ".join("".join(self.cell).split()))
                self.cell = None

        def handle_data(self, data):
            if self.cell is not None:
                self.cell.append(data)

    parser = Rows()
    parser.feed(html)
    return parser.rows


@pytest.mark.slow
def test_validation_claims_and_publishing_waits_for_it(home):
    """Validating twice writes a submission's findings once (the first validation claims it), and publishing
    never settles a submission read after the validation chose its work (as when two runs overlap): it stays
    pending, without findings, until a validation has seen it."""
    from pipelines import stages
    from pipelines.load.publish import publish_pending
    from pipelines.settings import settings
    from validations.engine import validate_pending

    inbox = home / "inbox"
    commune = communes_of("01")[0]
    write_report(inbox / "a.xlsx", "02", {**B02, "7": 12}, province="01", commune=commune,
                 cluster="Cụm công nghiệp Lặp Lại", tax_code="0300000001")
    ctx = stages.Context(settings=settings(), inbox=inbox, progress=lambda *a: None)
    stages.prepare(ctx)
    stages.archive_stage(ctx)
    stages.read_stage(ctx)
    assert validate_pending(ctx.engine, docs=None) == 1
    assert validate_pending(ctx.engine, docs=None) == 0  # already claimed: nothing written twice
    # another run reads a file between this run's validation and its publishing
    write_report(inbox / "b.xlsx", "02", {**B02, "8": 11}, province="01", commune=commune,
                 cluster="Cụm công nghiệp Đến Sau", tax_code="0300000002")
    stages.archive_stage(ctx)
    stages.read_stage(ctx)
    publish_pending(ctx.engine)

    def state():
        with ctx.engine.connect() as conn:
            return {r.file_name: (r.status, r.errors) for r in conn.execute(text(
                "SELECT f.file_name, s.status, s.errors FROM submission s JOIN received_file f USING (sha256)"))}

    assert state() == {"a.xlsx": ("rejected", 1), "b.xlsx": ("pending", 0)}
    assert validate_pending(ctx.engine, docs=None) == 1
    publish_pending(ctx.engine)
    assert state() == {"a.xlsx": ("rejected", 1), "b.xlsx": ("rejected", 1)}
    with ctx.engine.connect() as conn:
        found = conn.execute(text("SELECT rule_id, COUNT(*) FROM validation_finding WHERE stage = 'validate' "
                                  "GROUP BY rule_id ORDER BY rule_id")).all()
    ctx.engine.dispose()
    assert [tuple(r) for r in found] == [("b02.foreign_le_projects", 1), ("b02.operating_le_projects", 1)]


@pytest.mark.slow
def test_missing_operand_gives_its_own_finding(home):
    """Rule 15 = 15.1 + 15.2 reports a blank part as a finding of its own (missing = "finding")."""
    inbox = home / "inbox"
    values = {k: v for k, v in B0304.items() if k != "15.2"}
    cells = write_report(inbox / "b03_blank.xlsx", "03", values, province="01", commune=communes_of("01")[1])
    run_stages(inbox)
    got = [g for g in findings_by_file()["b03_blank.xlsx"] if g.rule_id == "b0304.operating_count_sum"]
    assert len(got) == 1 and got[0].severity == "warning" and "15.2" in got[0].message
    assert got[0].cell == cells["15"]


@pytest.mark.slow
def test_missing_operand_counted_as_zero(home):
    """Rule 16 = 16.1 + 16.2 counts a blank part as 0 (missing = "zero")."""
    inbox = home / "inbox"
    communes = communes_of("01")
    base = {k: v for k, v in B0304.items() if k != "16.2"}
    write_report(inbox / "b03_zero_ok.xlsx", "03", {**base, "16": 220.0}, province="01", commune=communes[2])
    cells = write_report(inbox / "b03_zero_bad.xlsx", "03", base, province="01", commune=communes[3])
    run_stages(inbox)
    found = findings_by_file()
    assert not [g for g in found.get("b03_zero_ok.xlsx", []) if g.rule_id == "b0304.operating_area_sum"]
    bad = [g for g in found["b03_zero_bad.xlsx"] if g.rule_id == "b0304.operating_area_sum"]
    assert len(bad) == 1 and bad[0].severity == "error" and bad[0].cell == cells["16"]
    assert "260" in bad[0].message and "220" in bad[0].message
