"""Deciding each pending submission's status and which submission counts for a (form, period, unit).

``rejected`` when any error finding stands; otherwise ``accepted`` or ``accepted_with_warnings``.  A finding a
steward has waived (``ccn waive``, table ``finding_waiver``) no longer stands: a waived error counts as a warning.
A rejected submission whose every error has been waived is settled again on the next run (it becomes
``accepted_with_warnings``), so it loads without being sent again.  The latest non-rejected submission (by
``received_at``) for a form, period and unit counts; every earlier one, accepted or rejected, becomes
``superseded`` and keeps its history.  Each submission is settled in its own transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, exists, func, or_, select, update
from sqlalchemy.engine import Engine

from schemas.periods import VN_TZ
from schemas.warehouse import finding_waiver, submission, validation_finding

ACTIVE = ("accepted", "accepted_with_warnings")


@dataclass(frozen=True)
class PublishResult:
    accepted: int
    accepted_with_warnings: int
    rejected: int
    superseded: int
    late: int


def publish_pending(engine: Engine) -> PublishResult:
    counts = {"accepted": 0, "accepted_with_warnings": 0, "rejected": 0, "superseded": 0, "late": 0}
    f, w = validation_finding.c, finding_waiver.c
    waived = exists().where(w.finding_id == f.finding_id)
    standing_error = and_(f.severity == "error", ~waived)
    # rejected submissions whose errors have all been waived since they were settled
    resettle = and_(submission.c.status == "rejected",
                    exists().where(f.submission_id == submission.c.submission_id, f.severity == "error", waived),
                    ~exists().where(f.submission_id == submission.c.submission_id, standing_error))
    todo = or_(submission.c.status == "pending", resettle)
    with engine.connect() as conn:
        pending = conn.execute(select(submission).where(todo)
                               .order_by(submission.c.received_at, submission.c.submission_id)).all()
        tallies = {r.submission_id: (r.errors, r.warnings) for r in conn.execute(
            select(f.submission_id,
                   func.sum(case((standing_error, 1), else_=0)).label("errors"),
                   func.sum(case((standing_error, 0), else_=1)).label("warnings"))
            .where(f.submission_id.in_(select(submission.c.submission_id).where(todo)))
            .group_by(f.submission_id))}
    now = datetime.now(tz=VN_TZ)
    for sub in pending:
        errors, warnings = tallies.get(sub.submission_id, (0, 0))
        status = "rejected" if errors else "accepted_with_warnings" if warnings else "accepted"
        counts[status] += 1
        counts["late"] += bool(sub.is_late)
        with engine.begin() as conn:
            conn.execute(update(submission).where(submission.c.submission_id == sub.submission_id).values(
                status=status, errors=errors or 0, warnings=warnings or 0, loaded_at=now))
            if sub.form and sub.period and sub.unit_key:
                counts["superseded"] += _supersede(conn, sub.form, sub.period, sub.unit_key)
    return PublishResult(**counts)


def _supersede(conn, form: str, period: str, unit_key: str) -> int:
    """Keep the latest non-rejected submission for the key; supersede everything received before it."""
    same = and_(submission.c.form == form, submission.c.period == period, submission.c.unit_key == unit_key,
                submission.c.status.in_(ACTIVE + ("rejected",)))
    rows = conn.execute(select(submission.c.submission_id, submission.c.received_at, submission.c.status)
                        .where(same)).all()
    live = [r for r in rows if r.status in ACTIVE]
    if not live:
        return 0
    winner = max(live, key=lambda r: (r.received_at, r.submission_id))
    losers = [r.submission_id for r in rows if r.submission_id != winner.submission_id
              and (r.received_at, r.submission_id) < (winner.received_at, winner.submission_id)]
    if losers:
        conn.execute(update(submission).where(submission.c.submission_id.in_(losers))
                     .values(status="superseded", superseded_by=winner.submission_id))
    return len(losers)
