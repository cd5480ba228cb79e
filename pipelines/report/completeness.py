"""Who should report for a period, and who did (SPEC §1, §6 "timeliness and completeness").

Expected reports of a period:

* **Biểu 04**: every province of the period's generation (63 up to 2025-H1, 34 from 2025-Y);
* **Biểu 02**: every cluster in the register that is not only planned or withdrawn;
* **Biểu 01**: every project known to the register (projects are learnt from their reports);
* **Biểu 03**: every commune (district up to 2025-H1) with a registered cluster, and every one that has sent a 03.

A unit learnt from a report is expected from the first period it reported for onwards (from every period
when that report named no period); a unit of a register workbook (``source = 'register'``) always.  The
expectation is stored in ``expected_report`` and compared with the submissions by the view
``mart_reporting_completeness``; :func:`refresh_expected` recomputes one period in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd
from sqlalchemy import delete, func, select, text
from sqlalchemy.engine import Engine

from schemas.forms import deadline_months, form_codes
from schemas.geography import generation_of
from schemas.periods import VN_TZ, Period
from schemas.tables import cluster, commune, expected_report, project, province, submission

NOT_EXPECTED_STATUS = ("planned", "withdrawn")


@dataclass(frozen=True)
class ExpectedCounts:
    period: str
    by_form: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_form.values())


def _first_periods(conn, column) -> dict[str, str | None]:
    """Unit → the earliest period it reported for (None when none of its reports named a period)."""
    return dict(conn.execute(select(column, func.min(submission.c.period)).where(column.is_not(None))
                             .group_by(column)).all())


def _due(first: str | None, period: Period) -> bool:
    return first is None or Period.parse(first) <= period


def expected_units(conn, period: Period) -> list[dict]:
    """The rows of ``expected_report`` for a period (without the refresh time)."""
    gen = generation_of(period)
    rows: dict[tuple[str, str], dict] = {}

    def add(form: str, key: str, province_code: str | None, name: str | None, basis: str) -> None:
        if key and province_code:
            rows.setdefault((form, key), {"period": period.code, "form": form, "unit_key": key,
                                          "province_code": province_code, "unit_name": name, "basis": basis})

    for r in conn.execute(select(province).where(province.c.generation == gen)):
        add("04", r.code, r.code if gen == "2025" else r.successor_code, r.name, "province_list")

    cluster_first = _first_periods(conn, submission.c.cluster_id)
    communes_with_clusters: set[str] = set()
    for c in conn.execute(select(cluster)):
        if (c.status or "") in NOT_EXPECTED_STATUS:
            continue
        if c.source != "register" and c.cluster_id in cluster_first and not _due(cluster_first[c.cluster_id], period):
            continue
        add("02", c.cluster_id, c.province_code, c.name, "register")
        if c.commune_code:
            communes_with_clusters.add(c.commune_code)

    project_first = _first_periods(conn, submission.c.project_key)
    clusters = {r.cluster_id: r.province_code
                for r in conn.execute(select(cluster.c.cluster_id, cluster.c.province_code))}
    for p in conn.execute(select(project)):
        if p.project_key in project_first and not _due(project_first[p.project_key], period):
            continue
        add("01", p.project_key, clusters.get(p.cluster_id), p.name or p.tax_code, "register")

    if gen == "2025":
        names = {r.code: (r.name, r.province_code) for r in conn.execute(
            select(commune.c.code, commune.c.name, commune.c.province_code).where(commune.c.generation == "2025")
            .where(commune.c.code.in_(communes_with_clusters)))}
        for code, (name, pcode) in names.items():
            add("03", code, pcode, name, "register")
    # units that sent a Biểu 03 (communes; districts before the merger) are expected from then on
    sent = conn.execute(select(submission.c.unit_key, submission.c.province_code, submission.c.unit_name,
                               submission.c.period)
                        .where(submission.c.form == "03", submission.c.unit_key.is_not(None))).all()
    for key, pcode, name, first in sent:
        if first is None or (_due(first, period) and generation_of(Period.parse(first)) == gen):
            add("03", key, pcode, name, "reported")
    return list(rows.values())


def refresh_expected(engine: Engine, period: Period) -> ExpectedCounts:
    """Recompute who should report for ``period`` (one transaction)."""
    now = datetime.now(tz=VN_TZ)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # two runs refreshing one period: one after the other
            conn.execute(text("SELECT pg_advisory_xact_lock(7215003, hashtext(:p))"), {"p": period.code})
        # the write first: on SQLite it takes the write lock before anything is read (no stale snapshot)
        conn.execute(delete(expected_report).where(expected_report.c.period == period.code))
        rows = expected_units(conn, period)
        if rows:
            conn.execute(expected_report.insert(), [dict(r, refreshed_at=now) for r in rows])
    by_form = {f: sum(r["form"] == f for r in rows) for f in form_codes()}
    return ExpectedCounts(period.code, by_form)


def reported_periods(engine: Engine) -> list[Period]:
    """Every period some submission was identified for, oldest first."""
    with engine.connect() as conn:
        codes = [r[0] for r in conn.execute(select(submission.c.period).where(submission.c.period.is_not(None))
                                            .distinct())]
    return sorted(Period.parse(c) for c in codes)


def refresh_all(engine: Engine) -> list[ExpectedCounts]:
    return [refresh_expected(engine, p) for p in reported_periods(engine)]


def completeness(engine: Engine, period: Period | None = None) -> pd.DataFrame:
    """``mart_reporting_completeness`` (one period or all), ordered by period, form and province."""
    sql = "SELECT * FROM mart_reporting_completeness" + (" WHERE period = :p" if period else "")  # noqa: S608 - values bound
    with engine.connect() as conn:
        df = pd.read_sql(text(sql), conn, params={"p": period.code} if period else None)
    return df.sort_values(["period", "form", "province_code"]).reset_index(drop=True)


def period_due(moment: datetime) -> Period:
    """The period whose deadlines are the next to fall on or after the month of ``moment``, by the deadlines of
    forms.toml (up to June: the 6-month report; from July: the annual report)."""
    local = moment.astimezone(VN_TZ)
    return Period(local.year, next(kind for kind, month in deadline_months().items() if local.month <= month))


FIRST_PERIOD = Period(2024, "Y")  # Circular 14/2024 is in force from 2024-10-01: its first report is the annual 2024


def period_codes(until: date) -> list[str]:
    """Every period that can have reports on ``until``: from the first report under Circular 14 to the periods
    begun by that day (``2024-Y``, ``2025-H1`` …; on 2026-12-04 the last is ``2026-Y``, from 15 Dec ``2027-Y``)."""
    return [p.code for y in range(FIRST_PERIOD.year, until.year + 2) for p in (Period(y, "H1"), Period(y, "Y"))
            if p >= FIRST_PERIOD and p.start <= until]


def last_refresh(engine: Engine, period: Period) -> datetime | None:
    """When the expected reports of ``period`` were last computed (None: never); reads only."""
    with engine.connect() as conn:
        return conn.execute(select(func.max(expected_report.c.refreshed_at))
                            .where(expected_report.c.period == period.code)).scalar()
