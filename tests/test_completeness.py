"""Who should report: the expectation follows the register and the periods (a unit learnt from a report is
expected from the period it first reported for, not before), and the deadline schedules ask for the period
that is due.  Real workbooks from the sample go through the stages; nothing is inserted by hand."""

from __future__ import annotations

import threading
import time
from datetime import date, datetime

import pytest
from sqlalchemy import text

from pipelines.report.completeness import completeness, period_codes, period_due, refresh_expected
from schemas.database import make_engine
from schemas.migrate import upgrade
from schemas.periods import VN_TZ, Period


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """A one-province 2026-H1 sample (no Biểu 01) read, validated and published by the stages."""
    from pipelines.sample.generator import generate
    from pipelines.settings import Settings
    from pipelines.stages import Context, archive_stage, prepare, publish_stage, read_stage, validate_stage

    home = tmp_path_factory.mktemp("completeness")
    truth = generate(home / "inbox", Period.parse("2026-H1"), provinces=1, seed=11, projects=False, absent_04=1)
    ctx = Context(settings=Settings(home=home, warehouse_url=f"sqlite:///{home / 'warehouse.sqlite'}"),
                  inbox=home / "inbox", progress=lambda *_: None)  # not the terminal of an earlier `ccn run`
    prepare(ctx)
    archive_stage(ctx)
    read_stage(ctx)
    validate_stage(ctx)
    publish_stage(ctx)
    yield ctx.engine, truth
    ctx.engine.dispose()


def _counts(engine, period: str) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT form, COUNT(*) FROM expected_report WHERE period = :p GROUP BY form"),
                                 {"p": period}).all())


def test_expected_follows_the_register_and_periods(loaded):
    engine, truth = loaded
    now = refresh_expected(engine, Period.parse("2026-H1"))
    before = refresh_expected(engine, Period.parse("2025-Y"))
    after = refresh_expected(engine, Period.parse("2026-Y"))
    truth_expected = {f: sum(r["expected"] for r in truth["completeness"] if r["form"] == f)
                      for f in ("02", "03", "04")}
    assert {f: now.by_form[f] for f in truth_expected} == truth_expected
    assert now.by_form["01"] == 0  # no project reported: none is known
    # clusters first reported for 2026-H1 are not expected for the period before, but are for the next one;
    # only a unit whose reports named no period (rejected: identity.period_ambiguous) is expected in every period
    undated = [r for f in truth["files"] if "identity.period_ambiguous" in f["errors"] for r in f["reports"]]
    assert before.by_form["04"] == 34 and before.by_form["01"] == 0
    assert before.by_form["02"] == sum(r["form"] == "02" for r in undated)
    with engine.connect() as conn:
        early = {r[0] for r in conn.execute(text("SELECT unit_key FROM expected_report WHERE period = '2025-Y' "
                                                 "AND form = '03'"))}
        undated_communes = {r[0] for r in conn.execute(text(
            "SELECT c.commune_code FROM cluster c WHERE c.cluster_id IN (SELECT cluster_id FROM submission "
            "GROUP BY cluster_id HAVING MAX(period) IS NULL)"))}
    assert early == undated_communes | {r["unit_key"] for r in undated if r["form"] == "03"}
    assert after.by_form == now.by_form
    assert _counts(engine, "2026-Y") == {f: n for f, n in now.by_form.items() if n}

    # refreshing again replaces, never duplicates
    refresh_expected(engine, Period.parse("2026-H1"))
    assert _counts(engine, "2026-H1") == {f: n for f, n in now.by_form.items() if n}

    nothing_yet = completeness(engine, Period.parse("2026-Y"))
    assert int(nothing_yet["received"].sum()) == 0
    assert int(nothing_yet["missing"].sum()) == sum(after.by_form.values())


def test_province_without_biểu_04_is_missing(loaded):
    engine, truth = loaded
    refresh_expected(engine, Period.parse("2026-H1"))
    df = completeness(engine, Period.parse("2026-H1")).set_index(["form", "province_code"])
    province = truth["completeness"][-1]["province_code"] if truth["completeness"][-1]["form"] == "04" else None
    sample_province = next(r["province_code"] for r in truth["completeness"] if r["form"] == "02")
    row = df.loc[("04", sample_province)]
    assert (row.expected, row.received, row.missing) == (1, 0, 1)
    assert province is not None
    with engine.connect() as conn:
        missing = conn.execute(text("SELECT unit_key, unit_name, basis FROM mart_missing_reports "
                                    "WHERE period = '2026-H1' AND form = '04' AND province_code = :p"),
                               {"p": sample_province}).all()
    assert missing == [(sample_province, missing[0][1], "province_list")] and missing[0][1]


