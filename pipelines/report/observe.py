"""What a run did, read back from the warehouse: counts and short previews for the orchestrator's metadata
(plain SQL, no Dagster)."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Engine

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


def run_value_count(engine: Engine, run_id: str) -> int:
    return int(_df(engine, """SELECT COUNT(*) AS n FROM indicator_value v
                              JOIN submission s ON s.submission_id = v.submission_id
                              WHERE s.run_id = :run""", run=run_id)["n"].iloc[0])


def run_findings(engine: Engine, run_id: str) -> pd.DataFrame:
    """Findings on the submissions a run read: rule, severity, file, sheet, cell, message."""
    return _df(engine, """
        SELECT v.rule_id, v.severity, f.file_name, v.sheet, v.cell, v.indicator_code, v.message
        FROM validation_finding v JOIN submission s ON s.submission_id = v.submission_id
        JOIN received_file f ON f.sha256 = s.sha256
        WHERE s.run_id = :run ORDER BY v.rule_id, f.file_name""", run=run_id)


def view(engine: Engine, name: str, period: str | None = None) -> pd.DataFrame:
    return _df(engine, f"SELECT * FROM {name}" + (" WHERE period = :p" if period else ""),  # noqa: S608 - a view
               **({"p": period} if period else {}))


def preview(df: pd.DataFrame, rows: int = PREVIEW_ROWS) -> str:
    """A markdown table of the first rows (empty text for an empty frame)."""
    if df.empty:
        return "_(none)_"
    return df.head(rows).to_markdown(index=False)
