"""The outlier rules (validations/outliers.py) on reports placed in a warehouse, on SQLite and PostgreSQL: each
method meets a value it must flag and values it must leave alone (zeros, small counts, a unit of another
administrative generation, a group too small or mostly zero), with the words of the finding; the analysis of a
period is idempotent, reconciles what changed and keeps what a steward decided; the periods to analyse again
after a load."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert, select, text, update

from pipelines.steward.findings import waive
from pipelines.steward.follow_up import mark
from schemas.database import make_engine
from schemas.forms import load_forms
from schemas.migrate import upgrade
from schemas.periods import VN_TZ, Period
from schemas.status import Status
from schemas.tables import indicator_value, received_file, submission, validation_finding
from validations.catalogue import OutlierRule, rules
from validations.outliers import STAGE, analyse, changed_periods, previous_periods

P = "37"  # the province of the clusters


@pytest.fixture
def eng(warehouse_url):
    e = make_engine(warehouse_url)
    upgrade(e)
    yield e
    e.dispose()


class Loader:
    """Reports put straight into the warehouse as accepted, each value with a cell of its own (D10, D11 …)."""

    def __init__(self, engine) -> None:
        self.engine, self.n = engine, 0

    def add(self, form: str, period: str, unit: str, values: dict[str, float], province: str = P) -> int:
        self.n += 1
        sid, sha = self.n, hashlib.sha256(f"{self.n}".encode()).hexdigest()
        now = datetime.now(tz=VN_TZ)
        received = Period.parse(period).deadline("06-20" if period.endswith("H1") else "12-20") - timedelta(days=2)
        rows = load_forms()[form].rows
        with self.engine.begin() as conn:
            conn.execute(insert(received_file).values(
                sha256=sha, file_name=f"{unit}_{period}.xlsx", source_path=f"{P}/{unit}_{period}.xlsx", size=1,
                received_at=received, archived_at=now, archive_path=f"/dev/null/{sid}", state="read"))
            conn.execute(insert(submission).values(
                submission_id=sid, sha256=sha, sheet=f"Biểu {form}", form=form, period=period, province_code=province,
                cluster_id=unit if form == "02" else None, unit_key=unit, unit_name=unit, received_at=received,
                is_late=False, status=Status.ACCEPTED, errors=0, warnings=0, validated_at=now, loaded_at=now))
            conn.execute(insert(indicator_value), [
                {"submission_id": sid, "indicator_code": r.code, "value": values.get(r.code), "raw": "",
                 "sheet": f"Biểu {form}", "cell": f"D{10 + i}", "unit": r.unit} for i, r in enumerate(rows)])
        return sid


def outliers(engine, period: str | None = None) -> list:
    sql = """SELECT v.finding_id, v.rule_id, v.severity, v.indicator_code, v.sheet, v.cell, v.message, v.expected,
                    s.unit_key, s.period, s.status, s.warnings
             FROM validation_finding v JOIN submission s ON s.submission_id = v.submission_id
             WHERE v.stage = 'outlier'""" + (" AND s.period = :p" if period else "")
    with engine.connect() as conn:
        return conn.execute(text(sql), {"p": period} if period else {}).all()


def keyed(found) -> set[tuple[str, str, str | None]]:
    return {(r.rule_id, r.unit_key, r.indicator_code) for r in found}


B02 = {"1": 500.0, "2": 300.0, "3": 40.0, "4": 30.0, "5": 60.0, "6": 0.0, "7": 0.0, "8": 0.0, "9": 10.0, "10": 0.5,
       "11": 20.0, "12": 9.0, "13": 0.0, "14": 0.0}


def test_rules_are_warnings_with_their_thresholds():
    mine = {r.id: r for r in rules().values() if isinstance(r, OutlierRule)}
    assert set(mine) == {"outlier.growth", "outlier.history_mad", "outlier.peers", "outlier.peers_national",
                         "outlier.copied_forward"}
    assert all(r.severity == "warning" for r in mine.values())
    assert (mine["outlier.growth"].factor, mine["outlier.growth"].history) == (10.0, 2)
    assert mine["outlier.peers"].sides == ("high",) and mine["outlier.peers"].group == "province"
    assert mine["outlier.peers_national"].forms == ("04",) and mine["outlier.peers_national"].group == "nation"
    assert mine["outlier.growth"].small_of("persons") == 50 and mine["outlier.growth"].small_of("percent") == 0
    assert [p.code for p in previous_periods(Period.parse("2026-H1"), 3)] == ["2025-Y", "2025-H1", "2024-Y"]


def test_growth_flows_per_month_zeros_small_counts_and_generations(eng):
    load = Loader(eng)
    for i in range(10):
        load.add("02", "2025-Y", f"{P}-c{i}", {**B02, "9": 20.0})  # a year's revenue
    load.add("02", "2025-Y", f"{P}-zero", {**B02, "9": 0.0})
    load.add("02", "2025-Y", f"{P}-small", {**B02, "11": 5.0})
    load.add("02", "2025-H1", f"{P}-old", {**B02, "9": 1.0})  # a cluster keeps its ID across the merger
    load.add("04", "2025-H1", P, {"23": 1.0}, province=P)  # a province code of the old generation
    for i in range(10):
        load.add("02", "2026-H1", f"{P}-c{i}", {**B02, "9": 900.0 if i == 1 else 10.0,
                                                "1": 0.5 if i == 4 else 500.0})
    load.add("02", "2026-H1", f"{P}-zero", {**B02, "9": 50.0})  # from 0: no ratio to judge
    load.add("02", "2026-H1", f"{P}-small", {**B02, "11": 300.0})  # 5 workers to 300: a cluster that started
    load.add("02", "2026-H1", f"{P}-old", {**B02, "9": 100.0})
    load.add("04", "2026-H1", P, {"23": 500.0}, province=P)
    result = analyse(eng, "2026-H1")
    found = [r for r in outliers(eng, "2026-H1") if r.rule_id == "outlier.growth"]
    assert keyed(found) == {("outlier.growth", f"{P}-c1", "9"), ("outlier.growth", f"{P}-c4", "1"),
                            ("outlier.growth", f"{P}-old", "9")}
    by = {(r.unit_key, r.indicator_code): r for r in found}
    jump = by[(f"{P}-c1", "9")]
    assert (jump.severity, jump.sheet, jump.cell, jump.expected) == ("warning", "Biểu 02", "D18", "1 – 100")
    assert jump.message == (
        "Dòng 9: 900 tăng 90 lần so với kỳ 2025-Y (20) (so theo tháng: kỳ 6 tháng với kỳ năm); khoảng hợp lý "
        "1 – 100 (không quá 10 lần so với 1 kỳ trước) — Row 9: 900 is 90 × 2025-Y (20) (per month: a 6-month "
        "against an annual period); plausible range 1 – 100 (within 10 × of 1 previous period(s))")
    assert by[(f"{P}-c4", "1")].message.startswith("Dòng 1: 0.5 giảm còn 1/1000 so với kỳ 2025-Y (500); khoảng hợp "
                                                   "lý 50 – 5000")
    assert "1/1000 of 2025-Y (500)" in by[(f"{P}-c4", "1")].message
    assert "tăng 100 lần so với kỳ 2025-H1 (1);" in by[(f"{P}-old", "9")].message  # no month basis: H1 and H1
    # outliers are warnings that leave the report's status and counts as the rules left them
    assert {(r.status, r.warnings) for r in found} == {(Status.ACCEPTED, 0)}
    assert result.added == len(outliers(eng, "2026-H1")) and result.submissions == 14 and result.values == 13 * 14 + 35


def test_history_median_and_mad(eng):
    load = Loader(eng)
    periods = ["2025-Y", "2026-H1", "2026-Y", "2027-H1", "2027-Y"]
    for period, income in zip(periods, [8.0, 8.5, 9.0, 8.8, 9.2], strict=True):
        load.add("02", period, f"{P}-jump", {**B02, "12": income})
        load.add("02", period, f"{P}-steady", {**B02, "12": income})
    load.add("02", "2028-H1", f"{P}-jump", {**B02, "12": 45.0})  # five times: under the growth bound of 10
    load.add("02", "2028-H1", f"{P}-steady", {**B02, "12": 10.6})
    analyse(eng, "2028-H1")
    found = outliers(eng, "2028-H1")
    assert keyed(found) == {("outlier.history_mad", f"{P}-jump", "12")}
    assert found[0].message.startswith("Dòng 12: 45 gấp 5.1 lần trung vị 8.8 của 5 kỳ trước; khoảng hợp lý "
                                       "2.52 – 30.7 — ")
    # the window is the last 6 periods, of which 4 are needed: with 3 there is no judgement
    assert analyse(eng, "2027-H1").by_rule == {}


def test_peers_in_the_province_and_the_nation(eng):
    load = Loader(eng)
    for i in range(12):
        load.add("02", "2026-H1", f"{P}-c{i}", {**B02, "11": 3000.0 if i == 0 else 20.0 + i,
                                                "6": 7.0 if i < 2 else 0.0})  # projects: mostly zero
    for i in range(5):  # a province with too few clusters to judge
        load.add("02", "2026-H1", f"15-c{i}", {**B02, "11": 5000.0 if i == 0 else 20.0}, province="15")
    for i, province in enumerate(["01", "02", "04", "06", "08", "10", "11", "12", "14", "15", "17", "19"]):
        load.add("04", "2026-H1", province, {"25": 3_000_000.0 if i == 0 else 10_000.0 + 1_000 * i,
                                             "23": 0.5 if i == 1 else 500.0 + i}, province=province)
    analyse(eng, "2026-H1")
    found = outliers(eng, "2026-H1")
    assert keyed(found) == {("outlier.peers", f"{P}-c0", "11"), ("outlier.peers_national", "01", "25")}
    msg = {r.rule_id: r.message for r in found}
    assert msg["outlier.peers"].startswith("Dòng 11: 3000 gấp 113 lần trung vị 26.5 của 12 báo cáo Biểu 02 cùng "
                                           "kỳ trong tỉnh; khoảng hợp lý 2.65 – 265 — ")
    assert "of 12 Biểu 04 reports of the period nationwide" in msg["outlier.peers_national"]


def test_copied_forward(eng):
    load = Loader(eng)
    same = {"1": 12.5, "2": 0.6, "3": 140.0, "4": 8.5}
    for period in ("2025-Y", "2026-H1"):
        load.add("01", period, f"{P}-c1/copied", same)
        load.add("01", period, f"{P}-c1/dormant", {"1": 0.0, "2": 0.0, "3": 0.0, "4": 0.0})
        load.add("01", period, f"{P}-c1/two", {"1": 0.0, "2": 0.0, "3": 4.0, "4": 6.0})
    load.add("01", "2025-Y", f"{P}-c1/changed", same)
    load.add("01", "2026-H1", f"{P}-c1/changed", {**same, "1": 6.3})
    analyse(eng, "2026-H1")
    found = outliers(eng, "2026-H1")
    assert keyed(found) == {("outlier.copied_forward", f"{P}-c1/copied", None)}
    (r,) = found
    assert (r.sheet, r.cell, r.expected) == ("Biểu 01", "D10", "≠ 2025-Y")
    assert r.message == ("Báo cáo giống hệt báo cáo kỳ 2025-Y (hồ sơ 1) ở cả 4 giá trị: có phải số liệu kỳ trước "
                         "được chép lại? — The report equals the 2025-Y report (submission 1) in all 4 values: were "
                         "last period's figures copied forward?")


def test_analysis_is_idempotent_reconciles_and_keeps_decisions(eng):
    load = Loader(eng)
    for i in range(3):
        load.add("02", "2025-Y", f"{P}-c{i}", {**B02, "9": 20.0})
        load.add("02", "2026-H1", f"{P}-c{i}", {**B02, "9": 500.0})  # 50 times, per month
    first = analyse(eng, "2026-H1")
    ids = {r.unit_key: r.finding_id for r in outliers(eng)}
    assert first.added == 3 and len(ids) == 3
    again = analyse(eng, "2026-H1")
    assert (again.added, again.removed, again.reworded, again.findings) == (0, 0, 0, 3)
    assert {r.unit_key: r.finding_id for r in outliers(eng)} == ids  # the same rows, ids kept
    assert changed_periods(eng) == [Period.parse("2025-Y")]  # never analysed; 2026-H1 is done, after 2025-Y loaded
    waive(eng, ids[f"{P}-c0"], "Sở xác nhận", "cli:Bình")
    mark(eng, ids[f"{P}-c1"], "follow-up", "Hỏi lại Sở", "cli:Bình")
    with eng.begin() as conn:  # the three clusters' revenue corrected, as a new load would bring
        conn.execute(update(indicator_value).where(indicator_value.c.indicator_code == "9",
                                                   indicator_value.c.submission_id.in_([2, 4, 6]))
                     .values(value=10.0))
        conn.execute(update(submission).where(submission.c.submission_id.in_([2, 4, 6]))
                     .values(loaded_at=datetime.now(tz=VN_TZ)))
    assert changed_periods(eng) == [Period.parse("2025-Y"), Period.parse("2026-H1")]
    after = analyse(eng, "2026-H1")
    assert (after.added, after.removed, after.kept) == (0, 1, 2)
    assert {r.unit_key for r in outliers(eng)} == {f"{P}-c0", f"{P}-c1"}  # decided on: kept, with their decision
    analyse(eng, "2025-Y")
    assert changed_periods(eng) == []
    with eng.begin() as conn:  # a late report of the earlier period: both it and the period after are analysed
        conn.execute(update(submission).where(submission.c.submission_id == 1)
                     .values(loaded_at=datetime.now(tz=VN_TZ)))
    assert changed_periods(eng) == [Period.parse("2025-Y"), Period.parse("2026-H1")]


def test_nothing_to_analyse(eng):
    result = analyse(eng, "2026-H1")
    assert (result.submissions, result.values, result.findings) == (0, 0, 0)
    with eng.connect() as conn:
        assert conn.execute(select(validation_finding.c.finding_id).where(validation_finding.c.stage == STAGE)
                            ).first() is None


def test_migration_0010_down_and_up(eng):
    from pathlib import Path

    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).resolve().parent.parent / "schemas" / "migrations"))
    with eng.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0009")
    with eng.connect() as conn:
        tables = set(inspect(conn).get_table_names())
    assert not {"finding_follow_up", "outlier_analysis"} & tables and "reminder" in tables
    upgrade(eng)  # as the next run does
    with eng.connect() as conn:
        assert {c["name"] for c in inspect(conn).get_columns("finding_follow_up")} == {
            "follow_up_id", "finding_id", "status", "comment", "marked_by", "marked_at"}
        assert {c["name"] for c in inspect(conn).get_columns("outlier_analysis")} == {
            "period", "analysed_at", "submissions", "value_count", "findings", "seconds"}
    assert analyse(eng, "2026-H1").findings == 0
