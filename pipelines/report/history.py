"""Submissions with their version history, for the stewards' portal (issue 14): every report received, newest
first, with its status; one report's versions (each submission of the same form, period and unit, and what
superseded what) and the archived original file.  Which province may see which submission is
pipelines/steward/scope.py's to say.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from pipelines.steward.scope import folder_province, of_province
from schemas.tables import received_file, submission


@dataclass(frozen=True)
class SubmissionRow:
    id: int
    form: str | None
    period: str | None
    province_code: str | None  # as identified; who may see it: pipelines.steward.scope.submission_province
    unit_key: str | None
    unit_name: str | None
    sheet: str | None  # a workbook of several reports has one submission per sheet
    file_name: str
    received_at: datetime
    is_late: bool
    status: str  # schemas.status.Status; STATUS_WORDS says it in words
    errors: int
    warnings: int
    superseded_by: int | None  # the submission that counts instead of this one


@dataclass(frozen=True)
class SubmissionDetail:
    submission: SubmissionRow
    province: str | None  # who may see it (submission_province)
    versions: list[SubmissionRow]  # every submission of the same form, period and unit, oldest first (itself too)
    archive_path: Path  # the original file as received, to download under file_name
    file_name: str
    source_path: str  # where it was in the inbox

    def supersedes(self, submission_id: int | None = None) -> list[int]:
        """The versions that ``submission_id`` (default: this submission) superseded."""
        target = self.submission.id if submission_id is None else submission_id
        return [v.id for v in self.versions if v.superseded_by == target]


_s, _f = submission.c, received_file.c
_COLUMNS = (_s.submission_id, _s.form, _s.period, _s.province_code, _s.unit_key, _s.unit_name, _s.sheet,
            _f.file_name, _s.received_at, _s.is_late, _s.status, _s.errors, _s.warnings, _s.superseded_by)


def _row(r) -> SubmissionRow:
    return SubmissionRow(r.submission_id, r.form, r.period, r.province_code, r.unit_key, r.unit_name, r.sheet,
                         r.file_name, r.received_at, bool(r.is_late), r.status, int(r.errors or 0),
                         int(r.warnings or 0), r.superseded_by)


def submissions(engine: Engine, *, province_code: str | None = None, period: str | None = None,
                form: str | None = None, sha256: str | None = None, limit: int | None = None,
                offset: int = 0) -> tuple[list[SubmissionRow], int]:
    """Submissions, newest first (received, then id), filtered; the page asked for and how many there are in all.
    ``province_code``: the submissions that province may see (pipelines/steward/scope.py).  Submissions still
    being processed are listed too, with status ``pending``."""
    if offset < 0 or (limit is not None and limit < 0):
        raise ValueError("limit and offset are counts: 0 or more")
    where = []
    if province_code is not None:
        where.append(of_province(province_code))
    if period is not None:
        where.append(_s.period == period)
    if form is not None:
        where.append(_s.form == form)
    if sha256 is not None:  # the reports of one file
        where.append(_s.sha256 == sha256)
    joined = submission.join(received_file, _f.sha256 == _s.sha256)
    stmt = (select(*_COLUMNS).select_from(joined).where(*where)
            .order_by(_s.received_at.desc(), _s.submission_id.desc()).offset(offset))
    if limit is not None:
        stmt = stmt.limit(limit)
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(joined).where(*where)).scalar_one()
        rows = [_row(r) for r in conn.execute(stmt)]
    return rows, int(total)


def submission_detail(engine: Engine, submission_id: int) -> SubmissionDetail | None:
    """One submission, its versions and its archived file (None: no such submission)."""
    joined = submission.join(received_file, _f.sha256 == _s.sha256)
    with engine.connect() as conn:
        r = conn.execute(select(*_COLUMNS, _f.archive_path, _f.source_path).select_from(joined)
                         .where(_s.submission_id == submission_id)).first()
        if r is None:
            return None
        if r.unit_key is None or r.form is None or r.period is None:  # unidentified: no other version can be found
            versions = [_row(r)]
        else:
            versions = [_row(v) for v in conn.execute(
                select(*_COLUMNS).select_from(joined)
                .where(_s.form == r.form, _s.period == r.period, _s.unit_key == r.unit_key)
                .order_by(_s.received_at, _s.submission_id))]
    return SubmissionDetail(_row(r), r.province_code or folder_province(r.source_path), versions,
                            Path(r.archive_path), r.file_name, r.source_path)

