"""From archived files to submissions: read every workbook not read yet, identify each report, and record it
(``pending``) with its values and structure findings.  Files are written in batches (``CCN_WRITE_BATCH``, default
250), one transaction per batch with bulk inserts, so a crash leaves every file either wholly recorded or not at
all; the next run picks up what is left.

Each transaction first claims its files (``state`` archived → read): when two runs read the same inbox at
once, the second waits for the first's commit and then skips those files instead of recording them twice.  A
transaction cut by a lost database connection is retried (``RETRIES``); the guarantees are in
docs/reliability.md.
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path, PurePosixPath

from sqlalchemy import select, update
from sqlalchemy.engine import Engine, Row
from sqlalchemy.exc import DBAPIError

from pipelines import faults
from pipelines.intake import safety
from pipelines.read.identify import Identity, repeated_units, resolve_units
from pipelines.read.report import IndicatorValue
from pipelines.read.workbook import read_workbook
from pipelines.settings import write_batch
from schemas.admin import admin
from schemas.database import bulk_insert, chunks, insert_ignore
from schemas.forms import load_forms
from schemas.keys import cluster_id, cluster_key, project_key
from schemas.periods import VN_TZ
from schemas.status import Status
from schemas.tables import (
    cluster,
    cluster_alias,
    indicator_value,
    project,
    received_file,
    submission,
    validation_finding,
)
from validations.catalogue import Finding, finding

log = logging.getLogger(__name__)

PARALLEL_FROM = 64  # files; below this a process pool costs more than it saves
FILES_PER_TASK = 16  # files handed to a worker process at once: fewer hand-offs, results still come back in order
RETRIES = 3  # attempts at one file's transaction when the database connection is lost
NOTE_RULES = {safety.NOTE_MACROS: "file.macros_ignored", safety.NOTE_LINKS: "file.external_links_ignored"}


@dataclass
class ParsedSubmission:
    """One report read from a file: who sent it for which period (``identity``, as pipelines/read/identify.py
    resolved it; its findings are moved into ``findings``) and what the report itself holds."""
    sheet: str | None
    form: str | None
    identity: Identity = field(default_factory=Identity)
    wording: str | None = None
    sector: str | None = None
    values: list[IndicatorValue] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def period_code(self) -> str | None:
        """The period's code as ``submission.period`` stores it (``2026-H1``)."""
        return self.identity.period.code if self.identity.period else None


@dataclass
class ParsedFile:
    sha256: str
    submissions: list[ParsedSubmission]


def parse_file(sha: str, archive_path: str, file_name: str, source_path: str) -> ParsedFile:
    """Read and identify one archived file (runs in a worker process for large batches)."""

    try:
        return _parse(sha, Path(archive_path), file_name, source_path)
    except Exception:  # a reader defect on one file must not stop the run
        log.exception("the reader failed on %s (%s)", file_name, archive_path)  # the exception: for the log only
        vi = "chương trình đọc bị lỗi khi đọc tệp này; cán bộ quản lý dữ liệu sẽ kiểm tra"
        en = "the reader failed on this file; the data steward will look into it"
        return ParsedFile(sha, [ParsedSubmission(sheet=None, form=None, findings=[
            finding("file.unreadable", reason_vi=vi, reason_en=en)])])


def _parse(sha: str, path, file_name: str, source_path: str) -> ParsedFile:
    try:  # safe to read but worth a steward's eye (the reader inspects again and refuses what is not safe)
        notes = [finding(NOTE_RULES[n]) for n in safety.inspect(path).notes]
    except safety.Refused:
        notes = []
    reading = read_workbook(path, name=file_name)
    folders = list(PurePosixPath(source_path).parts[:-1])
    subs = []
    for report in reading.reports:
        ident = resolve_units(report, file_name, folders)
        conflict = folder_conflict(ident.province_code, folders, report.sheet)
        subs.append(ParsedSubmission(
            sheet=report.sheet, form=report.form, identity=replace(ident, findings=[]), wording=report.wording,
            sector=report.header.get("sector", (None,))[0], values=list(report.values.values()),
            findings=report.findings + ident.findings + notes + conflict,
        ))
    if not subs:  # the file as a whole failed: it is recorded as one rejected submission with the reason
        subs.append(ParsedSubmission(sheet=None, form=None, findings=reading.findings))
    return ParsedFile(sha, subs)


@lru_cache(maxsize=1024)
def _provinces_named(folders: tuple[str, ...]) -> frozenset[str]:
    return frozenset(u.province_code for f in folders
                     for u in admin().find_province(f.replace("_", " ").replace("-", " ")))


