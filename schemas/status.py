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
