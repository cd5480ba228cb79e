"""Deciding each pending submission's status and which submission counts for a (form, period, unit).

``rejected`` when any error finding stands; otherwise ``accepted`` or ``accepted_with_warnings``.  The latest
non-rejected submission (by ``received_at``) for a form, period and unit counts; every earlier one, accepted or
rejected, becomes ``superseded`` and keeps its history.  Each submission is settled in its own transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, select, update
from sqlalchemy.engine import Engine

from schemas.periods import VN_TZ
from schemas.warehouse import submission, validation_finding

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
    with engine.connect() as conn:
        pending = conn.execute(select(submission).where(submission.c.status == "pending")
                               .order_by(submission.c.received_at, submission.c.submission_id)).all()
        tallies = {r.submission_id: (r.errors, r.warnings) for r in conn.execute(
            select(validation_finding.c.submission_id,
                   func.sum(case((validation_finding.c.severity == "error", 1), else_=0)).label("errors"),
                   func.sum(case((validation_finding.c.severity == "warning", 1), else_=0)).label("warnings"))
            .where(validation_finding.c.submission_id.in_(select(submission.c.submission_id)
                                                           .where(submission.c.status == "pending")))
            .group_by(validation_finding.c.submission_id))}
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
