"""Deciding each pending submission's status and which submission counts for a (form, period, unit).

``rejected`` when any error finding stands; otherwise ``accepted`` or ``accepted_with_warnings``.  A finding a
steward has waived (``ccn waive``, table ``finding_waiver``) no longer stands: a waived error counts as a warning.
A rejected submission whose every error has been waived is settled again on the next run (it becomes
``accepted_with_warnings``), so it loads without being sent again.  The latest non-rejected submission (by
``received_at``) for a form, period and unit counts; every earlier one, accepted or rejected, becomes
``superseded`` and keeps its history.  A run's settlements are written in one transaction (set-based, so a
national semester settles in seconds): either every pending submission of the run is settled or none is.
Only submissions the validate stage has claimed (``validated_at``) are settled: one another run has read since
waits for that run's (or the next run's) validation.

A province's period the Ministry has accepted is locked (table ``period_approval``, pipelines/steward/approval.py):
a submission for a locked (province, period) is ``held`` instead of settled, so nothing of a locked period
changes.  A held submission has its findings already; every run looks at it again and settles it like a pending
one once its period is unlocked (it then supersedes what it replaces, as it would have).  An acceptance committed
while a run is publishing takes effect from the next run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, case, exists, func, or_, select, update
from sqlalchemy.engine import Connection, Engine

from schemas.database import chunks
from schemas.periods import VN_TZ
from schemas.status import Approval, Status
from schemas.tables import finding_waiver, period_approval, submission, validation_finding


@dataclass(frozen=True)
class PublishResult:
    accepted: int
    accepted_with_warnings: int
    rejected: int
    superseded: int
    late: int
    held: int  # put on hold by this run (a locked period); those already held and still locked are not counted


def locked_pairs(conn: Connection) -> set[tuple[str, str]]:
    """The (province_code, period) pairs the Ministry has accepted, hence locked: the one place that says which."""
    a = period_approval.c
    return {(r.province_code, r.period) for r in conn.execute(
        select(a.province_code, a.period).where(a.state == Approval.LOCKED))}


def publish_pending(engine: Engine) -> PublishResult:
    counts = dict.fromkeys((*Status.SETTLED, "late", Status.HELD), 0)
    f, w = validation_finding.c, finding_waiver.c
    waived = exists().where(w.finding_id == f.finding_id)
    standing_error = and_(f.severity == "error", ~waived)
    # rejected submissions whose errors have all been waived since they were settled
    resettle = and_(submission.c.status == Status.REJECTED,
                    exists().where(f.submission_id == submission.c.submission_id, f.severity == "error", waived),
                    ~exists().where(f.submission_id == submission.c.submission_id, standing_error))
    # a pending submission is settled once its rules have run (one without a form has no rules to run)
    validated = or_(submission.c.validated_at.is_not(None), submission.c.form.is_(None))
    # held: re-examined every run, settled once its period is unlocked (its findings are there already)
    todo = or_(and_(submission.c.status == Status.PENDING, validated), resettle, submission.c.status == Status.HELD)
    with engine.connect() as conn:
        locked = locked_pairs(conn)
        pending = conn.execute(select(submission).where(todo)
                               .order_by(submission.c.received_at, submission.c.submission_id)).all()
        tallies = {r.submission_id: (r.errors, r.warnings) for r in conn.execute(
            select(f.submission_id,
                   func.sum(case((standing_error, 1), else_=0)).label("errors"),
                   func.sum(case((standing_error, 0), else_=1)).label("warnings"))
            .where(f.submission_id.in_(select(submission.c.submission_id).where(todo)))
            .group_by(f.submission_id))}
    now = datetime.now(tz=VN_TZ)
    settled, held = [], []
    for sub in pending:
        errors, warnings = tallies.get(sub.submission_id, (0, 0))
        if (sub.province_code, sub.period) in locked:
            if sub.status != Status.HELD:  # its findings counted, as a settled report's are
                held.append({"b_id": sub.submission_id, "b_errors": errors or 0, "b_warnings": warnings or 0})
            continue
        status = Status.REJECTED if errors else Status.ACCEPTED_WITH_WARNINGS if warnings else Status.ACCEPTED
        counts[status] += 1
        counts["late"] += bool(sub.is_late)
        settled.append({"b_id": sub.submission_id, "b_status": status, "b_errors": errors or 0,
                        "b_warnings": warnings or 0})
    counts[Status.HELD] = len(held)
    if not settled and not held:
        return PublishResult(**counts)
    with engine.begin() as conn:
        if held:
            conn.execute(update(submission).where(submission.c.submission_id == bindparam("b_id"))
                         .values(status=Status.HELD, errors=bindparam("b_errors"),
                                 warnings=bindparam("b_warnings")), held)
        if not settled:
            return PublishResult(**counts)
        conn.execute(update(submission).where(submission.c.submission_id == bindparam("b_id")).values(
            status=bindparam("b_status"), errors=bindparam("b_errors"), warnings=bindparam("b_warnings"),
            loaded_at=now), settled)
        done = {b["b_id"] for b in settled}
        keys = {(r.form, r.period, r.unit_key) for r in pending
                if r.submission_id in done and r.form and r.period and r.unit_key}
        counts[Status.SUPERSEDED] = _supersede(conn, keys)
    return PublishResult(**counts)


def _supersede(conn, keys: set[tuple[str, str, str]]) -> int:
    """For every (form, period, unit) key, keep the latest non-rejected submission and supersede everything
    received before it.  Returns the number of submissions superseded."""
    if not keys:
        return 0
    s = submission.c
    periods = sorted({k[1] for k in keys})
    units = sorted({k[2] for k in keys})
    groups: dict[tuple, list] = {}
    for part in chunks(units):
        rows = conn.execute(select(s.submission_id, s.form, s.period, s.unit_key, s.received_at, s.status).where(
            s.period.in_(periods), s.unit_key.in_(part),
            s.status.in_((*Status.ACTIVE, Status.REJECTED)))).all()
        for r in rows:
            if (r.form, r.period, r.unit_key) in keys:
                groups.setdefault((r.form, r.period, r.unit_key), []).append(r)
    losers = []
    for rows in groups.values():
        live = [r for r in rows if r.status in Status.ACTIVE]
        if not live:
            continue
        winner = max(live, key=lambda r: (r.received_at, r.submission_id))
        losers += [{"b_id": r.submission_id, "b_winner": winner.submission_id} for r in rows
                   if (r.received_at, r.submission_id) < (winner.received_at, winner.submission_id)]
    if losers:
        conn.execute(update(submission).where(submission.c.submission_id == bindparam("b_id"))
                     .values(status=Status.SUPERSEDED, superseded_by=bindparam("b_winner")), losers)
    return len(losers)
