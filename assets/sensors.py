"""The inbox sensor (wiring only): it lists the inbox and compares each file's name, size and modification
time with its cursor — it never opens a workbook.  What is new at a tick gets **one** run of the ``ingest`` job
(a run archives and ingests everything new in the inbox, so a burst of 17,000 files is one run, not 17,000).
The run key is the content hash of what is new: the file's SHA-256 when one file arrived (the same bytes dropped
again, under another name or with a new modification time, never run twice), and for several files the SHA-256
of their sorted hashes (the same set seen again never runs twice; a repeat inside a new set costs a run that
finds nothing new to archive).
"""


import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, SkipReason, sensor

from assets.jobs import ingest_job
from pipelines.intake.archive import scan_inbox, sha256_of
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


def run_request(files: list[tuple[str, str]]) -> RunRequest:
    """The one request for the new files of a tick, given as (relative name, SHA-256)."""
    hashes = sorted({sha for _, sha in files})
    if len(hashes) == 1:
        key = hashes[0]
    else:
        key = "batch-" + hashlib.sha256("\n".join(hashes).encode()).hexdigest()
    names = sorted(name for name, _ in files)
    shown = ", ".join(names[:5]) + (f" … (+{len(names) - 5})" if len(names) > 5 else "")
    tags = {"ccn/files": str(len(names)), "ccn/file": shown[:200]}
    if len(hashes) == 1:
        tags["ccn/sha256"] = hashes[0]
    return RunRequest(run_key=key, tags=tags)


@sensor(job=ingest_job, minimum_interval_seconds=30, default_status=DefaultSensorStatus.RUNNING,
        description="Lists $CCN_HOME/inbox every 30 s and starts one `ingest` run for what is new or changed (run "
                    "key: the file's SHA-256, or for several files the SHA-256 of their sorted hashes). Only "
                    "names, sizes and modification times are compared; no workbook is opened.")
def inbox_sensor(context: SensorEvaluationContext):
    inbox = settings().inbox
    changes, cursor = inbox_changes(inbox, context.cursor)
    files = []
    for change in changes:
        try:
            files.append((change.relative, sha256_of(change.path)))
        except OSError:  # gone or still being written: it is seen again on the next tick
            continue
    if not files:
        return SensorResult(skip_reason=SkipReason(f"nothing new in {inbox}"), cursor=cursor)
    return SensorResult(run_requests=[run_request(files)], cursor=cursor)
