"""Approval of a province's period (issue 14): the province steward submits it, the Ministry accepts it (which
locks it), returns it with a comment, or unlocks it with a reason.  Plain Python for the ``ccn period`` command
and the portal alike.

The state of a (2025 province, period) is a row of ``period_approval``; no row is ``open``.  Transitions:

* submit (province): open | returned → submitted; refused when submitted already or accepted;
* accept (Ministry): open | submitted | returned → accepted (locked); refused when accepted already;
* return (Ministry, comment required): open | submitted → returned; refused when accepted (unlock first) or
  returned already;
* unlock (Ministry, reason required): accepted → open; refused otherwise.

While a period is locked a new report for it is held by the publish stage (``schemas.status.Status.HELD``,
``pipelines.load.publish.locked_pairs`` says which pairs are locked) and the next run after the unlock settles
it.  Every change writes its audit event (``period.submit``, ``period.accept``, ``period.return``,
``period.unlock``, target ``<province>/<period>``) in the same transaction: the change is kept exactly when its
audit event is.  A refusal raises :class:`ApprovalError` with a message a steward reads, and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from pipelines.load.publish import locked_pairs
from pipelines.steward.accounts import record
from schemas.admin import admin
from schemas.periods import VN_TZ, Period
from schemas.status import Approval
from schemas.tables import period_approval
from schemas.text import bilingual

__all__ = ["STATE_WORDS", "ApprovalError", "PeriodState", "accept_period", "locked_pairs", "period_state",
           "period_states", "return_period", "submit_period", "unlock_period"]

# each state in words, (Vietnamese, English), for people: the terminal, the portal
STATE_WORDS = {
    Approval.OPEN: ("đang nhận báo cáo", "open"),
    Approval.SUBMITTED: ("chờ Bộ duyệt", "submitted for approval"),
    Approval.ACCEPTED: ("Bộ đã chấp nhận, kỳ đã khoá", "accepted by the Ministry, locked"),
    Approval.RETURNED: ("Bộ trả lại", "returned by the Ministry"),
}


class ApprovalError(ValueError):
    pass


class _Changed(Exception):
    """Another steward changed the same period between our read and our write."""


@dataclass(frozen=True)
class PeriodState:
    province_code: str
    period: str
    state: str  # one of schemas.status.Approval.STATES
    changed_by: str | None  # None while open and never changed
    changed_at: datetime | None
    comment: str | None

    @property
    def locked(self) -> bool:
        """Accepted by the Ministry: a new report for this province and period is held."""
        return self.state == Approval.LOCKED

    @property
    def label(self) -> str:
        """``chờ Bộ duyệt / submitted for approval``."""
        vi, en = STATE_WORDS[self.state]
        return f"{vi} / {en}"


def _province(code: str) -> str:
    code = (code or "").strip()
    if code not in admin().provinces:
        raise ApprovalError(bilingual(f"{code or '(trống)'} không phải mã tỉnh năm 2025 (ví dụ 37)",
                                      f"{code or '(empty)'} is not a 2025 province code (e.g. 37)"))
    return code


def _period(code: str) -> str:
    try:
        return Period.parse(code or "").code
    except ValueError:
        raise ApprovalError(bilingual(f"kỳ báo cáo phải có dạng 2025-H1 hoặc 2025-Y, không phải \"{code}\"",
                                      f"the period must look like 2025-H1 or 2025-Y, not \"{code}\"")) from None


def _state(conn: Connection, province_code: str, period: str) -> PeriodState:
    a = period_approval.c
    row = conn.execute(select(a.state, a.changed_by, a.changed_at, a.comment)
                       .where(a.province_code == province_code, a.period == period)).first()
    if row is None:
        return PeriodState(province_code, period, Approval.OPEN, None, None, None)
    return PeriodState(province_code, period, row.state, row.changed_by, row.changed_at, row.comment)


def period_state(engine: Engine, province_code: str, period: str) -> PeriodState:
    """The state of a province's period (``open`` when it never changed); refuses an unknown province or period."""
    province_code, period = _province(province_code), _period(period)
    with engine.connect() as conn:
        return _state(conn, province_code, period)


def period_states(engine: Engine, period: str | None = None, *, province_code: str | None = None
                  ) -> list[PeriodState]:
    """Every (province, period) whose state ever changed (the rows that exist), of one period or all, of one
    province or all, by period and province; a province not listed is open."""
    a = period_approval.c
    stmt = select(a.province_code, a.period, a.state, a.changed_by, a.changed_at, a.comment)
    if period is not None:
        stmt = stmt.where(a.period == _period(period))
    if province_code is not None:
        stmt = stmt.where(a.province_code == _province(province_code))
    with engine.connect() as conn:
        rows = conn.execute(stmt.order_by(a.period, a.province_code)).all()
    return [PeriodState(*r) for r in rows]


