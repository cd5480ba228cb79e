"""The inbox sensor, evaluated by Dagster with its cursor as files appear, change and repeat: what is new at a
tick gets one run, keyed by its content hash, naming exactly the new files; no workbook is ever opened by the
sensor."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from openpyxl import Workbook

from pipelines.steward.templates import FormContent, Identification, write_form
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


def batch_key(*hashes: str) -> str:
    """The run key of several new files: the SHA-256 of their sorted content hashes."""
    return "batch-" + hashlib.sha256("\n".join(sorted(set(hashes))).encode()).hexdigest()


def _tick(instance, cursor):
    from dagster import build_sensor_context

    from assets.sensors import inbox_sensor

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

    import pipelines.read.workbook

    def never(*_a, **_k):  # the sensor lists files; it must never parse one
        raise AssertionError("the sensor opened a workbook")

    monkeypatch.setattr(pipelines.read.workbook, "read_workbook", never)
    monkeypatch.setattr(pipelines.read.workbook, "read_sheet", never)
    inbox = sensor_home / "inbox"
    instance = DagsterInstance.ephemeral()

    first = _tick(instance, None)
    assert first.run_requests == [] and first.skip_message

    a = _workbook(inbox / "01_ha-noi" / "bieu03_a.xlsx", "00004", 3)
    b = _workbook(inbox / "bieu03_b.xlsx", "00008", 4)
    (inbox / "~$bieu03_a.xlsx").write_bytes(b"office lock file")  # ignored, like the pipeline does
    second = _tick(instance, first.cursor)
    [request] = second.run_requests  # one run for the tick, however many files
    assert request.run_key == batch_key(a, b)
    assert request.tags["ccn/files"] == "2"
    assert request.tags["ccn/file"] == "01_ha-noi/bieu03_a.xlsx, bieu03_b.xlsx"
    from assets.sensors import inbox_sensor

    assert inbox_sensor.job_name == "ingest" and request.job_name in (None, "ingest")

    # nothing changed: no run
    third = _tick(instance, second.cursor)
    assert third.run_requests == []

    # one new file (not even a workbook: the sensor does not care), one rewritten, one untouched
    (inbox / "ghi_chu.txt").write_text("không phải biểu mẫu", encoding="utf-8")
    c = hashlib.sha256((inbox / "ghi_chu.txt").read_bytes()).hexdigest()
    b2 = _workbook(inbox / "bieu03_b.xlsx", "00008", 5)
    assert b2 != b
    fourth = _tick(instance, third.cursor)
    assert [r.run_key for r in fourth.run_requests] == [batch_key(c, b2)]

    # one file alone is keyed by its own hash: the same bytes again under another name repeat a key Dagster has
    # already used once, and start nothing new
    d = _workbook(inbox / "bieu03_d.xlsx", "00025", 6)
    fifth = _tick(instance, fourth.cursor)
    assert [(r.run_key, r.tags["ccn/sha256"], r.tags["ccn/files"]) for r in fifth.run_requests] == [(d, d, "1")]
    shutil.copy(inbox / "bieu03_d.xlsx", inbox / "gui_lai.xlsx")
    sixth = _tick(instance, fifth.cursor)
    assert [r.run_key for r in sixth.run_requests] == [d]

    # a touched file (same bytes, new modification time) is requested again under its own hash
    st = (inbox / "bieu03_b.xlsx").stat()
    os.utime(inbox / "bieu03_b.xlsx", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    seventh = _tick(instance, sixth.cursor)
    assert [r.run_key for r in seventh.run_requests] == [b2]

    # a deleted file leaves the cursor; if it comes back it is new again
    (inbox / "ghi_chu.txt").unlink()
    eighth = _tick(instance, seventh.cursor)
    assert eighth.run_requests == [] and "ghi_chu.txt" not in eighth.cursor


def test_sensor_requests_run_the_ingest_job(sensor_home):
    """A requested run, executed, loads exactly the files the sensor saw."""
    from dagster import DagsterInstance
    from sqlalchemy import text

    from assets.definitions import defs
    from schemas.database import make_engine

    inbox = sensor_home / "inbox"
    instance = DagsterInstance.ephemeral()
    hashes = {_workbook(inbox / f"bieu03_{code}.xlsx", code, 2) for code in ("00004", "00008", "00025")}
    tick = _tick(instance, None)
    [request] = tick.run_requests
    assert request.run_key == batch_key(*hashes) and request.tags["ccn/files"] == "3"
    job = defs.resolve_job_def("ingest")
    assert job.execute_in_process(instance=instance, tags=request.tags).success
    engine = make_engine(f"sqlite:///{sensor_home / 'warehouse.sqlite'}")
    with engine.connect() as conn:
        loaded = {r[0] for r in conn.execute(text("SELECT sha256 FROM received_file"))}
        units = {r[0] for r in conn.execute(text("SELECT unit_key FROM submission WHERE status LIKE 'accepted%'"))}
    engine.dispose()
    assert loaded == hashes
    assert units == {"00004", "00008", "00025"}
    # the archive knows them now: a tick starts nothing, even without a cursor (a new Dagster home, as right after
    # `make demo`), and the cursor holds no history
    for cursor in (None, tick.cursor):
        after = _tick(instance, cursor)
        assert after.run_requests == [] and json.loads(after.cursor) == {"requested": []}


def test_a_request_not_archived_is_made_again(sensor_home):
    """A requested file stays in the cursor until the archive records it; if its run failed and it is still not
    archived after REQUEST_AGAIN_AFTER seconds, it is requested again."""
    from assets.sensors import REQUEST_AGAIN_AFTER, inbox_changes, run_request
    from pipelines.intake.archive import scan_inbox

    _workbook(sensor_home / "inbox" / "bieu03.xlsx", "00004", 1)
    files = scan_inbox(sensor_home / "inbox")
    changes, standing = inbox_changes(files, None, 1000.0)
    assert [c.relative for c in changes] == ["bieu03.xlsx"] and standing == []
    cursor = json.dumps({"requested": [[f.relative, f.size, f.mtime_ns, 1000.0] for f in files]})
    changes, standing = inbox_changes(files, cursor, 1000.0 + REQUEST_AGAIN_AFTER - 1)
    assert changes == [] and [r[0] for r in standing] == ["bieu03.xlsx"]
    changes, standing = inbox_changes(files, cursor, 1000.0 + REQUEST_AGAIN_AFTER)
    assert [(c.relative, c.again) for c in changes] == [("bieu03.xlsx", True)] and standing == []
    # Dagster starts nothing for a run key it has used: the second request has a key of its own
    sha = hashlib.sha256((sensor_home / "inbox" / "bieu03.xlsx").read_bytes()).hexdigest()
    first, second = run_request([("bieu03.xlsx", sha)]), run_request([("bieu03.xlsx", sha)], 1600.0)
    assert first.run_key == sha and second.run_key == f"{sha}-again-1600"
