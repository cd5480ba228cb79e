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
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, case, exists, func, or_, select, update
from sqlalchemy.engine import Engine

from schemas.periods import VN_TZ
from schemas.tables import finding_waiver, submission, validation_finding

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
    # a pending submission is settled once its rules have run (one without a form has no rules to run)
    validated = or_(submission.c.validated_at.is_not(None), submission.c.form.is_(None))
    todo = or_(and_(submission.c.status == "pending", validated), resettle)
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
    settled = []
    for sub in pending:
        errors, warnings = tallies.get(sub.submission_id, (0, 0))
        status = "rejected" if errors else "accepted_with_warnings" if warnings else "accepted"
        counts[status] += 1
        counts["late"] += bool(sub.is_late)
        settled.append({"b_id": sub.submission_id, "b_status": status, "b_errors": errors or 0,
                        "b_warnings": warnings or 0})
    if not settled:
        return PublishResult(**counts)
    with engine.begin() as conn:
        conn.execute(update(submission).where(submission.c.submission_id == bindparam("b_id")).values(
            status=bindparam("b_status"), errors=bindparam("b_errors"), warnings=bindparam("b_warnings"),
            loaded_at=now), settled)
        keys = {(r.form, r.period, r.unit_key) for r in pending if r.form and r.period and r.unit_key}
        counts["superseded"] = _supersede(conn, keys)
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
    for i in range(0, len(units), 900):  # bounded IN lists on both backends
        rows = conn.execute(select(s.submission_id, s.form, s.period, s.unit_key, s.received_at, s.status).where(
            s.period.in_(periods), s.unit_key.in_(units[i:i + 900]), s.status.in_((*ACTIVE, "rejected"))
)).all()
        for r in rows:
            if (r.form, r.period, r.unit_key) in keys:
                groups.setdefault((r.form, r.period, r.unit_key), []).append(r)
    losers = []
    for rows in groups.values():
        live = [r for r in rows if r.status in ACTIVE]
        if not live:
            continue
        winner = max(live, key=lambda r: (r.received_at, r.submission_id))
        losers += [{"b_id": r.submission_id, "b_winner": winner.submission_id} for r in rows
                   if (r.received_at, r.submission_id) < (winner.received_at, winner.submission_id)]
    if losers:
        conn.execute(update(submission).where(submission.c.submission_id == bindparam("b_id"))
                     .values(status="superseded", superseded_by=bindparam("b_winner")), losers)
    return len(losers)
