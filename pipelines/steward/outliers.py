"""What a steward reads of the outliers of a period (``ccn outliers``): each implausible value on a current report
with its cell, the value, the plausible range and why, and what a steward decided about it (waived, confirmed,
corrected, to follow up).  The analysis itself is ``validations/outliers.py``; it runs after loading
(pipelines/stages.py) or on demand (``ccn outliers --refresh``)."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import and_, column, select, table
from sqlalchemy.engine import Engine

from pipelines.steward.findings import province_label, unit_label
from pipelines.steward.follow_up import status_words
from pipelines.steward.scope import submissions_of
from pipelines.table import Col, render
from schemas.forms import load_forms
from schemas.status import Status
from schemas.tables import finding_waiver, indicator_value, outlier_analysis, submission, validation_finding
from schemas.text import bilingual
from validations.catalogue import fmt
from validations.outliers import STAGE

_FOLLOW = table("mart_follow_ups", column("finding_id"), column("status"), column("comment"))


def list_outliers(engine: Engine, period: str, *, province: str | None = None, form: str | None = None
                  ) -> pd.DataFrame:
    """The outliers of ``period`` on current reports (those ``province`` may see, of ``form``), with the value,
    the plausible range (``expected``), the waiver and the latest follow-up; by province, form, unit, finding."""
    v, s, iv, w, u = validation_finding.c, submission.c, indicator_value.c, finding_waiver.c, _FOLLOW.c
    stmt = (select(v.finding_id, v.submission_id, s.form, s.period, s.province_code, s.unit_key, s.unit_name,
                   v.rule_id, v.sheet, v.cell, v.indicator_code, iv.value, v.expected, v.message,
                   w.waived_by, u.status.label("follow_up"), u.comment.label("follow_up_comment"))
            .select_from(validation_finding.join(submission, s.submission_id == v.submission_id)
                         .outerjoin(indicator_value, and_(iv.submission_id == v.submission_id,
                                                          iv.indicator_code == v.indicator_code))
                         .outerjoin(finding_waiver, w.finding_id == v.finding_id)
                         .outerjoin(_FOLLOW, u.finding_id == v.finding_id))
            .where(v.stage == STAGE, s.status.in_(Status.ACTIVE), s.period == period))
    if province is not None:
        stmt = stmt.where(v.submission_id.in_(submissions_of(province)))
    if form is not None:
        stmt = stmt.where(s.form == form)
    with engine.connect() as conn:
        df = pd.read_sql(stmt, conn)
    return df.sort_values(["province_code", "form", "unit_key", "finding_id"], na_position="first") \
        .reset_index(drop=True)


def last_analysis(engine: Engine, period: str):
    """The period's latest outlier analysis (when, submissions, values, findings, seconds), or None."""
    a = outlier_analysis.c
    with engine.connect() as conn:
        return conn.execute(select(outlier_analysis).where(a.period == period)).first()


COLUMNS = (Col("Phát hiện / Finding", right=True), Col("Tỉnh / Province"), Col("Biểu / Form"), Col("Đơn vị / Unit"),
           Col("Vị trí / Where"), Col("Dòng / Row"), Col("Giá trị / Value", right=True),
           Col("Khoảng hợp lý / Plausible"), Col("Xem xét / Review"))


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def review_words(row) -> tuple[str, str]:
    """What a steward decided about an outlier, in words: waived, or its latest follow-up (or not reviewed)."""
    if isinstance(row.waived_by, str):
        return ("đã miễn trừ", "waived")
    return status_words(row.follow_up if isinstance(row.follow_up, str) else None)


def format_outliers(df: pd.DataFrame, width: int | None = None) -> str:
    """The outliers as a table, each row followed by its rule and its message (why, in Vietnamese and English),
    and the follow-up comment when there is one."""
    if df.empty:
        return bilingual("Không có giá trị bất thường nào.", "No outliers.")
    labels = {(form, r.code): r.label_vi for form, spec in load_forms().items() for r in spec.rows}
    rows, details = [], []
    for r in df.itertuples():
        vi, en = review_words(r)
        where = "!".join(p for p in (_text(r.sheet), _text(r.cell)) if p) or "—"
        value = fmt(r.value) if r.value is not None and r.value == r.value else "—"
        rows.append((int(r.finding_id), province_label(r.province_code), _text(r.form) or "—",
                     unit_label(r.unit_name, r.unit_key), where, _text(r.indicator_code) or "—", value,
                     _text(r.expected) or "—", f"{vi} / {en}"))
        label = labels.get((r.form, r.indicator_code))
        head = f"{r.rule_id}" + (f" · {r.indicator_code}. {label}" if label else "")
        note = f"\n«{r.follow_up_comment}»" if isinstance(r.follow_up_comment, str) else ""
        details.append(f"{head}\n{r.message}{note}")
    return render(COLUMNS, rows, width=width, details=details)
