"""What a run did, read back from the warehouse: counts and short previews for the orchestrator's metadata
(plain SQL, no Dagster)."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Engine

from schemas.status import FollowUp, Status
from schemas.views import sql_list

# the statuses whose findings still stand: errors that keep a report out, warnings on a report that counts, and
# those of a report held for a locked period (they decide how it settles once the period is unlocked)
OPEN_STATUSES = (Status.PENDING, Status.REJECTED, Status.ACCEPTED_WITH_WARNINGS, Status.HELD)

PREVIEW_ROWS = 20


def _df(engine: Engine, sql: str, **params) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(text(sql), conn, params=params or None)


def run_submissions(engine: Engine, run_id: str) -> pd.DataFrame:
    """Submissions read by a run: form, period, province, unit, status, errors, warnings, file name."""
    return _df(engine, """
        SELECT s.submission_id, f.file_name, s.sheet, s.form, s.period, s.province_code, s.unit_key, s.status,
               s.is_late, s.errors, s.warnings
        FROM submission s JOIN received_file f ON f.sha256 = s.sha256
        WHERE s.run_id = :run ORDER BY s.submission_id""", run=run_id)


def run_rejections(engine: Engine, run_id: str) -> pd.DataFrame:
    """The reports a run left rejected, each with its first error: submission, file, sheet, form, message."""
    return _df(engine, f"""
        SELECT s.submission_id, f.file_name, s.sheet, s.form, v.message
        FROM submission s JOIN received_file f ON f.sha256 = s.sha256
        JOIN validation_finding v ON v.finding_id = (
            SELECT MIN(e.finding_id) FROM validation_finding e
            WHERE e.submission_id = s.submission_id AND e.severity = 'error')
        WHERE s.run_id = :run AND s.status = '{Status.REJECTED}'
        ORDER BY f.file_name, s.sheet""", run=run_id)  # noqa: S608 - the status is a constant


def run_value_count(engine: Engine, run_id: str) -> int:
    return int(_df(engine, """SELECT COUNT(*) AS n FROM indicator_value v
                              JOIN submission s ON s.submission_id = v.submission_id
                              WHERE s.run_id = :run""", run=run_id)["n"].iloc[0])


def run_findings(engine: Engine, run_id: str) -> pd.DataFrame:
    """Findings on the submissions a run read: rule, severity, province, unit, file, sheet, cell, message."""
    return _df(engine, """
        SELECT v.rule_id, v.severity, s.province_code, s.unit_name, f.file_name, v.sheet, v.cell, v.indicator_code,
               v.message
        FROM validation_finding v JOIN submission s ON s.submission_id = v.submission_id
        JOIN received_file f ON f.sha256 = s.sha256
        WHERE s.run_id = :run ORDER BY v.rule_id, f.file_name""", run=run_id)


def open_findings(engine: Engine) -> pd.DataFrame:
    """The findings that stand in the warehouse now, whichever run wrote them: those of every report that is
    pending, rejected, accepted with warnings or held (a superseded report's are settled by the report that
    replaced it), less the waived ones.  Rule, severity, period, province, unit, file, sheet, cell, message."""
    return _df(engine, f"""
        SELECT v.rule_id, v.severity, s.period, s.province_code, s.unit_name, f.file_name, v.sheet, v.cell,
               v.message
        FROM validation_finding v JOIN submission s ON s.submission_id = v.submission_id
        JOIN received_file f ON f.sha256 = s.sha256
        LEFT JOIN finding_waiver w ON w.finding_id = v.finding_id
        WHERE s.status IN {sql_list(OPEN_STATUSES)} AND w.finding_id IS NULL
        ORDER BY v.rule_id, s.period, s.province_code, f.file_name""")  # noqa: S608 - statuses are constants


def open_outliers(engine: Engine) -> pd.DataFrame:
    """The outliers that stand: outlier findings on current reports (accepted, with or without warnings) that no
    steward has waived, confirmed or marked corrected (one marked to follow up still stands).  Rule, period,
    province, unit, file, sheet, cell, message and the latest follow-up status (None when none)."""
    return _df(engine, f"""
        SELECT v.rule_id, v.severity, s.period, s.province_code, s.unit_name, f.file_name, v.sheet, v.cell,
               v.message, u.status AS follow_up
        FROM validation_finding v JOIN submission s ON s.submission_id = v.submission_id
        JOIN received_file f ON f.sha256 = s.sha256
        LEFT JOIN finding_waiver w ON w.finding_id = v.finding_id
        LEFT JOIN mart_follow_ups u ON u.finding_id = v.finding_id
        WHERE v.stage = 'outlier' AND s.status IN {sql_list(Status.ACTIVE)} AND w.finding_id IS NULL
              AND (u.status IS NULL OR u.status NOT IN {sql_list(FollowUp.CLOSED)})
        ORDER BY v.rule_id, s.period, s.province_code, f.file_name""")  # noqa: S608 - statuses are constants


QUALITY_COUNTS = ("reports", "rejected", "errors", "warnings", "outliers", "waived", "confirmed", "corrected",
                  "open_follow_ups")


def quality_by_period(engine: Engine) -> dict[str, dict[str, int]]:
    """The data-quality trend (view mart_quality_trend) summed over provinces and forms, per period: what the checks
    found and what stewards did, so a period compares with the one before."""
    trend = _df(engine, "SELECT * FROM mart_quality_trend")
    return {str(period): {c: int(group[c].sum()) for c in QUALITY_COUNTS}
            for period, group in trend.groupby("period", sort=True)}


def status_counts(engine: Engine) -> dict[str, int]:
    """How many reports the warehouse holds in each status (every status, 0 included; held ones too)."""
    found = _df(engine, "SELECT status, COUNT(*) AS n FROM submission GROUP BY status")
    counts = dict(zip(found["status"], found["n"].astype(int), strict=True))
    return {status: int(counts.get(status, 0)) for status in (Status.PENDING, *Status.SETTLED, Status.HELD)}


def by_period(findings: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Errors and warnings per period (``"?"`` for a report whose period could not be read)."""
    out: dict[str, dict[str, int]] = {}
    for (period, severity), n in findings.groupby([findings["period"].fillna("?"), "severity"]).size().items():
        counts = out.setdefault(str(period), {"errors": 0, "warnings": 0})
        counts["errors" if severity == "error" else "warnings"] = int(n)
    return out


def view(engine: Engine, name: str, period: str | None = None) -> pd.DataFrame:
    return _df(engine, f"SELECT * FROM {name}" + (" WHERE period = :p" if period else ""),  # noqa: S608 - a view
               **({"p": period} if period else {}))


def preview(df: pd.DataFrame, rows: int = PREVIEW_ROWS) -> str:
    """A markdown table of the first rows (empty text for an empty frame)."""
    if df.empty:
        return "_(none)_"
    head = df.head(rows)
    return head.astype(object).where(head.notna(), "").to_markdown(index=False)  # a blank cell, never "nan"
