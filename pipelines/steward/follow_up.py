"""Follow-up of warnings, outliers first (issue 15): a steward marks a warning ``confirmed`` (the value is right as
reported), ``corrected`` (the office corrects it: a new report will replace it) or ``follow-up`` (to be followed
up with the office), with a comment (``ccn follow-up``, the portal's findings page).

Every mark is a row of ``finding_follow_up``, never changed nor deleted, and an audit event (``finding.follow_up``)
in the same transaction, as a waiver is; the latest mark is the finding's follow-up status (view
``mart_follow_ups``).  A follow-up is *open* while its latest mark is ``follow-up``.  Errors are not followed up:
they are corrected or waived (``ccn waive``).  An outlier confirmed or marked corrected no longer stands (the
``outliers`` asset check); the outlier analysis keeps a finding a steward has marked even when it no longer holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import column, func, literal_column, select, table
from sqlalchemy.engine import Engine

from pipelines.steward.accounts import record
from pipelines.steward.findings import province_label, unit_label
from pipelines.steward.scope import submissions_of
from pipelines.table import Col, render
from schemas.periods import VN_TZ
from schemas.status import FOLLOW_UP_WORDS, FollowUp, Status
from schemas.tables import finding_follow_up, submission, validation_finding
from schemas.text import bilingual

MAX_COMMENT = 2000  # characters of one comment


class FollowUpError(ValueError):
    pass


@dataclass(frozen=True)
class Mark:
    finding_id: int
    submission_id: int
    rule_id: str
    status: str
    previous: str | None  # the finding's follow-up status before this mark (None: never marked)


def status_words(status: str | None) -> tuple[str, str]:
    """``(cần theo dõi, to follow up)``; a finding never marked: ``(chưa xem xét, not reviewed)``."""
    if status is None:
        return ("chưa xem xét", "not reviewed")
    return FOLLOW_UP_WORDS.get(status, (status, status))


def mark(engine: Engine, finding_id: int, status: str, comment: str, by: str, *, address: str | None = None,
         province: str | None = None) -> Mark:
    """Record a follow-up mark on warning ``finding_id`` and its audit event; raises FollowUpError with a reason a
    steward understands.  ``province``: a province steward's province, whose findings only they may mark (another
    province's finding reads as one that does not exist); ``address``: the client's, from the portal."""
    comment, by = (comment or "").strip(), (by or "").strip()
    if status not in FollowUp.STATUSES:
        raise FollowUpError(bilingual(f"trạng thái phải là một trong {', '.join(FollowUp.STATUSES)}",
                                      f"the status must be one of {', '.join(FollowUp.STATUSES)}"))
    if not comment or not by:
        raise FollowUpError(bilingual("cần ghi chú (--comment) và tên người quyết định (--by)",
                                      "a follow-up needs a comment (--comment) and the name of who decides (--by)"))
    if len(comment) > MAX_COMMENT:
        raise FollowUpError(bilingual(f"ghi chú dài quá {MAX_COMMENT} ký tự", f"the comment is over {MAX_COMMENT} "
                                      "characters"))
    f, s, u = validation_finding.c, submission.c, finding_follow_up.c
    with engine.begin() as conn:
        stmt = (select(f.finding_id, f.submission_id, f.rule_id, f.severity, s.status)
                .join(submission, s.submission_id == f.submission_id).where(f.finding_id == finding_id))
        if province is not None:
            stmt = stmt.where(f.submission_id.in_(submissions_of(province)))
        row = conn.execute(stmt).first()
        if row is None:
            raise FollowUpError(bilingual(f"không có phát hiện {finding_id} (xem `ccn findings` hoặc `ccn outliers`)",
                                          f"finding {finding_id} does not exist (see `ccn findings` or "
                                          "`ccn outliers`)"))
        if row.severity != "warning":
            raise FollowUpError(bilingual(
                f"phát hiện {finding_id} là lỗi: lỗi được sửa hoặc miễn trừ (`ccn waive`), không theo dõi",
                f"finding {finding_id} is an error: an error is corrected or waived (`ccn waive`), not followed up"))
        if row.status == Status.PENDING:
            raise FollowUpError(bilingual(f"phát hiện {finding_id} thuộc hồ sơ đang được xử lý; hãy chạy `ccn run` "
                                          "trước",
                                          f"finding {finding_id} belongs to a submission still being processed; run "
                                          "`ccn run` first"))
        previous = conn.execute(select(u.status).where(u.finding_id == finding_id)
                                .order_by(u.follow_up_id.desc()).limit(1)).scalar()
        conn.execute(finding_follow_up.insert().values(finding_id=finding_id, status=status, comment=comment,
                                                       marked_by=by, marked_at=datetime.now(tz=VN_TZ)))
        record(conn, by, "finding.follow_up", address=address, target=f"finding {finding_id}",
               detail=f"{previous or '—'} → {status}: {comment}")
    return Mark(finding_id, row.submission_id, row.rule_id, status, previous)


_MART = table("mart_follow_ups", *(column(c) for c in (
    "finding_id", "submission_id", "form", "period", "province_code", "unit_key", "unit_name", "rule_id", "severity",
    "sheet", "cell", "indicator_code", "status", "comment", "marked_by", "marked_at", "marks")))


def follow_ups(engine: Engine, *, period: str | None = None, province: str | None = None,
               status: str | None = FollowUp.OPEN) -> pd.DataFrame:
    """The followed-up findings (view ``mart_follow_ups``: each with its latest mark) whose latest status is
    ``status`` (None: any), of ``period`` and of what ``province`` may see, with the finding's message; by
    province, form, period, finding."""
    m, f = _MART.c, validation_finding.c
    stmt = (select(literal_column("mart_follow_ups.*"), f.message).select_from(
        _MART.join(validation_finding, f.finding_id == m.finding_id)))
    if status is not None:
        stmt = stmt.where(m.status == status)
    if period is not None:
        stmt = stmt.where(m.period == period)
    if province is not None:
        stmt = stmt.where(m.submission_id.in_(submissions_of(province)))
    with engine.connect() as conn:
        df = pd.read_sql(stmt, conn)
    return df.sort_values(["province_code", "form", "period", "finding_id"], na_position="first") \
        .reset_index(drop=True)


def latest_marks(engine: Engine, finding_ids: list[int]) -> dict[int, dict]:
    """The latest follow-up mark of each of ``finding_ids`` that has one: status, comment, who, when, marks."""
    if not finding_ids:
        return {}
    m = _MART.c
    with engine.connect() as conn:
        rows = conn.execute(select(m.finding_id, m.status, m.comment, m.marked_by, m.marked_at, m.marks)
                            .where(m.finding_id.in_(finding_ids))).mappings().all()
    return {int(r["finding_id"]): dict(r) for r in rows}


def marks_of(engine: Engine, finding_id: int) -> list[dict]:
    """Every mark of one finding, oldest first."""
    u = finding_follow_up.c
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(u.status, u.comment, u.marked_by, u.marked_at)
                                              .where(u.finding_id == finding_id)
                                              .order_by(u.follow_up_id)).mappings()]


def count_open(engine: Engine, *, period: str | None = None, province: str | None = None) -> int:
    m = _MART.c
    stmt = select(func.count()).select_from(_MART).where(m.status == FollowUp.OPEN)
    if period is not None:
        stmt = stmt.where(m.period == period)
    if province is not None:
        stmt = stmt.where(m.submission_id.in_(submissions_of(province)))
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


COLUMNS = (Col("Phát hiện / Finding", right=True), Col("Hồ sơ / Submission", right=True), Col("Biểu / Form"),
           Col("Kỳ / Period"), Col("Tỉnh / Province"), Col("Đơn vị / Unit"), Col("Vị trí / Where"),
           Col("Theo dõi / Follow-up"), Col("Người, lúc / By, when"))


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _when(value) -> str:
    """``2026-06-21 14:05`` in Vietnam's time (a view gives SQLite's stored text, PostgreSQL's timestamp)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    return value.astimezone(VN_TZ).strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else ""


def format_follow_ups(df: pd.DataFrame, width: int | None = None) -> str:
    """The follow-ups as a table (finding, submission, form, period, province, unit, sheet!cell, status, who and
    when), each row followed by its rule and comment, then the finding's message."""
    if df.empty:
        return bilingual("Không có việc cần theo dõi nào.", "No follow-ups.")
    rows, details = [], []
    for r in df.itertuples():
        vi, en = status_words(r.status)
        where = "!".join(p for p in (_text(r.sheet), _text(r.cell)) if p) or "—"
        rows.append((int(r.finding_id), int(r.submission_id), _text(r.form) or "—", _text(r.period) or "—",
                     province_label(r.province_code), unit_label(r.unit_name, r.unit_key), where, f"{vi} / {en}",
                     f"{_text(r.marked_by)}, {_when(r.marked_at)}"))
        details.append(f"{r.rule_id} · «{_text(r.comment)}» ({int(r.marks)} lần đánh dấu / marks)\n{r.message}")
    return render(COLUMNS, rows, width=width, details=details)
