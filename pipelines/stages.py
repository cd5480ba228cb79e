"""The pipeline's stages as plain functions (no Dagster): archive → read → validate → publish → summarise.

Each stage reads its input from the warehouse and the archive and writes its output there, so any stage can be
re-run alone and a run that stopped half-way is finished by the next.  Dagster assets (``assets/``) and the
``ccn`` command both call these.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import select, text
from sqlalchemy.engine import Engine

from pipelines.intake.archive import ArchiveResult, archive_new
from pipelines.load.ingest import ingest_archived
from pipelines.load.publish import PublishResult, publish_pending
from pipelines.progress import reporter
from pipelines.settings import Settings
from schemas.database import make_engine
from schemas.forms import load_forms
from schemas.migrate import upgrade
from schemas.periods import VN_TZ
from schemas.tables import pipeline_run
from validations.engine import validate
from validations.outliers import Analysis, analyse_changed


@dataclass
class Context:
    """What every stage needs: where files live, the warehouse, the run id and a progress callback."""

    settings: Settings
    inbox: Path
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    progress: Callable[..., None] | None = None  # (stage, done, total[, what]): see pipelines/progress.py
    _engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.settings.warehouse_url)
        return self._engine

    def report(self, stage: str):
        show = self.progress or reporter()
        if show is None:
            return None

        def step(done: int, total: int, what: str = "") -> None:
            if what:
                show(stage, done, total, what)
            else:  # a callback of three arguments (tests) is enough for stages that name no step
                show(stage, done, total)

        return step


def prepare(ctx: Context) -> None:
    """Create or migrate the warehouse and open the run's record."""
    ctx.settings.ensure()
    upgrade(ctx.engine)
    with ctx.engine.begin() as conn:
        if conn.execute(select(pipeline_run.c.run_id).where(pipeline_run.c.run_id == ctx.run_id)).first() is None:
            conn.execute(pipeline_run.insert().values(run_id=ctx.run_id, started_at=datetime.now(tz=VN_TZ)))


def archive_stage(ctx: Context) -> ArchiveResult:
    return archive_new(ctx.engine, ctx.inbox, ctx.settings.archive, progress=ctx.report("archive"))


def read_stage(ctx: Context) -> int:
    return ingest_archived(ctx.engine, ctx.run_id, progress=ctx.report("read"))


def validate_stage(ctx: Context):
    """Within-form and cross-level rules over the pending submissions; returns the validation report
    (findings written, time per form, the path of the run's Data Docs)."""

    return validate(ctx.engine, run_id=ctx.run_id, docs=ctx.settings.home / "datadocs",
                    progress=ctx.report("validate"))


def publish_stage(ctx: Context) -> PublishResult:
    show = ctx.report("publish")
    if show:
        show(0, 1)
    result = publish_pending(ctx.engine)
    if show:
        done = result.accepted + result.accepted_with_warnings + result.rejected + result.superseded + result.held
        show(done, done)
    with ctx.engine.begin() as conn:
        conn.execute(pipeline_run.update().where(pipeline_run.c.run_id == ctx.run_id).values(
            finished_at=datetime.now(tz=VN_TZ), accepted=result.accepted + result.accepted_with_warnings,
            rejected=result.rejected, late=result.late))
    return result


def outlier_stage(ctx: Context) -> list[Analysis]:
    """The outlier analysis of every period whose loaded reports changed (validations/outliers.py): after
    publishing, since it compares each report with the unit's earlier periods and with the period's other
    reports in the warehouse.  Its findings are warnings; a report's status does not change."""
    return analyse_changed(ctx.engine, progress=ctx.report("outliers"))


def national_summary(engine: Engine, period: str | None = None) -> pd.DataFrame:
    sql = "SELECT * FROM mart_national_summary" + (" WHERE period = :p" if period else "")  # noqa: S608 - values bound
    with engine.connect() as conn:
        df = pd.read_sql(text(sql), conn, params={"p": period} if period else None)
    order = {code: i for i, code in enumerate(_codes_04())}
    return df.sort_values(["period", "indicator_code"], key=lambda s: s.map(order) if s.name == "indicator_code" else s
                          ).reset_index(drop=True)


def _codes_04() -> list[str]:
    return [r.code for r in load_forms()["04"].rows]
