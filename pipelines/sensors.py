"""The inbox sensor (wiring only): it lists the inbox and compares each file's name, size and modification
time with its cursor — it never opens a workbook.  Every new or changed file gets a run of the ``ingest``
job whose run key is the file's SHA-256, so the same bytes dropped again (another name, a new modification
time) never run twice; the run archives and ingests what is new in the inbox.
"""


import json
from dataclasses import dataclass
from pathlib import Path

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, SkipReason, sensor

from pipelines.archive import scan_inbox, sha256_of
from pipelines.jobs import ingest_job
from pipelines.settings import settings


@dataclass(frozen=True)
class InboxChange:
    relative: str
    path: Path
    size: int
    mtime_ns: int


def inbox_changes(inbox: Path, cursor: str | None) -> tuple[list[InboxChange], str]:
    """Files whose (name, size, mtime) are not in the cursor, and the new cursor (JSON: name → [size, mtime])."""
    seen: dict[str, list[int]] = json.loads(cursor) if cursor else {}
    now: dict[str, list[int]] = {}
    changes = []
    for f in scan_inbox(inbox):
        now[f.relative] = [f.size, f.mtime_ns]
        if seen.get(f.relative) != [f.size, f.mtime_ns]:
            changes.append(InboxChange(f.relative, f.path, f.size, f.mtime_ns))
    return changes, json.dumps(now, sort_keys=True, separators=(",", ":"))


@sensor(job=ingest_job, minimum_interval_seconds=30, default_status=DefaultSensorStatus.RUNNING,
        description="Lists $CCN_HOME/inbox every 30 s and starts `ingest` for each new or changed file (run key: "
                    "the file's SHA-256). Only names, sizes and modification times are compared; no workbook "
                    "is opened.")
def inbox_sensor(context: SensorEvaluationContext):
    inbox = settings().inbox
    changes, cursor = inbox_changes(inbox, context.cursor)
    if not changes:
        return SensorResult(skip_reason=SkipReason(f"nothing new in {inbox}"), cursor=cursor)
    requests = []
    for change in changes:
        try:
            sha = sha256_of(change.path)
        except OSError:  # gone or still being written: it is seen again on the next tick
            continue
        requests.append(RunRequest(run_key=sha, tags={"ccn/file": change.relative[:200], "ccn/sha256": sha}))
    return SensorResult(run_requests=requests, cursor=cursor)
