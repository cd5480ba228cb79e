"""The statuses of a submission, written once: Python compares with them and the views' SQL is built from them."""

from __future__ import annotations


class Status:
    """The values of ``submission.status``, the life of a report (docs/validation.md): ``pending`` when read and not
    yet settled, then ``accepted``, ``accepted_with_warnings`` or ``rejected``, and ``superseded`` once a later
    report of the same form, period and unit counts instead.  ``held``: validated, for a province and period the
    Ministry has accepted (locked, table ``period_approval``); received and shown, but counting nowhere until the
    period is unlocked, when the next run settles it like a pending one.  Held is neither ACTIVE nor SETTLED."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    ACCEPTED_WITH_WARNINGS = "accepted_with_warnings"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"
    HELD = "held"
    ACTIVE = (ACCEPTED, ACCEPTED_WITH_WARNINGS)  # the reports that count: they reach the views and the summaries
    SETTLED = (ACCEPTED, ACCEPTED_WITH_WARNINGS, REJECTED, SUPERSEDED)


# each status in words, (Vietnamese, English), for people: the terminal, the feedback workbook, the portal
STATUS_WORDS = {Status.PENDING: ("chờ xử lý", "pending"), Status.ACCEPTED: ("nhận", "accepted"),
                Status.ACCEPTED_WITH_WARNINGS: ("nhận, có cảnh báo", "accepted with warnings"),
                Status.REJECTED: ("từ chối", "rejected"), Status.SUPERSEDED: ("bị thay thế", "superseded"),
                Status.HELD: ("tạm giữ (kỳ đã khoá)", "held (period locked)")}


class Approval:
    """The values of ``period_approval.state``, a province's period on its way to the Ministry
    (pipelines/steward/approval.py): ``open`` (no row), ``submitted`` by the province, ``accepted`` by the Ministry
    (the period is locked: a new report for it is ``held``), or ``returned`` to the province with a comment."""

    OPEN = "open"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    RETURNED = "returned"
    STATES = (OPEN, SUBMITTED, ACCEPTED, RETURNED)
    LOCKED = ACCEPTED


class FollowUp:
    """The values of ``finding_follow_up.status``, a steward's mark on a warning (pipelines/steward/follow_up.py):
    ``confirmed`` (the value is right as reported), ``corrected`` (the office corrects it: a new report replaces
    it) or ``follow-up`` (to be followed up with the office: open until another mark closes it)."""

    CONFIRMED = "confirmed"
    CORRECTED = "corrected"
    FOLLOW_UP = "follow-up"
    STATUSES = (CONFIRMED, CORRECTED, FOLLOW_UP)
    OPEN = FOLLOW_UP
    CLOSED = (CONFIRMED, CORRECTED)


FOLLOW_UP_WORDS = {FollowUp.CONFIRMED: ("đã xác nhận đúng", "confirmed"),
                   FollowUp.CORRECTED: ("đã sửa", "corrected"),
                   FollowUp.FOLLOW_UP: ("cần theo dõi", "to follow up")}


def status_label(status: str, *, capital: bool = False) -> str:
    """``từ chối / rejected`` (``Từ chối / Rejected`` with ``capital``); an unknown status is shown as it is."""
    vi, en = STATUS_WORDS.get(status, (status, status))
    return f"{vi[:1].upper()}{vi[1:]} / {en.capitalize()}" if capital else f"{vi} / {en}"
