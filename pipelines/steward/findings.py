"""What a steward reads and decides about findings: the findings table (``ccn findings``) and waivers
(``ccn waive``).

A waiver accepts one finding knowingly: who, when and why are kept in ``finding_waiver`` for audit and never
deleted.  A waived error no longer blocks its submission: a rejected submission whose every error is waived is
settled again by the next ``ccn run`` (pipelines/load/publish.py) and loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import Select, column, func, literal_column, select, table, text
from sqlalchemy.engine import Engine

from pipelines.steward.accounts import record
from pipelines.steward.scope import submissions_of
from pipelines.table import Col, render
from schemas.admin import admin
from schemas.forms import load_forms
from schemas.periods import VN_TZ
from schemas.status import STATUS_WORDS, Status
from schemas.tables import finding_waiver, submission, validation_finding, validation_run
from schemas.text import bilingual
from validations.catalogue import SEVERITY_WORDS

SEVERITIES = ("error", "warning")


def list_findings(engine: Engine, period: str | None = None, province: str | None = None, form: str | None = None,
                  severity: str | None = None, submission_id: int | None = None) -> pd.DataFrame:
    """Findings of settled submissions (view ``mart_findings``), filtered, in a steward's reading order."""
    where, params = [], {}
    for col, value in (("period", period), ("province_code", province), ("form", form), ("severity", severity),
                       ("submission_id", submission_id)):
        if value is not None:
            where.append(f"{col} = :{col}")
            params[col] = value
    sql = "SELECT * FROM mart_findings" + (" WHERE " + " AND ".join(where) if where else "")  # noqa: S608 - values bound
    with engine.connect() as conn:
        df = pd.read_sql(text(sql), conn, params=params)
    return df.sort_values(["province_code", "form", "period", "submission_id", "finding_id"],
                          na_position="first").reset_index(drop=True)


MAX_PER_PAGE = 1000  # findings on one page; the count of pages has no cap
_MART_FINDINGS = table("mart_findings", *(column(c) for c in (
    "finding_id", "submission_id", "province_code", "form", "period", "rule_id", "severity", "waived_by")))


def findings_page(engine: Engine, *, period: str | None = None, province: str | None = None,
                  form: str | None = None, rule: str | None = None, severity: str | None = None,
                  waived: bool | None = None, page: int = 1, per_page: int = 50) -> tuple[pd.DataFrame, int]:
    """One page of the findings of settled submissions (view ``mart_findings``, every column), filtered, and how
    many findings match in all.  ``province``: the findings that province may see (pipelines/steward/scope.py:
    those of an unreadable file count for the province folder it came from); ``waived``: True only the waived,
    False only those standing, None both.  The order is that of :func:`list_findings` (province, form, period,
    submission, finding; an unknown value first) on both backends, and the page is cut in SQL: a page costs the
    same among 100 or 100,000 findings."""
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise ValueError(f"page >= 1 and 1 <= per_page <= {MAX_PER_PAGE}")
    m = _MART_FINDINGS.c
    where = [m[col] == value for col, value in (("period", period), ("form", form), ("rule_id", rule),
                                                 ("severity", severity)) if value is not None]
    if province is not None:
        where.append(m.submission_id.in_(submissions_of(province)))
    if waived is not None:
        where.append(m.waived_by.is_not(None) if waived else m.waived_by.is_(None))
    # NULL sorts first on SQLite and last on PostgreSQL: "IS NOT NULL" before each column that may be NULL
    order = [t for c in ("province_code", "form", "period") for t in (m[c].is_not(None), m[c])]
    stmt: Select = (select(literal_column("*")).select_from(_MART_FINDINGS).where(*where)
            .order_by(*order, m.submission_id, m.finding_id).limit(per_page).offset((page - 1) * per_page))
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(_MART_FINDINGS).where(*where)).scalar_one()
        df = pd.read_sql(stmt, conn)
    return df, int(total)


def finding_rules(engine: Engine) -> list[str]:
    """The rules that have findings of settled submissions, sorted (the choices of a rule filter)."""
    with engine.connect() as conn:
        return sorted(r[0] for r in conn.execute(text("SELECT DISTINCT rule_id FROM mart_findings")))


def latest_data_docs(engine: Engine, run_ids: list[str] | None = None) -> list[str]:
    """Data Docs of the validation runs (those of ``run_ids`` when given, else the latest one)."""
    v = validation_run.c
    stmt = select(v.data_docs).where(v.data_docs.is_not(None)).order_by(v.finished_at.desc())
    if run_ids:
        stmt = stmt.where(v.run_id.in_(run_ids))
    else:
        stmt = stmt.limit(1)
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(stmt)]


def _where(row) -> str:
    sheet = row.sheet if isinstance(row.sheet, str) else ""
    cell = row.cell if isinstance(row.cell, str) else ""
    return f"{sheet}!{cell}" if sheet and cell else sheet or cell or "—"


