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

from tests.test_definitions import facts

pytestmark = pytest.mark.slow  # starts dagster-webserver: ~10-30 s

ROOT = Path(__file__).resolve().parent.parent
QUERY = """
{ repositoriesOrError { ... on RepositoryConnection { nodes {
    sensors { name sensorState { status } }
    schedules { name executionTimezone }
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
    with open(tmp_path / "webserver.log", "wb") as log:
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


def test_webserver_shows_assets_checks_sensor_schedules(webserver):
    """The code location the webserver loads is the one tests/test_definitions.py snapshots in process: the same
    assets in the same groups, checks, jobs, schedules and sensor (the wiring itself is pinned there)."""
    data = None
    for _ in range(30):  # the code location may still be loading right after start-up
        data = _post(webserver, QUERY)
        nodes = (data.get("data") or {}).get("repositoriesOrError", {}).get("nodes")
        if nodes:
            break
        time.sleep(2)
    assert nodes, data
    repo = nodes[0]
    wired = facts()

    def named(kind: str, fact: str) -> dict[str, object]:
        return {k.split(" ")[1]: v for k, v in wired.items() if k.startswith(f"{kind} ") and k.endswith(f" {fact}")}

    assets = {"/".join(a["assetKey"]["path"]): a for a in repo["assetNodes"]}
    assert {k: a["groupName"] for k, a in assets.items()} == named("asset", "group")
    for key, node in assets.items():
        assert node["description"] and node["owners"], key
        assert node["isPartitioned"] == (wired[f"asset {key} partitions"] is not None), key
    checks = {f"{key}:{c['name']}" for key, a in assets.items() for c in a["assetChecksOrError"]["checks"]}
    assert checks == {k.split(" ")[1] for k in wired if k.startswith("check ")}
    assert "2026-H1|37 Ninh Bình" in assets["province_reports"]["partitionKeys"]  # the grid names provinces
    assert len(assets["province_reports"]["partitionKeys"]) == 34 * len(assets["province_summary"]["partitionKeys"])

    assert {s["name"] for s in repo["sensors"]} == set(named("sensor", "job"))
    schedules = {s["name"]: s["executionTimezone"] for s in repo["schedules"]}
    assert schedules == named("schedule", "timezone")
    assert set(named("job", "executor")) <= {j["name"] for j in repo["jobs"]}
