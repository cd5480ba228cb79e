"""The Dagster code location, in process and without a webserver: every asset with its group, owners, kinds,
dependencies and partitions, the asset checks, the jobs and what they select, the schedules and the sensor,
compared fact by fact with ``tests/snapshots/dagster_definitions.json``.

A wiring change that was not meant (an asset moved to another group, a dependency lost, a schedule's cron or
time zone edited, a job selecting one asset more) fails here with a diff.  A change that was meant is recorded by
running this test once with ``CCN_UPDATE_SNAPSHOT=1``: that run rewrites the file and still fails, so the new
snapshot is read in ``git diff`` and committed with the change, never accepted silently.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from dagster import MultiPartitionsDefinition, StaticPartitionsDefinition

from assets.checks import rule_families
from assets.definitions import defs
from assets.jobs import INGEST_ASSETS
from assets.partitions import PERIODS, province_key
from assets.schedules import TZ
from pipelines.report.completeness import period_codes
from pipelines.report.reminders import policy
from schemas.admin import admin
from schemas.forms import load_forms
from schemas.periods import VN_TZ, Period

SNAPSHOT = Path(__file__).parent / "snapshots" / "dagster_definitions.json"
UPDATE = "CCN_UPDATE_SNAPSHOT"
PERIOD_KEYS = period_codes(until=datetime.now(VN_TZ).date())
LISTED = 40  # a static partitions definition with more keys than this is shown by its count, first and last key


def _names(keys) -> str | None:
    return ", ".join(sorted(k.to_user_string() for k in keys)) or None


def _partitions(pdef) -> str | None:
    if pdef is None:
        return None
    if isinstance(pdef, MultiPartitionsDefinition):
        return "multi: " + "; ".join(f"{d.name} = {_partitions(d.partitions_def)}" for d in pdef.partitions_defs)
    assert isinstance(pdef, StaticPartitionsDefinition), f"a partitions kind this snapshot cannot show: {pdef!r}"
    keys = pdef.get_partition_keys()
    if keys == PERIOD_KEYS:  # they grow with the calendar: the snapshot names the rule, a test checks the keys
        return f"static: periods {keys[0]} to those begun on the day the definitions load"
    if len(keys) <= LISTED:
        return "static: " + ", ".join(keys)
    return f"static: {len(keys)} keys, {keys[0]} … {keys[-1]}"


def facts() -> dict[str, object]:
    """What the definitions wire, one fact per entry (values are text, numbers, booleans or null)."""
    graph = defs.resolve_asset_graph()
    out: dict[str, object] = {}
    for key in graph.get_all_asset_keys():
        node, name = graph.get(key), key.to_user_string()
        out[f"asset {name} group"] = node.group_name
        out[f"asset {name} deps"] = _names(node.parent_keys)
        out[f"asset {name} owners"] = ", ".join(sorted(node.owners)) or None
        out[f"asset {name} kinds"] = ", ".join(sorted(node.kinds)) or None
        out[f"asset {name} partitions"] = _partitions(node.partitions_def)
    for check in graph.asset_check_keys:
        out[f"check {check.asset_key.to_user_string()}:{check.name} blocking"] = graph.get_check_spec(check).blocking
    for job in defs.resolve_all_job_defs():
        if job.name.startswith("__"):  # Dagster's implicit job of all assets
            continue
        out[f"job {job.name} assets"] = _names(job.asset_layer.selected_asset_keys)
        out[f"job {job.name} checks"] = ", ".join(sorted(f"{c.asset_key.to_user_string()}:{c.name}"
                                                         for c in job.asset_layer.asset_graph.asset_check_keys)) or None
        out[f"job {job.name} partitions"] = _partitions(job.partitions_def)
        out[f"job {job.name} executor"] = job.executor_def.name
    for sched in defs.schedules:
        crons = [sched.cron_schedule] if isinstance(sched.cron_schedule, str) else sched.cron_schedule
        out[f"schedule {sched.name} cron"] = "; ".join(crons)
        out[f"schedule {sched.name} timezone"] = sched.execution_timezone
        out[f"schedule {sched.name} job"] = sched.job_name
        out[f"schedule {sched.name} default status"] = sched.default_status.value
    for sensor in defs.sensors:
        out[f"sensor {sensor.name} job"] = sensor.job_name
        out[f"sensor {sensor.name} minimum interval seconds"] = sensor.minimum_interval_seconds
        out[f"sensor {sensor.name} default status"] = sensor.default_status.value
    for name, resource in (defs.resources or {}).items():
        out[f"resource {name}"] = type(resource).__name__
    return out


def render(found: dict[str, object]) -> str:
    return json.dumps(found, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def test_definitions_match_the_snapshot():
    now = render(facts())
    stored = SNAPSHOT.read_text(encoding="utf-8") if SNAPSHOT.exists() else ""
    if now == stored:
        return
    if os.environ.get(UPDATE) == "1":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(now, encoding="utf-8")
        pytest.fail(f"{SNAPSHOT.name} rewritten ({UPDATE}=1): review it with git diff, commit it with the change, "
                    f"and run the tests again without {UPDATE}", pytrace=False)
    diff = "\n".join(difflib.unified_diff(stored.splitlines(), now.splitlines(), f"{SNAPSHOT.name} (stored)",
                                          "assets/definitions.py (now)", lineterm="", n=1))
    pytest.fail(f"the Dagster definitions differ from tests/snapshots/{SNAPSHOT.name}:\n{diff}\n\nIf the change is "
                f"meant, run this test once with {UPDATE}=1 to rewrite the file, then review and commit it.",
                pytrace=False)


def test_snapshot_reads_what_the_wiring_says():
    """The facts come from the definitions as Dagster resolved them; a few are compared here with the constants
    the wiring is made of, so the snapshot cannot record a misreading."""
    found = facts()
    assert found["job ingest assets"] == ", ".join(sorted(INGEST_ASSETS))
    schedules = {k.split()[1] for k in found if k.startswith("schedule ")}
    for spec in load_forms().values():  # every form's legal deadline is a schedule's cron, 00:15 the first late day
        (name,) = (n for n in schedules if f"_{spec.sender_level}s" in n and n.startswith("after_deadline_"))
        for month_day in spec.deadline.values():
            month, day = (int(x) for x in month_day.split("-"))
            assert f"15 0 {day} {month} *" in found[f"schedule {name} cron"].split("; ")
        assert found[f"schedule {name} timezone"] == TZ
        # and two reminders: days_before ahead of it and on its first late day, at the hour of reminders.toml
        for kind, ahead in (("before", policy().days_before), ("after", 0)):
            (name,) = (n for n in schedules if f"_{spec.sender_level}s" in n and n.startswith(f"remind_{kind}_"))
            assert found[f"schedule {name} job"] == "remind" and found[f"schedule {name} timezone"] == TZ
            for month_day in spec.deadline.values():
                when = date(2001, *(int(x) for x in month_day.split("-"))) - timedelta(days=ahead)
                assert f"0 {policy().hour} {when.day} {when.month} *" in found[f"schedule {name} cron"].split("; ")
    periods = "static: periods 2024-Y to those begun on the day the definitions load"
    assert found["asset completeness partitions"] == periods
    assert found["asset province_reports partitions"] == \
        f"multi: period = {periods}; province = static: " + ", ".join(map(province_key, sorted(admin().provinces)))
    assert found["check warehouse:rules_value blocking"] is False
    assert {k for k in found if k.startswith("check warehouse:")} == \
        {f"check warehouse:rules_{family} blocking" for family in rule_families()}


def test_descriptions_read_in_the_ui():
    """The UI renders descriptions as Markdown, where ``<period>`` is swallowed as an HTML tag (issue 13): no
    description of an asset, check, job, schedule or sensor holds one."""
    graph = defs.resolve_asset_graph()
    texts = {f"asset {k.to_user_string()}": graph.get(k).description for k in graph.get_all_asset_keys()}
    texts |= {f"check {c.name}": graph.get_check_spec(c).description for c in graph.asset_check_keys}
    texts |= {f"job {j.name}": j.description for j in defs.resolve_all_job_defs()}
    texts |= {f"schedule {s.name}": s.description for s in defs.schedules or []}
    texts |= {f"sensor {s.name}": s.description for s in defs.sensors or []}
    assert sum(bool(t) for t in texts.values()) > 20  # the descriptions are really read
    tags = {name: re.findall(r"<[A-Za-z_][\w-]*>", text) for name, text in texts.items() if text}
    assert {name: found for name, found in tags.items() if found} == {}


def test_partitions_are_the_periods_begun_and_the_provinces_by_name():
    """The period partitions end with the period begun today (none that cannot have reports yet, as the 2035
    ones did), and the province grid reads ``01 Hà Nội``, not ``01``."""
    keys = PERIODS.get_partition_keys()
    today = datetime.now(VN_TZ).date()
    assert keys[0] == "2024-Y" and Period.parse(keys[-1]).start <= today
    assert all(Period.parse(k).start <= today for k in keys)
    assert province_key("01") == "01 Hà Nội" and province_key("79") == "79 Hồ Chí Minh"
