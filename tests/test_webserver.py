"""The Dagster webserver started on workspace.yaml shows, through its GraphQL API, every asset with its group and
owners, the asset checks, the inbox sensor, the deadline schedules and both jobs.  The server runs on
127.0.0.1 on a free port, is waited for with a bound and is always killed."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
QUERY = """
{ repositoriesOrError { ... on RepositoryConnection { nodes {
    sensors { name sensorState { status } }
    schedules { name cronSchedule executionTimezone }
    jobs { name }
    assetNodes { assetKey { path } groupName isPartitioned description partitionKeys
                 owners { ... on TeamAssetOwner { team } }
                 assetChecksOrError { ... on AssetChecks { checks { name } } } }
} } } }
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, query: str) -> dict:
    req = urllib.request.Request(url, data=json.dumps({"query": query}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


@pytest.fixture
def webserver(tmp_path):
    port = _free_port()
    env = dict(os.environ, DAGSTER_HOME=str(tmp_path / "dagster"), CCN_HOME=str(tmp_path / "home"))
    (tmp_path / "dagster").mkdir()
    (tmp_path / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    exe = Path(sys.executable).with_name("dagster-webserver")
    log = open(tmp_path / "webserver.log", "wb")  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen([str(exe), "-w", str(ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail("dagster-webserver exited: " + (tmp_path / "webserver.log").read_text()[-2000:])
            try:
                with urllib.request.urlopen(base + "/server_info", timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("dagster-webserver did not answer within 180 s")
                time.sleep(1)
        yield base + "/graphql"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=20)
        log.close()


def test_webserver_shows_assets_checks_sensor_schedules(webserver):
    from validations.catalogue import rules

    data = None
    for _ in range(30):  # the code location may still be loading right after start-up
        data = _post(webserver, QUERY)
        nodes = (data.get("data") or {}).get("repositoriesOrError", {}).get("nodes")
        if nodes:
            break
        time.sleep(2)
    assert nodes, data
    repo = nodes[0]
    assets = {"/".join(a["assetKey"]["path"]): a for a in repo["assetNodes"]}
    groups = {
        "inbox_files": "ingest", "submissions": "ingest", "indicator_values": "ingest",
        "validation_findings": "validate", "warehouse": "load", "national_summary": "summaries",
        "expected_reports": "summaries", "reporting_completeness": "reporting", "province_summary": "reporting",
        "region_summary": "reporting", "cluster_status": "reporting", "province_reports": "reporting",
        "national_report": "exports",
    }
    assert {k: assets[k]["groupName"] for k in groups} == groups
    for key, node in assets.items():
        assert node["description"] and node["owners"], key
    for key in ("reporting_completeness", "province_summary", "cluster_status", "national_report"):
        assert assets[key]["isPartitioned"]
        assert {"2025-H1", "2025-Y", "2026-H1"} <= set(assets[key]["partitionKeys"])
    assert "2026-H1|37" in assets["province_reports"]["partitionKeys"]
    assert len(assets["province_reports"]["partitionKeys"]) == 34 * len(assets["province_summary"]["partitionKeys"])
    assert not assets["inbox_files"]["isPartitioned"]

    checks = {c["name"] for c in assets["warehouse"]["assetChecksOrError"]["checks"]}
    assert checks == {f"rules_{rule_id.split('.')[0]}" for rule_id in rules()}
    assert {c["name"] for c in assets["reporting_completeness"]["assetChecksOrError"]["checks"]} == \
        {"all_expected_reports_received"}
    assert {c["name"] for c in assets["province_summary"]["assetChecksOrError"]["checks"]} == \
        {"province_matches_communes"}

    assert [s["name"] for s in repo["sensors"]] == ["inbox_sensor"]
    schedules = {s["name"]: s for s in repo["schedules"]}
    assert set(schedules) == {"after_deadline_projects_clusters", "after_deadline_communes",
                              "after_deadline_provinces"}
    assert {s["executionTimezone"] for s in schedules.values()} == {"Asia/Ho_Chi_Minh"}
    crons = " ".join(s["cronSchedule"] for s in schedules.values())
    for when in ("15 0 20 6 *", "15 0 20 12 *", "15 0 25 6 *", "15 0 25 12 *", "15 0 30 6 *", "15 0 31 12 *"):
        assert when in crons
    assert {"ingest", "period_refresh"} <= {j["name"] for j in repo["jobs"]}
