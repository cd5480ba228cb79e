"""The Dagster assets materialised for a sample period, on SQLite and PostgreSQL: completeness, the province,
region and cluster summaries, the validation checks and the partition map of who reported all equal what the
sample's truth.json says the files hold.  The sample withholds one province's Biểu 04 and one cluster's Biểu 02
(its projects still report, so the register knows it), and another province's Biểu 04 arrives late."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from schemas.admin import admin
from schemas.views import CLUSTER_ROLLUP
from tests.conftest import pg_database

pytestmark = pytest.mark.slow  # the Dagster assets materialised for a sample: 39 s for the module

PERIOD = "2026-H1"
ACTIVE = ("accepted", "accepted_with_warnings")


@pytest.fixture(scope="module")
def gap_sample(tmp_path_factory) -> Path:
    from pipelines.sample.generator import generate
    from schemas.periods import Period

    out = tmp_path_factory.mktemp("gap_sample")
    generate(out, Period.parse(PERIOD), provinces=2, seed=7, absent_04=1, absent_02=1, late_04=1)
    return out


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def materialised(request, tmp_path_factory, gap_sample):
    """The sample ingested by the `ingest` job and the period refreshed by `period_refresh` (one backend)."""
    from dagster import DagsterInstance

    from assets.definitions import defs
    from assets.resources import CCNResource
    from schemas.database import make_engine

    home = tmp_path_factory.mktemp(f"orch_{request.param}")
    shutil.copytree(gap_sample, home / "inbox")
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{home / 'warehouse.sqlite'}"
        else:
            request.getfixturevalue("pg_server")
            url = stack.enter_context(pg_database("ccn_orch"))
        resources = {"ccn": CCNResource(home=str(home), inbox=str(home / "inbox"), warehouse_url=url)}
        instance = DagsterInstance.ephemeral()
        ingest = defs.resolve_job_def("ingest").execute_in_process(instance=instance, resources=resources,
                                                                   raise_on_error=True)
        refresh = defs.resolve_job_def("period_refresh").execute_in_process(
            instance=instance, resources=resources, partition_key=PERIOD, raise_on_error=True)
        engine = make_engine(url)
        stack.callback(engine.dispose)
        yield {"home": home, "engine": engine, "ingest": ingest, "refresh": refresh, "instance": instance,
               "truth": json.loads((gap_sample / "truth.json").read_text(encoding="utf-8"))}


def _view(m, name: str) -> pd.DataFrame:
    with m["engine"].connect() as conn:
        return pd.read_sql(text(f"SELECT * FROM {name} WHERE period = :p"), conn, params={"p": PERIOD})


def _accepted_reports(truth: dict, form: str) -> list[dict]:
    return [r for f in truth["files"] if f["expected_status"] != "rejected" for r in f["reports"] if r["form"] == form]


def _rollup(reports: list[dict], codes: list[str]) -> dict[str, float]:
    """Per-row sums of reports, with row 19 recomputed from 18 and 17 and kept to the 2 decimals of a % (as the
    views do)."""
    sums = {c: sum(r["values"][c] for r in reports if c in r["values"]) for c in codes
            if any(c in r["values"] for r in reports)}
    if "17" in sums:
        sums["19"] = round(100 * sums["18"] / sums["17"], 2) if sums["17"] else None
    return sums


def test_completeness_equals_truth(materialised):
    m = materialised
    truth = m["truth"]
    got = _view(m, "mart_reporting_completeness")
    cols = ["form", "province_code", "expected", "received", "on_time", "late", "missing"]
    rows = sorted(tuple(int(v) if isinstance(v, (int, float)) else v for v in r)
                  for r in got[cols].itertuples(index=False))
    expected = sorted(tuple(r[c] for c in cols) for r in truth["completeness"])
    assert rows == expected
    by = {(r.form, r.province_code): r for r in got.itertuples()}
    absent_province = next(f.split("/")[0][:2] for f in truth["absent"] if "bieu04_" in f)
    late_province = next(f["reports"][0]["province_code"] for f in truth["files"]
                         if f["late"] and f["reports"] and f["reports"][0]["form"] == "04")
    # the province that did not send its Biểu 04, and the one that sent it late
    assert (by[("04", absent_province)].expected, by[("04", absent_province)].missing) == (1, 1)
    assert (by[("04", late_province)].received, by[("04", late_province)].late) == (1, 1)
    # the withheld Biểu 02: its cluster is known from its projects' Biểu 01, so it is expected and missing
    assert by[("02", absent_province)].missing == 1
    # provinces outside the sample are expected to send Biểu 04 and nothing else
    assert len(got[got.form == "04"]) == 34
    assert got[got.form == "04"]["missing"].sum() == 33


def test_province_summary_equals_truth(materialised):
    m = materialised
    truth = m["truth"]
    got = _view(m, "mart_province_summary")
    codes = list(truth["national_summary"])
    assert set(got.columns) >= {"period", "province_code", "province_name", "indicator_code", "reported_value",
                                "computed_value"}
    sample_provinces = {c["province_code"] for c in truth["completeness"] if c["form"] == "02"}
    assert set(got["province_code"]) == sample_provinces
    for pcode in sample_provinces:
        part = got[got.province_code == pcode].set_index("indicator_code")
        assert sorted(part.index) == sorted(codes)
        reported = _rollup([r for r in _accepted_reports(truth, "04") if r["province_code"] == pcode], codes)
        computed = _rollup([r for r in _accepted_reports(truth, "03") if r["province_code"] == pcode], codes)
        clusters = defaultdict(float)
        for target, (form, code) in CLUSTER_ROLLUP.items():
            for r in _accepted_reports(truth, form):
                if r["province_code"] == pcode and code in r["values"]:
                    clusters[target] += r["values"][code]
        for code in codes:
            row = part.loc[code]
            if reported:
                assert row.reported_value == pytest.approx(reported[code], abs=1e-6), (pcode, code)
            else:
                assert pd.isna(row.reported_value), (pcode, code)  # the province that did not report
            assert row.computed_value == pytest.approx(computed[code], abs=1e-6), (pcode, code)
            if code in clusters:
                assert row.computed_from_clusters == pytest.approx(clusters[code], abs=1e-6), (pcode, code)
        assert part["communes_reporting"].iloc[0] == len([r for r in _accepted_reports(truth, "03")
                                                          if r["province_code"] == pcode])
        assert part["province_name"].iloc[0].startswith(("Tỉnh", "Thành phố"))


def test_region_summary_adds_up_provinces(materialised):
    m = materialised
    provinces = _view(m, "mart_province_summary")
    regions = _view(m, "mart_region_summary")
    for (region, code), part in provinces.groupby(["region", "indicator_code"]):
        row = regions[(regions.region == region) & (regions.indicator_code == code)].iloc[0]
        if code != "19":
            assert row.computed_value == pytest.approx(part["computed_value"].sum(), abs=1e-6)
        assert row.provinces_reporting == part["reported_value"].notna().sum()
    assert set(regions["region"]) <= set(__import__("schemas.admin", fromlist=["REGIONS"]).REGIONS)


def test_cluster_status_equals_biểu_02(materialised):
    m = materialised
    got = _view(m, "mart_cluster_status").set_index("cluster_id")
    reports = _accepted_reports(m["truth"], "02")
    assert set(got.index) == {r["unit_key"] for r in reports}
    columns = {"ready_land_ha": "3", "leased_land_ha": "4", "occupancy_pct": "5", "projects": "6",
               "fdi_projects": "7", "operating_projects": "8", "wwtp_built": "13", "wwtp_compliant": "14"}
    for r in reports:
        row = got.loc[r["unit_key"]]
        assert row.province_code == r["province_code"]
        assert isinstance(row.commune_code, str) and len(row.commune_code) == 5
        for column, code in columns.items():
            assert getattr(row, column) == pytest.approx(r["values"][code], abs=1e-9), (r["unit_key"], column)


def test_checks_carry_validation_results(materialised):
    from dagster import AssetCheckSeverity

    m = materialised
    truth = m["truth"]
    evaluations = {e.check_name: e for e in m["ingest"].get_asset_check_evaluations()}
    expected_rules = {rule for f in truth["files"] for rule in f["errors"] + f["warnings"]}
    families = {rule.split(".")[0] for rule in expected_rules}
    for family in families:
        e = evaluations[f"rules_{family}"]
        assert not e.passed, family
        has_error = any(r.startswith(family + ".") for f in truth["files"] for r in f["errors"])
        assert e.severity == (AssetCheckSeverity.ERROR if has_error else AssetCheckSeverity.WARN), family
        assert e.metadata["findings"].value >= 1
    assert evaluations["rules_timeliness"].severity == AssetCheckSeverity.WARN
    assert evaluations["rules_file"].severity == AssetCheckSeverity.ERROR  # the damaged workbook
    refresh = {e.check_name: e for e in m["refresh"].get_asset_check_evaluations()}
    assert not refresh["all_expected_reports_received"].passed
    assert refresh["all_expected_reports_received"].metadata["missing_reports"].value == sum(
        r["missing"] for r in truth["completeness"])


def test_partition_grid_shows_who_reported(materialised):
    from dagster import AssetKey

    from assets.partitions import province_key

    m = materialised
    truth = m["truth"]
    parts = m["instance"].get_materialized_partitions(AssetKey("province_reports"))
    reported = {r["province_code"] for r in _accepted_reports(truth, "04")}
    assert {str(p) for p in parts} == {f"{PERIOD}|{province_key(p)}" for p in reported}
    for p in reported:  # the grid names the province: "22 Quảng Ninh" for "Tỉnh Quảng Ninh"
        code, name = province_key(p).split(" ", 1)
        assert code == p and admin().provinces[p].name.endswith(" " + name)
    mats = m["refresh"].get_asset_materialization_events()
    keys = {e.asset_key.to_user_string() for e in mats}
    assert {"completeness", "province_summary", "region_summary", "cluster_status", "national_report",
            "province_reports"} <= keys
    assert (m["home"] / "exports" / f"national_{PERIOD}.xlsx").is_file()


def test_checks_tell_the_warehouse_not_the_last_run(tmp_path, gap_sample):
    """Issue 13: a second `ingest` run that finds nothing new leaves every check as the first left it (the
    rejected reports still stand), and says the run itself wrote nothing; a check passes only once a steward
    has dealt with what failed (here: waived the damaged workbook's error)."""
    from dagster import AssetCheckSeverity, DagsterInstance

    from assets.definitions import defs
    from assets.resources import CCNResource
    from pipelines.steward.findings import waive
    from schemas.database import make_engine

    shutil.copytree(gap_sample, tmp_path / "inbox")
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    resources = {"ccn": CCNResource(home=str(tmp_path), inbox=str(tmp_path / "inbox"), warehouse_url=url)}
    instance = DagsterInstance.ephemeral()

    def run():
        result = defs.resolve_job_def("ingest").execute_in_process(instance=instance, resources=resources,
                                                                   raise_on_error=True)
        checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
        (warehouse,) = [e.materialization.metadata for e in result.get_asset_materialization_events()
                        if e.asset_key.to_user_string() == "warehouse"]
        return checks, warehouse

    first, first_warehouse = run()
    again, again_warehouse = run()
    failing = {name for name, e in first.items() if not e.passed}
    assert {"rules_file", "rules_timeliness"} <= failing
    for name, e in first.items():
        assert (again[name].passed, again[name].severity) == (e.passed, e.severity), name
        assert again[name].metadata["findings"].value == e.metadata["findings"].value, name
        assert again[name].metadata["written_by_this_run"].value == 0, name
    assert first["rules_file"].metadata["written_by_this_run"].value >= 1
    assert again["rules_file"].metadata["by_period"].value  # the standing findings per period
    assert (again_warehouse["accepted"].value, again_warehouse["rejected"].value) == (0, 0)  # this run's own
    held = again_warehouse["in_warehouse"].value
    assert held == first_warehouse["in_warehouse"].value and held["rejected"] == first_warehouse["rejected"].value > 0

    engine = make_engine(url)
    with engine.connect() as conn:
        ids = conn.execute(text(
            "SELECT v.finding_id FROM validation_finding v JOIN submission s ON s.submission_id = v.submission_id "
            "WHERE v.rule_id LIKE 'file.%' AND s.status <> 'superseded'")).scalars().all()
    assert ids
    for finding_id in ids:
        waive(engine, finding_id, "Tỉnh đã gửi bản giấy có dấu (công văn 12/SCT)", "Nguyễn Văn A")
    engine.dispose()
    after, _ = run()
    assert after["rules_file"].passed
    assert not after["rules_timeliness"].passed and after["rules_timeliness"].severity == AssetCheckSeverity.WARN
