"""Running the rule catalogue over pending submissions: the validate stage.

Structure rules are applied while reading (pipelines/read/workbook.py, pipelines/read/identify.py) and their findings
are already stored (``stage`` read).  This stage adds, for every pending submission:

1. within-form rules and the structure rules visible in the values, by Great Expectations, **one run per form
   over the whole batch** (validations/expectations.py);
2. cross-level and cross-period rules, in the warehouse (validations/cross_rules.py).

Its findings carry ``stage = 'validate'``.  They are committed in one transaction with ``submission.validated_at``,
which claims the submissions: a run that stops half-way has written nothing, and of two runs validating the same
submissions at once only the first to commit writes their findings (the other claims none of them and writes
nothing for them).  Publishing settles only validated submissions.  Each run is recorded in ``validation_run``
with the path of its Data Docs (static HTML under ``$CCN_HOME/datadocs/<validation run>/``).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine

from schemas.database import bulk_insert, chunks
from schemas.periods import VN_TZ
from schemas.status import Status
from schemas.tables import indicator_value, submission, validation_finding, validation_run
from validations.catalogue import Finding
from validations.cross_rules import evaluate
from validations.expectations import Runner, batch_frames


@dataclass
class ValidationReport:
    validation_run_id: str
    submissions: int = 0
    findings: int = 0
    seconds: float = 0.0
    data_docs: Path | None = None
    by_form: dict[str, dict] = field(default_factory=dict)  # form -> rows, expectations, findings, seconds
    cross_seconds: float = 0.0


def validate_pending(engine: Engine, run_id: str | None = None, docs: Path | None = None) -> int:
    """Evaluate the rule catalogue over every pending submission; returns the number of findings written."""
    return validate(engine, run_id=run_id, docs=docs).findings


def validate(engine: Engine, run_id: str | None = None, docs: Path | None = None,
             progress: Callable[..., None] | None = None) -> ValidationReport:
    """The validate stage with its figures.  ``docs``: the folder the run's Data Docs go under (the pipeline
    gives ``$CCN_HOME/datadocs``), or None for none.  ``progress(done, total, what)``: called as each step
    starts and once at the end; the steps are the within-form rules of each form in the batch, the cross-level
    rules and the Data Docs."""
    started = time.perf_counter()
    report = ValidationReport(uuid.uuid4().hex)
    s = submission.c
    with engine.connect() as conn:
        pending = pd.DataFrame(conn.execute(
            select(s.submission_id, s.form, s.period, s.sheet, s.run_id)
            .where(s.status == Status.PENDING, s.form.is_not(None), s.validated_at.is_(None))).all(),
            columns=["submission_id", "form", "period", "sheet", "run_id"])
    if pending.empty:
        return report
    ids = [int(i) for i in pending.submission_id]
    if run_id is None and pending.run_id.notna().any():
        run_id = Counter(pending.run_id.dropna()).most_common(1)[0][0]
    with engine.connect() as conn:
        existing = _existing_keys(conn, ids)
    docs_dir = _docs_dir(docs, report.validation_run_id)


    runner = Runner(docs_dir)
    findings: list[tuple[int, Finding]] = []
    groups = list(pending.groupby("form", sort=True))
    steps = len(groups) + 2  # each form's within-form rules, the cross-level rules, the Data Docs

    def step(done: int, what: str) -> None:
        if progress:
            progress(done, steps, what)

    for k, (form, part) in enumerate(groups):
        step(k, f"Biểu {form} ({len(part)})")  # the form and how many of its reports
        t0 = time.perf_counter()
        values = _long_values(engine, [int(i) for i in part.submission_id])
        wide, long = batch_frames(form, values[["submission_id", "indicator_code", "value"]],
                                  dict(zip(part.submission_id.astype(int), part.period, strict=True)))
        col = {c: values[c].tolist() for c in ("submission_id", "indicator_code", "sheet", "cell")}
        cells = dict(zip(zip(col["submission_id"], col["indicator_code"], strict=True),
                         zip(col["sheet"], col["cell"], strict=True), strict=True))
        result = runner.run(form, wide, long, cells,
                            dict(zip(part.submission_id.astype(int), part.sheet, strict=True)))
        new = [(sid, f) for sid, f in result.findings if (sid, f.rule_id, f.indicator_code) not in existing]
        findings += new
        report.by_form[form] = {"rows": result.rows, "checks": result.checks, "expectations": result.expectations,
                                "findings": len(new),
                                "seconds": round(time.perf_counter() - t0, 3)}


    step(len(groups), "liên cấp / cross-level")
    t0 = time.perf_counter()
    cross = evaluate(engine, ids, {sid for sid, f in findings if f.is_error})
    report.cross_seconds = round(time.perf_counter() - t0, 3)

    step(len(groups) + 1, "Data Docs")
    report.data_docs = runner.build_docs()
    if progress:
        progress(steps, steps)
    now = datetime.now(tz=VN_TZ)
    report.seconds = round(time.perf_counter() - started, 3)
    with engine.begin() as conn:
        claimed = _claim(conn, ids, now)
        # findings an interrupted validation of a version before migration 0004 left behind are replaced
        done = sorted(claimed)
        for part in chunks(done):
            conn.execute(delete(validation_finding).where(validation_finding.c.submission_id.in_(part),
                                                          validation_finding.c.stage == "validate"))
        mine = [(sid, f) for sid, f in findings + cross if sid in claimed]
        _write(conn, mine, now)
        report.submissions = len(claimed)
        report.findings = len(mine)
        conn.execute(validation_run.insert().values(
            validation_run_id=report.validation_run_id, run_id=run_id,
            started_at=datetime.fromtimestamp(now.timestamp() - report.seconds, tz=VN_TZ), finished_at=now,
            submissions=report.submissions, findings=report.findings, seconds=report.seconds,
            data_docs=str(report.data_docs) if report.data_docs else None))
    return report


def _claim(conn, ids: list[int], now: datetime) -> set[int]:
    """Mark still-unvalidated pending submissions as validated now; the ids this transaction claimed."""
    s = submission.c
    claimed: set[int] = set()
    for part in chunks(ids):
        claimed |= set(conn.execute(
            update(submission).where(s.submission_id.in_(part), s.status == Status.PENDING,
                                     s.validated_at.is_(None))
            .values(validated_at=now).returning(s.submission_id)).scalars())
    return claimed


def _docs_dir(docs: Path | None, name: str) -> Path | None:
    return Path(docs) / name if docs else None


def _existing_keys(conn, ids: list[int]) -> set[tuple[int, str, str | None]]:
    f = validation_finding.c
    out = set()
    for part in chunks(ids):
        out |= {(r[0], r[1], r[2]) for r in conn.execute(
            select(f.submission_id, f.rule_id, f.indicator_code).where(f.submission_id.in_(part)))}
    return out


def _long_values(engine: Engine, ids: list[int]) -> pd.DataFrame:
    v = indicator_value.c
    parts = []
    with engine.connect() as conn:
        for part in chunks(ids):
            parts.append(pd.DataFrame([tuple(r) for r in conn.execute(
                select(v.submission_id, v.indicator_code, v.value, v.sheet, v.cell)
                .where(v.submission_id.in_(part)))],
                columns=["submission_id", "indicator_code", "value", "sheet", "cell"]))
    out = pd.concat(parts, ignore_index=True)
    out["value"] = out["value"].astype("float64")
    return out


def _write(conn, findings: list[tuple[int, Finding]], now: datetime) -> None:
    rows = [{"submission_id": sid, "rule_id": f.rule_id, "severity": f.severity, "sheet": f.sheet, "cell": f.cell,
             "indicator_code": f.indicator_code, "message": f.message, "expected": f.expected, "created_at": now,
             "stage": "validate"} for sid, f in findings]
    bulk_insert(conn, validation_finding, rows)
