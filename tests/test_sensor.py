"""The inbox sensor, evaluated by Dagster with its cursor as files appear, change and repeat: exactly the new
files get a run, keyed by their content hash, and no workbook is ever opened by the sensor."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
from openpyxl import Workbook

from pipelines.templates import FormContent, Identification, write_form
from schemas.periods import Period


def _workbook(path: Path, commune_code: str, value: float) -> str:
    """A Biểu 03 of a real commune; returns its SHA-256."""
    from schemas.admin import admin

    a = admin()
    commune = a.communes[commune_code]
    province = a.provinces[commune.province_code]
    wb = Workbook()
    ws = wb.active
    ws.title = "Biểu 03"
    write_form(ws, FormContent("03", Identification(province=province.label, commune=commune.label,
                                                    period=Period.parse("2026-H1")), {"1": value, "2": 30.0}))
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tick(instance, cursor):
    from dagster import build_sensor_context

    from pipelines.sensors import inbox_sensor

    context = build_sensor_context(instance=instance, cursor=cursor)
    result = inbox_sensor.evaluate_tick(context)
    return result


@pytest.fixture
def sensor_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / "inbox").mkdir(parents=True)
    monkeypatch.setenv("CCN_HOME", str(home))
    monkeypatch.setenv("CCN_WAREHOUSE_URL", f"sqlite:///{home / 'warehouse.sqlite'}")
    return home


def test_sensor_runs_exactly_the_new_files(sensor_home, monkeypatch):
    from dagster import DagsterInstance

    import pipelines.reader

    def never(*_a, **_k):  # the sensor lists files; it must never parse one
        raise AssertionError("the sensor opened a workbook")

    monkeypatch.setattr(pipelines.reader, "read_workbook", never)
    monkeypatch.setattr(pipelines.reader, "read_sheet", never)
    inbox = sensor_home / "inbox"
    instance = DagsterInstance.ephemeral()

    first = _tick(instance, None)
    assert first.run_requests == [] and first.skip_message

    a = _workbook(inbox / "01_ha-noi" / "bieu03_a.xlsx", "00004", 3)
    b = _workbook(inbox / "bieu03_b.xlsx", "00008", 4)
    (inbox / "~$bieu03_a.xlsx").write_bytes(b"office lock file")  # ignored, like the pipeline does
    second = _tick(instance, first.cursor)
    assert sorted(r.run_key for r in second.run_requests) == sorted([a, b])
    assert {r.tags["ccn/file"] for r in second.run_requests} == {"01_ha-noi/bieu03_a.xlsx", "bieu03_b.xlsx"}
    from pipelines.sensors import inbox_sensor

    assert inbox_sensor.job_name == "ingest" and all(r.job_name in (None, "ingest") for r in second.run_requests)

    # nothing changed: no run
    third = _tick(instance, second.cursor)
    assert third.run_requests == []

    # one new file (not even a workbook: the sensor does not care), one rewritten, one untouched
    (inbox / "ghi_chu.txt").write_text("không phải biểu mẫu", encoding="utf-8")
    c = hashlib.sha256((inbox / "ghi_chu.txt").read_bytes()).hexdigest()
    b2 = _workbook(inbox / "bieu03_b.xlsx", "00008", 5)
    assert b2 != b
    fourth = _tick(instance, third.cursor)
    assert sorted(r.run_key for r in fourth.run_requests) == sorted([c, b2])

    # the same bytes again under another name, and a touched file: the run key is the content hash, so the
    # requests repeat keys Dagster has already used and start nothing new
    shutil.copy(inbox / "01_ha-noi" / "bieu03_a.xlsx", inbox / "gui_lai.xlsx")
    st = (inbox / "bieu03_b.xlsx").stat()
    os.utime(inbox / "bieu03_b.xlsx", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    fifth = _tick(instance, fourth.cursor)
    assert sorted(r.run_key for r in fifth.run_requests) == sorted([a, b2])

    # a deleted file leaves the cursor; if it comes back it is new again
    (inbox / "ghi_chu.txt").unlink()
    sixth = _tick(instance, fifth.cursor)
    assert sixth.run_requests == [] and "ghi_chu.txt" not in sixth.cursor


def test_sensor_requests_run_the_ingest_job(sensor_home):
    """A requested run, executed, loads exactly the files the sensor saw."""
    from dagster import DagsterInstance
    from sqlalchemy import text

    from pipelines.definitions import defs
    from schemas.warehouse import make_engine

    inbox = sensor_home / "inbox"
    instance = DagsterInstance.ephemeral()
    hashes = {_workbook(inbox / f"bieu03_{code}.xlsx", code, 2) for code in ("00004", "00008", "00025")}
    tick = _tick(instance, None)
    assert {r.run_key for r in tick.run_requests} == hashes
    job = defs.resolve_job_def("ingest")
    for request in tick.run_requests:
        assert job.execute_in_process(instance=instance, tags=request.tags).success
    engine = make_engine(f"sqlite:///{sensor_home / 'warehouse.sqlite'}")
    with engine.connect() as conn:
        loaded = {r[0] for r in conn.execute(text("SELECT sha256 FROM received_file"))}
        units = {r[0] for r in conn.execute(text("SELECT unit_key FROM submission WHERE status LIKE 'accepted%'"))}
    engine.dispose()
    assert loaded == hashes
    assert units == {"00004", "00008", "00025"}
