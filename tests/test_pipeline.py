"""End to end: a generated sample goes through ``ccn run`` and every view equals the sample's truth,
on SQLite and on PostgreSQL."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import datetime

import pytest
from sqlalchemy import event, func, select

from schemas.database import IN_LIST_SIZE, chunks, make_engine
from schemas.migrate import upgrade
from schemas.status import Status
from schemas.tables import submission
from tests.helpers import ccn, view

pytestmark = pytest.mark.slow  # whole sample runs, 7-16 s each: 69 s for the module

MART_COLUMNS = {
    "mart_submissions": ["submission_id", "file_name", "sha256", "form", "period", "province_code", "unit_key",
                         "unit_name", "received_at", "deadline", "is_late", "status", "errors", "warnings"],
    "mart_validation_issues": ["submission_id", "rule_id", "severity", "sheet", "cell", "indicator_code", "message"],
    "mart_indicator_values": ["submission_id", "form", "period", "province_code", "unit_key", "indicator_code",
                              "indicator_name", "value_unit_code", "value_unit_name", "value", "note"],
    "mart_national_summary": ["period", "indicator_code", "indicator_name", "value_unit_code", "value_unit_name",
                              "value", "provinces_reporting"],
}


def _by_file(truth: dict) -> dict[str, dict]:
    return {f["file"].rsplit("/", 1)[-1]: f for f in truth["files"]}


def test_sample_run_matches_truth(inbox, truth):
    assert ccn("run") == 0

    subs = view("mart_submissions")
    files = _by_file(truth)
    assert len(subs) == truth["counts"]["submissions"]
    assert set(subs["file_name"]) == set(files)
    for row in subs.itertuples():
        expected = files[row.file_name]
        assert row.status == expected["expected_status"], (row.file_name, row.status)
        assert bool(row.is_late) == expected["late"], row.file_name
        if isinstance(row.form, str) and not any(e.startswith("identity.period") for e in expected["errors"]):
            assert row.period == truth["period"], row.file_name
        else:
            assert row.period is None or row.period != row.period, row.file_name  # NULL (None or NaN)
        if expected["received_at"]:
            got = row.received_at if isinstance(row.received_at, datetime) else datetime.fromisoformat(row.received_at)
            assert got == datetime.fromisoformat(expected["received_at"])
    for report_file in files.values():
        for rep in report_file["reports"]:
            match = subs[(subs.file_name == report_file["file"].rsplit("/", 1)[-1]) & (subs.form == rep["form"])]
            assert rep["unit_key"] in set(match["unit_key"]), (report_file["file"], rep["unit_key"])

    issues = view("mart_validation_issues")
    merged = issues.merge(subs[["submission_id", "file_name"]], on="submission_id")
    for name, f in files.items():
        got = set(merged[merged.file_name == name]["rule_id"])
        for rule in f["errors"] + f["warnings"]:
            assert rule in got, (name, rule, got)
        if f["expected_status"] == "accepted":
            assert not got, (name, got)
    assert set(issues["severity"]) <= {"error", "warning"}

    values = view("mart_indicator_values")
    loaded = {(r.unit_key, r.form, r.indicator_code): r.value for r in values.itertuples()}
    expected_values = {(rep["unit_key"], rep["form"], code): v
                       for f in truth["files"] if f["expected_status"] != "rejected"
                       for rep in f["reports"] for code, v in rep["values"].items()}
    assert loaded.keys() == expected_values.keys()
    for k, v in expected_values.items():
        assert loaded[k] == pytest.approx(v, abs=1e-9), k

    summary = view("mart_national_summary")
    assert set(summary["period"]) == {truth["period"]}
    assert len(summary) == len(truth["national_summary"])
    for row in summary.itertuples():
        t = truth["national_summary"][row.indicator_code]
        assert row.value == pytest.approx(t["value"], rel=1e-9), row.indicator_code
        assert row.provinces_reporting == t["provinces_reporting"]
        assert row.indicator_name == t["indicator_name"]
        assert (row.value_unit_code, row.value_unit_name) == (t["value_unit_code"], t["value_unit_name"])
    # the occupancy row is recomputed from its parts, never averaged, and kept to the 2 decimals of a %
    by_code = {r.indicator_code: r.value for r in summary.itertuples()}
    assert by_code["19"] == pytest.approx(100 * by_code["18"] / by_code["17"], abs=0.005)
    assert by_code["19"] == round(by_code["19"], 2) != 100 * by_code["18"] / by_code["17"]

    for name, columns in MART_COLUMNS.items():
        assert list(view(name).columns) == columns, name


def test_same_file_twice_loads_once(inbox, truth):
    assert ccn("run") == 0
    before = view("mart_submissions")
    # the same bytes under another name, and an untouched second run
    some = next(p for p in sorted(inbox.rglob("bieu03_*.xlsx")))
    shutil.copy(some, inbox / "gui_lai_lan_2.xlsx")
    assert ccn("run") == 0
    assert ccn("run") == 0
    after = view("mart_submissions")
    assert len(after) == len(before)
    assert sorted(after["sha256"]) == sorted(before["sha256"])


def test_corrupt_file_rejected_with_reason_others_load(inbox, truth):
    (inbox / "bang_tinh.xlsx").write_bytes(b"this is not a workbook at all")
    (inbox / "ghi_chu.txt").write_text("xin gửi báo cáo", encoding="utf-8")
    assert ccn("run") == 0
    subs = view("mart_submissions")
    issues = view("mart_validation_issues")
    bad = subs[subs.file_name.isin(["bang_tinh.xlsx", "ghi_chu.txt"])]
    assert set(bad["status"]) == {"rejected"}
    reasons = issues[issues.submission_id.isin(bad.submission_id)]
    assert set(reasons["rule_id"]) == {"file.unreadable", "file.type"}
    assert all("—" in m and len(m) > 20 for m in reasons["message"])
    accepted = subs[subs.status.isin(["accepted", "accepted_with_warnings"])]
    assert len(accepted) == truth["counts"]["submissions"] - truth["counts"]["rejected"]


def test_dagster_definitions_load():
    from dagster import Definitions

    from assets.definitions import defs

    Definitions.validate_loadable(defs)
    job = defs.resolve_job_def("ingest")
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"inbox_files", "submissions", "findings", "warehouse", "national_summary"} <= keys
    assert job.name == "ingest"


SQLITE_DEFAULT_MAX_VARIABLES = 32766


def test_in_lists_of_one_chunk_bind_on_both_backends(warehouse_url):
    """``chunks`` covers a list once, in order, in slices of IN_LIST_SIZE; one slice in an ``IN`` list, with the
    statement's other parameters, stays within the bind-parameter limit of SQLite and of PostgreSQL (SQLite held to
    its default limit: this machine's build may allow more)."""
    ids = list(range(1, 2 * IN_LIST_SIZE + 8))
    parts = list(chunks(ids))
    assert [len(p) for p in parts] == [IN_LIST_SIZE, IN_LIST_SIZE, 7]
    assert [i for p in parts for i in p] == ids
    engine = make_engine(warehouse_url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", lambda dbapi_conn, _record: dbapi_conn.setlimit(
            sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, SQLITE_DEFAULT_MAX_VARIABLES))
    upgrade(engine)
    s = submission.c
    with engine.connect() as conn:
        counts = [conn.execute(select(func.count()).where(s.submission_id.in_(p), s.status.in_(Status.ACTIVE))).scalar()
                  for p in parts]
    engine.dispose()
    assert counts == [0, 0, 0]