# action -> (the states it may start from, the state it leads to)
_MOVES = {
    "submit": ((Approval.OPEN, Approval.RETURNED), Approval.SUBMITTED),
    "accept": ((Approval.OPEN, Approval.SUBMITTED, Approval.RETURNED), Approval.ACCEPTED),
    "return": ((Approval.OPEN, Approval.SUBMITTED), Approval.RETURNED),
    "unlock": ((Approval.ACCEPTED,), Approval.OPEN),
}


def _refusal(action: str, now: PeriodState) -> str:
    where_vi = f"kỳ {now.period} của tỉnh {now.province_code}"
    where_en = f"{now.period} of province {now.province_code}"
    by_vi = by_en = f" ({now.changed_by}, {now.changed_at:%Y-%m-%d %H:%M})" if now.changed_at else ""
    if now.state == Approval.ACCEPTED and action != "unlock":
        vi = f"{where_vi} đã được Bộ chấp nhận và khoá{by_vi}"
        en = f"{where_en} was accepted by the Ministry and is locked{by_en}"
        if action != "accept":
            vi, en = f"{vi}; Bộ cần mở khoá trước", f"{en}; the Ministry must unlock it first"
        return bilingual(vi, en)
    if action == "submit":  # submitted already
        return bilingual(f"{where_vi} đã được gửi, đang chờ Bộ duyệt{by_vi}",
                         f"{where_en} was submitted already and awaits the Ministry's approval{by_en}")
    if action == "return":  # returned already
        return bilingual(f"{where_vi} đã được Bộ trả lại{by_vi}; tỉnh cần gửi lại trước",
                         f"{where_en} was returned by the Ministry already{by_en}; the province must submit it again "
                         "first")
    # unlock of a period that is not locked
    vi, en = STATE_WORDS[now.state]
    return bilingual(f"{where_vi} chưa bị khoá (trạng thái: {vi}): không có gì để mở khoá",
                     f"{where_en} is not locked (state: {en}): there is nothing to unlock")


def _move(engine: Engine, action: str, province_code: str, period: str, actor: str, *, address: str | None,
          comment: str | None) -> PeriodState:
    province_code, period = _province(province_code), _period(period)
    actor, comment = (actor or "").strip(), (comment or "").strip() or None
    if not actor:
        raise ApprovalError(bilingual("cần tên người thực hiện", "the name of who acts is needed"))
    starts, goal = _MOVES[action]
    at = datetime.now(tz=VN_TZ)
    a = period_approval.c
    try:
        with engine.begin() as conn:
            now = _state(conn, province_code, period)
            if now.state not in starts:
                raise ApprovalError(_refusal(action, now))
            values = {"state": goal, "changed_at": at, "changed_by": actor, "comment": comment}
            if now.changed_at is None:
                conn.execute(insert(period_approval).values(province_code=province_code, period=period, **values))
            else:  # only from the state read: a change made meanwhile by someone else updates nothing
                done = conn.execute(update(period_approval).where(
                    a.province_code == province_code, a.period == period, a.state == now.state).values(**values))
                if done.rowcount != 1:
                    raise _Changed
            detail = f"{now.state} → {goal}" + (f": {comment}" if comment else "")
            record(conn, actor, f"period.{action}", address=address, target=f"{province_code}/{period}", detail=detail)
    except (IntegrityError, _Changed):  # another steward changed the same period at the same moment
        with engine.connect() as conn:
            raise ApprovalError(_refusal(action, _state(conn, province_code, period))) from None
    return PeriodState(province_code, period, goal, actor, at, comment)


def submit_period(engine: Engine, province_code: str, period: str, actor: str, *,
                  address: str | None = None) -> PeriodState:
    """The province steward submits the province's period for the Ministry's approval (from open or returned)."""
    return _move(engine, "submit", province_code, period, actor, address=address, comment=None)


def accept_period(engine: Engine, province_code: str, period: str, actor: str, *, address: str | None = None,
                  comment: str | None = None) -> PeriodState:
    """The Ministry accepts the province's period and so locks it (from open, submitted or returned)."""
    return _move(engine, "accept", province_code, period, actor, address=address, comment=comment)


def return_period(engine: Engine, province_code: str, period: str, actor: str, comment: str, *,
                  address: str | None = None) -> PeriodState:
    """The Ministry returns the province's period with a comment saying what to do (from open or submitted)."""
    if not (comment or "").strip():
        raise ApprovalError(bilingual("trả lại kỳ báo cáo cần nhận xét cho tỉnh (--comment)",
                                      "returning a period needs a comment for the province (--comment)"))
    return _move(engine, "return", province_code, period, actor, address=address, comment=comment)


def unlock_period(engine: Engine, province_code: str, period: str, actor: str, reason: str, *,
                  address: str | None = None) -> PeriodState:
    """The Ministry unlocks an accepted period, with the reason (it becomes open; held reports settle at the next
    run)."""
    if not (reason or "").strip():
        raise ApprovalError(bilingual("mở khoá kỳ báo cáo cần lý do (--reason)",
                                      "unlocking a period needs a reason (--reason)"))
    return _move(engine, "unlock", province_code, period, actor, address=address, comment=reason)