def folder_conflict(province_code: str | None, folders: list[str], sheet: str | None) -> list:
    """An error when the inbox folders name exactly one province and the workbook names another.

    A province's folder is where its own offices deliver; a report for another province found there is either
    misfiled or an attempt to replace that province's figures, and a steward must decide which.
    """
    if not province_code:
        return []
    named = _provinces_named(tuple(folders))
    if len(named) != 1 or province_code in named:
        return []
    folder = next(iter(named))
    names = admin().provinces
    return [finding("identity.province_folder_conflict", sheet=sheet,
                    folder=names[folder].name if folder in names else folder,
                    inside=names[province_code].name if province_code in names else province_code)]


def _parse_args(row) -> tuple[str, str, str, str]:
    return row.sha256, row.archive_path, row.file_name, row.source_path


def _parse_star(args) -> ParsedFile:
    return parse_file(*args)


def ingest_archived(engine: Engine, run_id: str, progress=None, workers: int | None = None) -> int:
    """Read every archived file that has no submissions yet; returns the number of files read."""
    with engine.connect() as conn:
        rows = conn.execute(select(received_file).where(received_file.c.state == "archived")
                            .order_by(received_file.c.received_at)).all()
    if not rows:
        return 0
    meta = {r.sha256: r for r in rows}
    args = [_parse_args(r) for r in rows]
    workers = workers if workers is not None else min(os.cpu_count() or 1, 4)
    writer = _Writer(engine, run_id)
    faults.pause("before-read")
    batch: list[tuple[ParsedFile, Row]] = []
    batch_size = write_batch()
    done = 0

    def flush() -> None:
        nonlocal done
        writer.write(batch)
        done += len(batch)
        batch.clear()
        if progress:
            progress(done, len(args))

    if len(args) >= PARALLEL_FROM and workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            parsed_files = pool.map(_parse_star, args, chunksize=FILES_PER_TASK)
            for parsed in parsed_files:
                batch.append((parsed, meta[parsed.sha256]))
                if len(batch) >= batch_size:
                    flush()
    else:
        for a in args:
            batch.append((parse_file(*a), meta[a[0]]))
            if len(batch) >= batch_size:
                flush()
    if batch:
        flush()
    return len(args)


