"""The inbox sensor (wiring only): it lists the inbox and starts one run of the ``ingest`` job for the files the
archive has not recorded under their name, size and modification time — it never opens a workbook.  A run
archives and ingests everything new in the inbox, so a burst of 17,000 files is one run, not 17,000.

What is known is the archive's own record (``file_arrival``), not the cursor: a tick over files a run (or
``ccn run``) has already loaded starts nothing.  The cursor holds only the files requested and not archived
yet, each with the time it was requested, so that a run still working is not asked for again; it empties as
runs archive, and a file still unarchived after ``REQUEST_AGAIN_AFTER`` seconds (its run failed) is requested
again, under a key of its own.  The run key is the content hash of what is new: the file's SHA-256 when one
file arrived (the same bytes dropped again, under another name or with a new modification time, never run
twice), and for several files the SHA-256 of their sorted hashes.
"""


import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, SkipReason, sensor

from assets.jobs import ingest_job
from pipelines.intake.archive import InboxFile, sha256_of, unknown_files
from pipelines.settings import settings
from schemas.database import engine_if_present

REQUEST_AGAIN_AFTER = 600  # seconds: longer than any run takes to archive what it was started for


@dataclass(frozen=True)
class InboxChange:
    relative: str
    path: Path
    size: int
    mtime_ns: int
    again: bool = False  # requested before, and still not archived REQUEST_AGAIN_AFTER seconds later


def inbox_changes(unknown: list[InboxFile], cursor: str | None, now: float) -> tuple[list[InboxChange], list]:
    """Of the files the archive does not know, those no request of the last ``REQUEST_AGAIN_AFTER`` seconds
    covers; and the requests that still stand ([name, size, mtime, requested at] each, for the next cursor)."""
    requested = {(r[0], r[1], r[2]): r[3] for r in (json.loads(cursor).get("requested", []) if cursor else [])}
    changes, standing = [], []
    for f in unknown:
        at = requested.get((f.relative, f.size, f.mtime_ns))
        if at is not None and now - at < REQUEST_AGAIN_AFTER:
            standing.append([f.relative, f.size, f.mtime_ns, at])
        else:
            changes.append(InboxChange(f.relative, f.path, f.size, f.mtime_ns, again=at is not None))
    return changes, standing


def _cursor(requested: list) -> str:
    return json.dumps({"requested": sorted(requested)}, separators=(",", ":"))


def run_request(files: list[tuple[str, str]], again_at: float | None = None) -> RunRequest:
    """The one request for the new files of a tick, given as (relative name, SHA-256).  ``again_at``: some were
    requested before and their run did not archive them; the key then carries the time, because Dagster starts
    nothing for a run key it has already used."""
    hashes = sorted({sha for _, sha in files})
    if len(hashes) == 1:
        key = hashes[0]
    else:
        key = "batch-" + hashlib.sha256("\n".join(hashes).encode()).hexdigest()
    if again_at is not None:
        key += f"-again-{int(again_at)}"
    names = sorted(name for name, _ in files)
    shown = ", ".join(names[:5]) + (f" … (+{len(names) - 5})" if len(names) > 5 else "")
    tags = {"ccn/files": str(len(names)), "ccn/file": shown[:200]}
    if len(hashes) == 1:
        tags["ccn/sha256"] = hashes[0]
    return RunRequest(run_key=key, tags=tags)


@sensor(job=ingest_job, minimum_interval_seconds=30, default_status=DefaultSensorStatus.RUNNING,
        description="Lists $CCN_HOME/inbox every 30 s and starts one `ingest` run for the files the archive has "
                    "not recorded (run key: the file's SHA-256, or for several files the SHA-256 of their sorted "
                    "hashes). Only names, sizes and modification times are compared; no workbook is opened.")
def inbox_sensor(context: SensorEvaluationContext):
    config = settings()
    engine = engine_if_present(config.warehouse_url)
    try:
        unknown = unknown_files(engine, config.inbox)
    finally:
        if engine is not None:
            engine.dispose()
    now = time.time()
    changes, requested = inbox_changes(unknown, context.cursor, now)
    files, again = [], False
    for change in changes:
        try:
            files.append((change.relative, sha256_of(change.path)))
        except OSError:  # gone or still being written: it is seen again on the next tick
            continue
        requested.append([change.relative, change.size, change.mtime_ns, now])
        again = again or change.again
    if not files:
        return SensorResult(skip_reason=SkipReason(f"nothing new in {config.inbox}"), cursor=_cursor(requested))
    return SensorResult(run_requests=[run_request(files, now if again else None)], cursor=_cursor(requested))