def test_schedules_ask_for_the_period_due():
    from dagster import build_schedule_context

    from assets.schedules import deadline_schedules

    by_name = {s.name: s for s in deadline_schedules}
    cases = [("after_deadline_projects_clusters", datetime(2026, 6, 20, 0, 15, tzinfo=VN_TZ), "2026-H1"),
             ("after_deadline_communes", datetime(2026, 12, 25, 0, 15, tzinfo=VN_TZ), "2026-Y"),
             ("after_deadline_provinces", datetime(2026, 6, 30, 0, 15, tzinfo=VN_TZ), "2026-H1"),
             ("after_deadline_provinces", datetime(2025, 12, 31, 0, 15, tzinfo=VN_TZ), "2025-Y")]
    for name, when, period in cases:
        schedule = by_name[name]
        request = schedule(build_schedule_context(scheduled_execution_time=when))
        assert request.partition_key == period, (name, when)
        assert request.run_key == f"{name}:{period}"
        assert schedule.job_name == "period_refresh" and schedule.execution_timezone == "Asia/Ho_Chi_Minh"
    # a location loaded before 2040 has no partition for 2040-H1: the schedule says so, it asks for nothing
    skipped = by_name["after_deadline_provinces"](build_schedule_context(
        scheduled_execution_time=datetime(2040, 6, 30, 0, 15, tzinfo=VN_TZ)))
    assert type(skipped).__name__ == "SkipReason" and "2040-H1" in skipped.skip_message
    assert period_due(datetime(2026, 6, 25, tzinfo=VN_TZ)) == Period(2026, "H1")
    assert period_due(datetime(2026, 12, 20, tzinfo=VN_TZ)) == Period(2026, "Y")


def test_period_partitions_are_the_periods_that_can_have_reports():
    """From Circular 14's first report to the periods begun on the day: none for a period not yet begun."""
    assert period_codes(date(2024, 10, 1)) == ["2024-Y"]
    assert period_codes(date(2026, 12, 4)) == ["2024-Y", "2025-H1", "2025-Y", "2026-H1", "2026-Y"]
    assert period_codes(date(2026, 12, 15))[-2:] == ["2027-H1", "2027-Y"]  # both begin on 15 Dec


def test_ccn_completeness_prints_the_table(loaded, monkeypatch, capsys):
    from tests.helpers import ccn

    engine, truth = loaded
    monkeypatch.setenv("CCN_WAREHOUSE_URL", str(engine.url))
    assert ccn("completeness", "--period", "2026-H1", "--refresh") == 0  # without it: reads only
    out = capsys.readouterr().out
    assert "Phải nộp / Expected" in out and "Còn thiếu / Missing" in out
    # the totals per form: after the "Kỳ 2026-H1" line, a row per form (code, name, five counts)
    after = out.split("\nKỳ 2026-H1", 1)[1].splitlines()
    totals = {line.split()[0]: [int(x) for x in line.split()[-5:]] for line in after
              if line[:2] in ("02", "03", "04")}
    for form in ("02", "03"):
        rows = [r for r in truth["completeness"] if r["form"] == form]
        assert totals[form] == [sum(r[c] for r in rows) for c in ("expected", "received", "on_time", "late", "missing")]
    assert totals["04"][0] == 34


def test_two_refreshes_of_one_period_at_once_take_turns(pg_url):
    """Two runs refreshing the same period on PostgreSQL: both delete the period's rows and insert them again.
    Both are made to start while a third transaction holds those rows, so without the lock in refresh_expected the
    second one deletes nothing the first inserted and fails on expected_report_pkey; with it they take turns."""
    engine = make_engine(pg_url)
    period = Period.parse("2026-H1")
    try:
        upgrade(engine)
        first = refresh_expected(engine, period)
        assert first.by_form["04"] == 34  # the provinces of 2025 are always expected
        errors: list[BaseException] = []

        def refresh() -> None:
            try:
                refresh_expected(engine, period)
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

        with engine.connect() as holder, engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watch:
            holder.execute(text("SELECT 1 FROM expected_report WHERE period = :p FOR UPDATE"), {"p": period.code})
            threads = [threading.Thread(target=refresh) for _ in range(2)]
            for t in threads:
                t.start()
            deadline = time.monotonic() + 60
            while watch.execute(text("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
                                     "AND wait_event_type = 'Lock'")).scalar() < 2:
                assert time.monotonic() < deadline, "the two refreshes never waited for the rows"
                time.sleep(0.05)
            holder.commit()
        for t in threads:
            t.join(timeout=60)
        assert errors == []
        assert _counts(engine, period.code) == {f: n for f, n in first.by_form.items() if n}
    finally:
        engine.dispose()
