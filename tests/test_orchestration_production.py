"""Production mode: the documented dagster.yaml.example gives a PostgreSQL-backed Dagster instance on which the
ingest job runs against a PostgreSQL warehouse; the run, its materialisations and its checks are stored in
PostgreSQL and the warehouse holds the reports."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from pipelines.steward.templates import FormContent, Identification, write_form
from schemas.periods import Period

pytestmark = pytest.mark.slow  # a PostgreSQL-backed Dagster instance runs ingest: 10 s

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def dagster_db(pg_server):
    from tests.conftest import pg_database

    with pg_database("ccn_dagster") as url:
        yield make_url(url).database


def test_postgres_backed_instance_runs_ingest(tmp_path, monkeypatch, pg_url, dagster_db):
    from dagster import DagsterInstance

    from assets.definitions import defs
    from assets.resources import CCNResource
    from schemas.admin import admin

    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    config = (ROOT / "dagster.yaml.example").read_text(encoding="utf-8")
    assert "postgres:" in config and "DAGSTER_PG_PASSWORD" in config
    (dagster_home / "dagster.yaml").write_text(
        config.replace("/var/lib/ccn/dagster/compute_logs", str(tmp_path / "compute_logs")), encoding="utf-8")
    server = make_url(pg_url)
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    monkeypatch.setenv("DAGSTER_PG_HOST", server.host)
    monkeypatch.setenv("DAGSTER_PG_USER", server.username)
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", server.password or "")
    monkeypatch.setenv("DAGSTER_PG_DB", dagster_db)

    inbox = tmp_path / "home" / "inbox"
    inbox.mkdir(parents=True)
    province = admin().provinces["37"]
    wb = Workbook()
    write_form(wb.active, FormContent("04", Identification(province=province.label, period=Period.parse("2026-H1"),
                                                           sender="Sở Công Thương Tỉnh Ninh Bình"),
                                      {"1": 12, "2": 480.5, "3": 9, "4": 350.25}))
    wb.save(inbox / "bieu04_37.xlsx")

    with DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        result = defs.resolve_job_def("ingest").execute_in_process(
            instance=instance,
            resources={"ccn": CCNResource(home=str(tmp_path / "home"), inbox=str(inbox), warehouse_url=pg_url)})
        assert result.success
        run_id = result.run_id

    dagster_engine = create_engine(server.set(database=dagster_db))
    with dagster_engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM runs WHERE run_id = :r"), {"r": run_id}).scalar() == "SUCCESS"
        kinds = dict(conn.execute(text("SELECT dagster_event_type, COUNT(*) FROM event_logs WHERE run_id = :r "
                                       "GROUP BY dagster_event_type"), {"r": run_id}).all())
    dagster_engine.dispose()
    assert kinds["ASSET_MATERIALIZATION"] >= 7 and kinds["ASSET_CHECK_EVALUATION"] >= 1

    warehouse = create_engine(pg_url)
    with warehouse.connect() as conn:
        rows = dict(conn.execute(text("SELECT indicator_code, value FROM mart_indicator_values "
                                      "WHERE unit_key = '37'")).all())
        expected_04 = conn.execute(text("SELECT COUNT(*) FROM expected_report WHERE period = '2026-H1' "
                                        "AND form = '04'")).scalar()
    warehouse.dispose()
    assert rows["2"] == pytest.approx(480.5) and rows["4"] == pytest.approx(350.25)
    assert expected_04 == 34