COLUMNS = (Col("Phát hiện / Finding", right=True), Col("Hồ sơ / Submission", right=True), Col("Biểu / Form"),
           Col("Kỳ / Period"), Col("Tỉnh / Province"), Col("Đơn vị / Unit"), Col("Mức độ / Severity"),
           Col("Vị trí / Where"))


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def province_label(code) -> str:
    """``12 Tỉnh Lai Châu``: the code and the name (schemas.admin; the 2025 list first, then the old one)."""
    code = _text(code)
    if not code:
        return "—"
    a = admin()
    unit = a.provinces.get(code) or a.old_provinces.get(code)
    return f"{code} {unit.name}" if unit else code


def unit_label(name, key) -> str:
    """The unit's name, after its key when the key is an administrative code (a commune's ``03430``); a key
    made by the pipeline (``12-bum-nua``) is not shown."""
    name, key = _text(name), _text(key)
    if key.isdigit():
        return f"{key} {name}".strip()
    return name or key or "—"


def format_table(df: pd.DataFrame, width: int | None = None) -> str:
    """The findings as a table of short columns (finding and submission ids, form, period, province, unit,
    severity, sheet!cell), each row followed by its rule, file and report status, and its whole message, wrapped
    at word boundaries to ``width`` (None: every line whole)."""
    if df.empty:
        return bilingual("Không có phát hiện nào.", "No findings.")
    rows, details = [], []
    for r in df.itertuples():
        vi, en = SEVERITY_WORDS.get(r.severity, (r.severity, r.severity))
        if isinstance(r.waived_by, str):
            vi, en = f"{vi} (miễn trừ)", f"{en} (waived)"
        rows.append((int(r.finding_id), int(r.submission_id), _text(r.form) or "—", _text(r.period) or "—",
                     province_label(r.province_code), unit_label(r.unit_name, r.unit_key), f"{vi} / {en}",
                     _where(r)))
        st_vi, st_en = STATUS_WORDS.get(r.status, (r.status, r.status))
        details.append(f"{r.rule_id} · {_text(r.file_name)} · hồ sơ {st_vi} / report {st_en}\n{r.message}")
    return render(COLUMNS, rows, width=width, details=details)


def form_legend(forms) -> list[str]:
    """``Biểu 01: <title> — <English title>`` for each form code given, in order."""
    specs = load_forms()
    return [bilingual(f"Biểu {f}: {specs[f].title}", f"Biểu {f}: {specs[f].title_en}")
            for f in sorted({f for f in forms if isinstance(f, str) and f in specs})]


class WaiverError(ValueError):
    pass


@dataclass(frozen=True)
class Waiver:
    finding_id: int
    submission_id: int
    rule_id: str
    severity: str
    status: str
    errors_left: int  # standing errors of the submission after this waiver


def waive(engine: Engine, finding_id: int, reason: str, by: str, *, address: str | None = None) -> Waiver:
    """Record a waiver of ``finding_id`` and its audit event (``finding.waive``, same transaction); raises
    WaiverError with a reason a steward understands.  ``address``: the client's, from the portal."""
    reason, by = (reason or "").strip(), (by or "").strip()
    if not reason or not by:
        raise WaiverError(bilingual("miễn trừ cần lý do (--reason) và tên người quyết định (--by)",
                                    "a waiver needs a reason (--reason) and the name of who decides (--by)"))
    f, s, w = validation_finding.c, submission.c, finding_waiver.c
    with engine.begin() as conn:
        row = conn.execute(select(f.finding_id, f.submission_id, f.rule_id, f.severity, s.status)
                           .join(submission, s.submission_id == f.submission_id)
                           .where(f.finding_id == finding_id)).first()
        if row is None:
            raise WaiverError(bilingual(f"không có phát hiện {finding_id} (xem `ccn findings`)",
                                        f"finding {finding_id} does not exist (see `ccn findings`)"))
        if row.status == Status.PENDING:
            raise WaiverError(bilingual(f"phát hiện {finding_id} thuộc hồ sơ đang được xử lý; hãy chạy `ccn run` trước",
                                        f"finding {finding_id} belongs to a submission still being processed; "
                                        "run `ccn run` first"))
        done = conn.execute(select(w.waived_by, w.waived_at).where(w.finding_id == finding_id)).first()
        if done is not None:
            when = f"{done.waived_at:%Y-%m-%d %H:%M}"
            raise WaiverError(bilingual(f"phát hiện {finding_id} đã được {done.waived_by} miễn trừ lúc {when}",
                                        f"finding {finding_id} was already waived by {done.waived_by} on {when}"))
        conn.execute(finding_waiver.insert().values(finding_id=finding_id, waived_by=by, reason=reason,
                                                    waived_at=datetime.now(tz=VN_TZ)))
        record(conn, by, "finding.waive", address=address, target=f"finding {finding_id}", detail=reason)
        left = conn.execute(select(f.finding_id).where(
            f.submission_id == row.submission_id, f.severity == "error",
            f.finding_id.not_in(select(w.finding_id)))).all()
    return Waiver(finding_id, row.submission_id, row.rule_id, row.severity, row.status, len(left))
