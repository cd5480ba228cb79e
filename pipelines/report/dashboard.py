"""A period at a glance, for the stewards' portal (issue 14): per form, how many reports a province owes, how many
arrived, on time or late, and who has not reported, named as an official reads them; and the same counts per
province for the ministry.

The counts are those of ``ccn completeness`` (view ``mart_reporting_completeness``), the names those of the
national workbook's missing list (view ``mart_missing_reports``).  Every form of ``schemas/forms.toml`` is listed,
with zeros when nothing is expected of it, and every 2025 province in the national view.

Who should report is stored per period (``expected_report``) and recomputed after every ``ccn run``, ``ccn
register`` and deadline schedule.  Reading a period that was never computed computes it first (once); a period
already computed is only read: recomputing is a write transaction (it takes SQLite's write lock and the period's
advisory lock on PostgreSQL), which a page opened by 34 provinces at once should not queue behind an ingest run
for.  Measured on the two-province test sample (360 expected reports): 7–16 ms per recomputation, 1 ms to read when
it was last done.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Engine

from pipelines.report.completeness import last_refresh, refresh_expected
from schemas.admin import admin
from schemas.forms import form_codes
from schemas.periods import Period
from schemas.text import bilingual
from schemas.views import NOT_CURRENT

COUNTS = ("expected", "received", "on_time", "late", "missing", "rejected_only")
# who has not reported, and whether they sent something that was refused (rejected_only of the counts)
_MISSING = f"""
    SELECT m.form, m.unit_key, m.unit_name, m.basis, m.commune_name, m.cluster_name, m.tax_code,
           CASE WHEN EXISTS (SELECT 1 FROM submission s WHERE s.form = m.form AND s.period = m.period
                             AND s.unit_key = m.unit_key AND s.status IN {NOT_CURRENT}) THEN 1 ELSE 0 END AS rejected
    FROM mart_missing_reports m WHERE m.period = :p AND m.province_code = :province
"""  # noqa: S608 - constants of schemas.views, values bound


@dataclass(frozen=True)
class FormCounts:
    """One form's reports of a period (one province, or all of them)."""

    form: str
    expected: int = 0
    received: int = 0  # accepted (with or without warnings)
    on_time: int = 0
    late: int = 0
    missing: int = 0  # expected and not received
    rejected_only: int = 0  # of the missing: sent, but every report of it was rejected


@dataclass(frozen=True)
class MissingReport:
    """One expected report that has not arrived (or arrived only rejected), with the names an official reads."""

    form: str
    unit_key: str
    unit_name: str | None
    basis: str  # why it is expected: province_list | register | reported
    commune_name: str | None  # the commune a cluster (02) or a project's cluster (01) lies in
    cluster_name: str | None  # the cluster (02), or the project's cluster (01)
    tax_code: str | None  # a project's (01)
    rejected: bool  # it was sent, and rejected

    @property
    def label(self) -> str:
        """``Dự án X (MST 0101…) · Cụm công nghiệp Y · Xã Z``: the unit, then where it lies."""
        name = self.unit_name or self.unit_key
        if self.unit_key.isdigit() and self.form == "03":  # a commune's administrative code, as on its papers
            name = f"{self.unit_key} {name}"
        if self.tax_code:
            name = f"{name} (MST {self.tax_code})"
        where = [n for n in (self.cluster_name if self.form == "01" else None, self.commune_name) if n]
        return " · ".join([name, *where])


@dataclass(frozen=True)
class Dashboard:
    period: str
    province_code: str
    province_name: str
    forms: list[FormCounts]  # every form, in the order of schemas/forms.toml
    missing: dict[str, list[MissingReport]] = field(default_factory=dict)  # form -> who has not reported
    computed_at: datetime | None = None  # when who should report was computed

    @property
    def complete(self) -> bool:
        """Every expected report of the period has been received and accepted."""
        return all(f.missing == 0 for f in self.forms)


@dataclass(frozen=True)
class ProvinceRow:
    """One province's reports of a period, every form together (the ministry's national view)."""

    province_code: str
    province_name: str
    expected: int
    received: int
    on_time: int
    late: int
    missing: int
    rejected_only: int


def ensure_expected(engine: Engine, period: Period) -> datetime:
    """When who should report for ``period`` was computed, computing it now if it never was."""
    when = last_refresh(engine, period)
    if when is None:
        refresh_expected(engine, period)
        when = last_refresh(engine, period)
    assert when is not None  # noqa: S101 - refresh_expected always stores the 34 provinces' Biểu 04 at least
    return when


def _province_name(code: str) -> str:
    unit = admin().provinces.get(code)
    if unit is None:
        raise ValueError(bilingual(f"{code} không phải mã tỉnh năm 2025", f"{code} is not a 2025 province code"))
    return unit.name


def province_dashboard(engine: Engine, period: str, province_code: str) -> Dashboard:
    """The period of one 2025 province: counts per form and who has not reported (raises ValueError on a period or
    province code that does not exist)."""
    p = Period.parse(period)
    name = _province_name(province_code)
    when = ensure_expected(engine, p)
    params = {"p": p.code, "province": province_code}
    with engine.connect() as conn:
        counts = {r.form: r for r in conn.execute(text(
            f"SELECT form, {', '.join(COUNTS)} FROM mart_reporting_completeness "  # noqa: S608 - constant names
            "WHERE period = :p AND province_code = :province"), params)}
        missing_rows = conn.execute(text(_MISSING), params).all()
    forms = [FormCounts(f, *(int(getattr(counts[f], c) or 0) for c in COUNTS)) if f in counts else FormCounts(f)
             for f in form_codes()]
    missing: dict[str, list[MissingReport]] = {f: [] for f in form_codes()}  # a form with none: []
    for r in sorted(missing_rows, key=lambda r: (r.form, r.commune_name or "", r.cluster_name or "",
                                                  r.unit_name or "", r.unit_key)):
        missing[r.form].append(MissingReport(r.form, r.unit_key, r.unit_name, r.basis, r.commune_name,
                                             r.cluster_name, r.tax_code, bool(r.rejected)))
    return Dashboard(p.code, province_code, name, forms, missing, when)


def national_dashboard(engine: Engine, period: str) -> list[ProvinceRow]:
    """Every 2025 province (in code order) with its reports of the period, all forms together."""
    p = Period.parse(period)
    ensure_expected(engine, p)
    sums = ", ".join(f"SUM({c}) AS {c}" for c in COUNTS)
    with engine.connect() as conn:
        rows = {r.province_code: r for r in conn.execute(text(
            f"SELECT province_code, {sums} FROM mart_reporting_completeness "  # noqa: S608 - constant names
            "WHERE period = :p GROUP BY province_code"), {"p": p.code})}
    out = []
    for code, unit in sorted(admin().provinces.items()):
        r = rows.get(code)
        out.append(ProvinceRow(code, unit.name, *(int(getattr(r, c) or 0) if r else 0 for c in COUNTS)))
    return out