class _Writer:
    """Writes parsed files into the warehouse, registering clusters and projects first seen in a report."""

    def __init__(self, engine: Engine, run_id: str) -> None:
        self.engine = engine
        self.run_id = run_id
        self.written = 0  # files recorded by this writer
        self._added: tuple[list, list] = ([], [])
        self._new_projects: list[dict] = []  # projects first seen in the batch being written
        self.forms = load_forms()
        with engine.connect() as conn:
            self.aliases = {(r.province_code, r.alias_key): r.cluster_id for r in conn.execute(select(cluster_alias))}
            self.projects = {r[0] for r in conn.execute(select(project.c.project_key))}

    def _cluster(self, conn, province_code: str, name: str, commune_code: str | None, now: datetime) -> str:
        key = (province_code, cluster_key(name))
        found = self.aliases.get(key)
        if found:
            return found
        cid = cluster_id(province_code, name)
        insert_ignore(conn, cluster, {"cluster_id": cid, "name": name, "province_code": province_code,
                                      "commune_code": commune_code, "verified": False, "source": "report",
                                      "created_at": now})
        insert_ignore(conn, cluster_alias, {"province_code": province_code, "alias_key": key[1], "cluster_id": cid,
                                            "alias": name})
        cid = conn.execute(select(cluster_alias.c.cluster_id).where(
            cluster_alias.c.province_code == key[0], cluster_alias.c.alias_key == key[1])).scalar_one()
        self.aliases[key] = cid
        self._added[0].append(key)
        return cid

    def write(self, batch: list[tuple[ParsedFile, Row]]) -> int:
        """Record a batch of parsed files in one transaction; returns how many this run recorded (a file that
        another run recorded first is skipped)."""
        for attempt in range(1, RETRIES + 1):
            added_aliases: list[tuple[str, str]] = []
            added_projects: list[str] = []
            try:
                written = self._write(batch, added_aliases, added_projects)
            except DBAPIError as exc:
                for key in added_aliases:  # rolled back with the transaction: forget them
                    self.aliases.pop(key, None)
                self.projects.difference_update(added_projects)
                if not exc.connection_invalidated or attempt == RETRIES:
                    raise
                time.sleep(0.2 * attempt)
                continue
            self.written += written
            return written
        return 0

    def _write(self, batch: list[tuple[ParsedFile, Row]], added_aliases: list, added_projects: list) -> int:
        now = datetime.now(tz=VN_TZ)
        self._added = (added_aliases, added_projects)
        rf = received_file.c
        with self.engine.begin() as conn:
            claimed: set[str] = set()
            shas = [parsed.sha256 for parsed, _ in batch]
            for part in chunks(shas):
                claimed.update(conn.execute(update(received_file).where(
                    rf.sha256.in_(part), rf.state == "archived").values(state="read")
                    .returning(rf.sha256)).scalars())
            rows, contents = [], []
            self._new_projects = []
            for parsed, meta in batch:
                if parsed.sha256 not in claimed:
                    continue  # another run read this file (its transaction has committed)
                received_at: datetime = meta.received_at
                file_rows = [self._submission_row(conn, sub, meta, received_at, now) for sub in parsed.submissions]
                repeated = repeated_units([(sub.sheet, sub.form, sub.period_code, row["unit_key"], row["unit_name"])
                                           for sub, row in zip(parsed.submissions, file_rows, strict=True)])
                for sub, row, again in zip(parsed.submissions, file_rows, repeated, strict=True):
                    findings = list(sub.findings) + again
                    if row["is_late"]:
                        findings.append(finding("timeliness.late", sheet=sub.sheet,
                                                received=received_at.strftime("%Y-%m-%d %H:%M"),
                                                deadline=row["deadline"].strftime("%Y-%m-%d %H:%M")))
                    row["errors"] = sum(f.is_error for f in findings)
                    row["warnings"] = len(findings) - row["errors"]
                    rows.append(row)
                    contents.append((sub, findings))
            insert_ignore(conn, project, self._new_projects)
            if rows:
                ids = conn.execute(submission.insert().returning(submission.c.submission_id,
                                                                 sort_by_parameter_order=True), rows).scalars().all()
                values, found = [], []
                for sid, (sub, findings) in zip(ids, contents, strict=True):
                    if sub.values and sub.form:  # values are read only under a known form
                        units = self.forms[sub.form].rows_by_code
                        values += [{"submission_id": sid, "indicator_code": v.code, "value": v.value, "raw": v.raw,
                                    "sheet": sub.sheet, "cell": v.cell, "unit": units[v.code].unit,
                                    "note": v.note or None}
                                   for v in sub.values]
                    found += [{"submission_id": sid, "rule_id": f.rule_id, "severity": f.severity, "sheet": f.sheet,
                               "cell": f.cell, "indicator_code": f.indicator_code, "message": f.message,
                               "expected": f.expected, "created_at": now} for f in findings]
                bulk_insert(conn, indicator_value, values)
                bulk_insert(conn, validation_finding, found)
            for i in range(len(claimed)):
                faults.pause(f"read:{self.written + i}", conn)
        return len(claimed)

    def _submission_row(self, conn, sub: ParsedSubmission, meta, received_at: datetime, now: datetime) -> dict:
        who = sub.identity
        spec = self.forms.get(sub.form) if sub.form else None
        deadline = None
        if spec and who.period:
            deadline = who.period.deadline(spec.deadline[who.period.kind])
        unit_key = unit_name = cid = pkey = None
        if spec and who.province_code:
            level = spec.sender_level
            if level == "province" and who.generation == "pre2025" and who.old_province_code:
                # a pre-2025 province reported on its own; its 2025 successor is province_code
                unit_key, unit_name = who.old_province_code, who.old_province_name
            elif level == "province":
                unit_key, unit_name = who.province_code, who.province_name
            elif level == "commune" and who.generation == "pre2025" and who.district_code:
                unit_key, unit_name = who.district_code, who.district_name  # Biểu 03 came from districts then
            elif level == "commune" and who.commune_code:
                unit_key, unit_name = who.commune_code, who.commune_name
            elif level in ("cluster", "project") and who.cluster_name and who.province_code:
                cid = self._cluster(conn, who.province_code, who.cluster_name, who.commune_code, now)
                if level == "cluster":
                    unit_key, unit_name = cid, who.cluster_name
                elif who.project_name or who.tax_code:
                    pkey = project_key(cid, who.tax_code, who.project_name)
                    if pkey not in self.projects:  # registered with the batch, before its submissions
                        self._new_projects.append({"project_key": pkey, "cluster_id": cid, "name": who.project_name,
                                                   "tax_code": who.tax_code, "sector": sub.sector})
                        self.projects.add(pkey)
                        self._added[1].append(pkey)
                    unit_key, unit_name = pkey, who.project_name or who.tax_code
        return {
            "sha256": meta.sha256, "sheet": sub.sheet, "form": sub.form, "wording": sub.wording,
            "period": sub.period_code, "province_code": who.province_code, "commune_code": who.commune_code,
            "cluster_id": cid, "project_key": pkey, "unit_key": unit_key, "unit_name": unit_name, "sender": who.sender,
            "received_at": received_at, "deadline": deadline,
            "is_late": bool(deadline and received_at >= deadline), "status": Status.PENDING, "errors": 0, "warnings": 0,
            "run_id": self.run_id,
        }
