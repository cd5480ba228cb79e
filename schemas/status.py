"""The statuses of a submission, written once: Python compares with them and the views' SQL is built from them."""

from __future__ import annotations


class Status:
    """The values of ``submission.status``, the life of a report (docs/validation.md): ``pending`` when read and not
    yet settled, then ``accepted``, ``accepted_with_warnings`` or ``rejected``, and ``superseded`` once a later
    report of the same form, period and unit counts instead."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    ACCEPTED_WITH_WARNINGS = "accepted_with_warnings"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"
    ACTIVE = (ACCEPTED, ACCEPTED_WITH_WARNINGS)  # the reports that count: they reach the views and the summaries
    SETTLED = (ACCEPTED, ACCEPTED_WITH_WARNINGS, REJECTED, SUPERSEDED)


# each status in words, (Vietnamese, English), for people: the terminal, the feedback workbook, the portal
STATUS_WORDS = {Status.PENDING: ("chờ xử lý", "pending"), Status.ACCEPTED: ("nhận", "accepted"),
                Status.ACCEPTED_WITH_WARNINGS: ("nhận, có cảnh báo", "accepted with warnings"),
                Status.REJECTED: ("từ chối", "rejected"), Status.SUPERSEDED: ("bị thay thế", "superseded")}


def status_label(status: str, *, capital: bool = False) -> str:
    """``từ chối / rejected`` (``Từ chối / Rejected`` with ``capital``); an unknown status is shown as it is."""
    vi, en = STATUS_WORDS.get(status, (status, status))
    return f"{vi[:1].upper()}{vi[1:]} / {en.capitalize()}" if capital else f"{vi} / {en}"
