"""The warehouse: tables (SQLAlchemy Core), the BI views, and how to open and migrate it.

The same definitions serve SQLite (embedded default) and PostgreSQL.  Tables are created and changed only by
the Alembic migrations in ``schemas/migrations``; the views are derived objects, dropped and re-created from
``VIEWS`` after every upgrade so that both backends always carry the current definitions.  The BI contract
(view names and columns) is documented in docs/warehouse.md.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import (
    Boolean, Column, DateTime, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text, TypeDecorator,
    UniqueConstraint, create_engine, event, text,
)
from sqlalchemy.engine import Engine

from schemas.periods import VN_TZ

metadata = MetaData()


class AwareDateTime(TypeDecorator):
    """A timestamp with its time zone on both backends (SQLite keeps ISO 8601 text with the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to an AwareDateTime column")
        if dialect.name == "sqlite":
            return value.astimezone(VN_TZ).isoformat(sep=" ")
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.astimezone(VN_TZ)


province = Table(
    "province", metadata,
    Column("code", String(2), primary_key=True),
    Column("generation", String(8), primary_key=True),  # "2025" | "pre2025"
    Column("name", Text, nullable=False),
    Column("valid_from", String(10)),
    Column("valid_to", String(10)),
    Column("successor_code", String(2)),  # the 2025 province a pre-2025 province merged into
    Column("region", Text),
)

commune = Table(
    "commune", metadata,
    Column("code", String(5), primary_key=True),
    Column("generation", String(8), primary_key=True),
    Column("name", Text, nullable=False),
    Column("province_code", String(2), nullable=False),
    Column("district_code", String(3)),
    Column("district_name", Text),
    Column("valid_from", String(10)),
    Column("valid_to", String(10)),
)

indicator = Table(
    "indicator", metadata,
    Column("form", String(2), primary_key=True),
    Column("code", String(8), primary_key=True),
    Column("section", Text),
    Column("label_vi", Text, nullable=False),
    Column("label_en", Text, nullable=False),
    Column("unit_vi", Text, nullable=False),
    Column("unit", String(40), nullable=False),
    Column("period_kind", String(12), nullable=False),
    Column("aggregation", String(12), nullable=False),
    Column("numerator", String(8)),
    Column("denominator", String(8)),
    Column("scale", Float),
    Column("sort_order", Integer, nullable=False),
)

cluster = Table(
    "cluster", metadata,
    Column("cluster_id", String(80), primary_key=True),
    Column("name", Text, nullable=False),
    Column("province_code", String(2), nullable=False),
    Column("commune_code", String(5)),
    Column("kind", String(20)),
    Column("status", String(30)),
    Column("verified", Boolean, nullable=False, default=False),
    Column("source", String(20), nullable=False),  # register | report
    Column("created_at", AwareDateTime, nullable=False),
)

cluster_alias = Table(
    "cluster_alias", metadata,
    Column("province_code", String(2), primary_key=True),
    Column("alias_key", String(200), primary_key=True),
    Column("cluster_id", String(80), ForeignKey("cluster.cluster_id"), nullable=False),
    Column("alias", Text, nullable=False),
)

project = Table(
    "project", metadata,
    Column("project_key", String(160), primary_key=True),
    Column("cluster_id", String(80), ForeignKey("cluster.cluster_id"), nullable=False),
    Column("name", Text),
    Column("tax_code", String(20)),
    Column("sector", Text),
)

received_file = Table(
    "received_file", metadata,
    Column("sha256", String(64), primary_key=True),
    Column("file_name", Text, nullable=False),
    Column("source_path", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("received_at", AwareDateTime, nullable=False),
    Column("archived_at", AwareDateTime, nullable=False),
    Column("archive_path", Text, nullable=False),
    Column("state", String(12), nullable=False),  # archived | read
)

file_arrival = Table(
    "file_arrival", metadata,
    Column("arrival_id", Integer, primary_key=True, autoincrement=True),
    Column("sha256", String(64), ForeignKey("received_file.sha256"), nullable=False),
    Column("source_path", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("mtime_ns", String(24), nullable=False),
    Column("seen_at", AwareDateTime, nullable=False),
    UniqueConstraint("source_path", "size", "mtime_ns", name="uq_file_arrival_source"),
)

submission = Table(
    "submission", metadata,
    Column("submission_id", Integer, primary_key=True, autoincrement=True),
    Column("sha256", String(64), ForeignKey("received_file.sha256"), nullable=False),
    Column("sheet", Text),
    Column("form", String(2)),
    Column("wording", String(10)),
    Column("period", String(7)),
    Column("province_code", String(2)),
    Column("commune_code", String(5)),
    Column("cluster_id", String(80)),
    Column("project_key", String(160)),
    Column("unit_key", String(160)),
    Column("unit_name", Text),
    Column("sender", Text),
    Column("received_at", AwareDateTime, nullable=False),
    Column("deadline", AwareDateTime),
    Column("is_late", Boolean, nullable=False, default=False),
    Column("status", String(24), nullable=False),  # pending | accepted | accepted_with_warnings | rejected | superseded
    Column("errors", Integer, nullable=False, default=0),
    Column("warnings", Integer, nullable=False, default=0),
    Column("superseded_by", Integer),
    Column("run_id", String(64)),
    Column("validated_at", AwareDateTime),  # rule findings committed (validate stage); publishing needs it
    Column("loaded_at", AwareDateTime),
    UniqueConstraint("sha256", "sheet", name="uq_submission_file_sheet"),
)
Index("ix_submission_key", submission.c.form, submission.c.period, submission.c.unit_key)
Index("ix_submission_status", submission.c.status)

indicator_value = Table(
    "indicator_value", metadata,
    Column("submission_id", Integer, ForeignKey("submission.submission_id"), primary_key=True),
    Column("indicator_code", String(8), primary_key=True),
    Column("value", Float),
    Column("raw", Text),
    Column("sheet", Text),
    Column("cell", String(12)),
    Column("unit", String(40)),
)

validation_finding = Table(
    "validation_finding", metadata,
    Column("finding_id", Integer, primary_key=True, autoincrement=True),
    Column("submission_id", Integer, ForeignKey("submission.submission_id"), nullable=False),
    Column("rule_id", String(60), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("sheet", Text),
    Column("cell", String(12)),
    Column("indicator_code", String(8)),
    Column("message", Text, nullable=False),
    Column("expected", Text),
    Column("created_at", AwareDateTime),
    Column("stage", String(12)),  # read | validate (migration 0002); NULL = read
)
Index("ix_finding_submission", validation_finding.c.submission_id)

# --- validation (migration 0002): waivers and validation runs ------------------------------------------------
finding_waiver = Table(
    "finding_waiver", metadata,
    Column("finding_id", Integer, ForeignKey("validation_finding.finding_id"), primary_key=True),
    Column("waived_by", Text, nullable=False),
    Column("waived_at", AwareDateTime, nullable=False),
    Column("reason", Text, nullable=False),
)

validation_run = Table(
    "validation_run", metadata,
    Column("validation_run_id", String(64), primary_key=True),
    Column("run_id", String(64)),  # the pipeline run whose submissions were validated
    Column("started_at", AwareDateTime, nullable=False),
    Column("finished_at", AwareDateTime),
    Column("submissions", Integer),
    Column("findings", Integer),
    Column("seconds", Float),
    Column("data_docs", Text),  # index.html of the run's Great Expectations Data Docs
)

pipeline_run = Table(
    "pipeline_run", metadata,
    Column("run_id", String(64), primary_key=True),
    Column("dagster_run_id", String(64)),
    Column("started_at", AwareDateTime, nullable=False),
    Column("finished_at", AwareDateTime),
    Column("files_new", Integer),
    Column("accepted", Integer),
    Column("rejected", Integer),
    Column("late", Integer),
)

# --- orchestration (migration 0003): pre-2025 geography, who should report, BI roles --------------------------
district = Table(
    "district", metadata,
    Column("code", String(3), primary_key=True),  # GSO district code, valid until 2025-06-30
    Column("name", Text, nullable=False),
    Column("old_province_code", String(2), nullable=False),
    Column("province_code", String(2), nullable=False),  # the 2025 province it lies in
    Column("valid_to", String(10)),
)

commune_successor = Table(
    "commune_successor", metadata,
    Column("old_code", String(5), primary_key=True),
    Column("new_code", String(5), primary_key=True),
    Column("old_province_code", String(2), nullable=False),
    Column("old_district_code", String(3)),
    Column("new_province_code", String(2), nullable=False),
    Column("merge_type", String(8), nullable=False),  # full | partial (the old commune was split)
    Column("targets", Integer, nullable=False),
)

expected_report = Table(
    "expected_report", metadata,
    Column("period", String(7), primary_key=True),
    Column("form", String(2), primary_key=True),
    Column("unit_key", String(160), primary_key=True),
    Column("province_code", String(2), nullable=False),  # 2025 province
    Column("unit_name", Text),
    Column("basis", String(20), nullable=False),  # province_list | register | reported
    Column("refreshed_at", AwareDateTime, nullable=False),
)
Index("ix_expected_report_province", expected_report.c.period, expected_report.c.province_code)

bi_role = Table(
    "bi_role", metadata,
    Column("name", String(63), primary_key=True),
    Column("created_at", AwareDateTime, nullable=False),
)

ACTIVE = "('accepted', 'accepted_with_warnings')"

# name -> SELECT; created in this order, dropped in reverse.
VIEWS: dict[str, str] = {
    "mart_submissions": """
        SELECT s.submission_id, f.file_name, s.sha256, s.form, s.period, s.province_code, s.unit_key, s.unit_name,
               s.received_at, s.deadline, s.is_late, s.status, s.errors, s.warnings
        FROM submission s JOIN received_file f ON f.sha256 = s.sha256
        WHERE s.status <> 'pending'
    """,
    "mart_validation_issues": """
        SELECT v.submission_id, v.rule_id, v.severity, v.sheet, v.cell, v.indicator_code, v.message
        FROM validation_finding v JOIN submission s ON s.submission_id = v.submission_id
        WHERE s.status <> 'pending'
    """,
    "mart_indicator_values": f"""
        SELECT s.submission_id, s.form, s.period, s.province_code, s.unit_key, v.indicator_code, v.value, v.unit
        FROM indicator_value v JOIN submission s ON s.submission_id = v.submission_id
        WHERE s.status IN {ACTIVE}
    """,
    "mart_national_summary": f"""
        WITH sums AS (
            SELECT s.period, v.indicator_code, SUM(v.value) AS value, COUNT(DISTINCT s.province_code) AS provinces
            FROM indicator_value v JOIN submission s ON s.submission_id = v.submission_id
            WHERE s.form = '04' AND s.status IN {ACTIVE} AND v.value IS NOT NULL
            GROUP BY s.period, v.indicator_code
        )
        SELECT s.period, i.code AS indicator_code, i.label_vi AS indicator_name, i.unit_vi AS unit,
               CASE WHEN i.aggregation = 'ratio' THEN i.scale * num.value / NULLIF(den.value, 0)
                    ELSE s.value END AS value,
               s.provinces AS provinces_reporting
        FROM sums s
        JOIN indicator i ON i.form = '04' AND i.code = s.indicator_code
        LEFT JOIN sums num ON num.period = s.period AND num.indicator_code = i.numerator
        LEFT JOIN sums den ON den.period = s.period AND den.indicator_code = i.denominator
    """,
}


# --- orchestration views (issue #5): completeness, province / region / cluster summaries ----------------------
# Which row of Biểu 04 (and 03) the reports of clusters (02) and projects (01) add up to.
CLUSTER_ROLLUP: dict[str, tuple[str, str]] = {
    "13": ("02", "1"), "14": ("02", "2"), "18": ("02", "4"), "20": ("02", "6"), "21": ("02", "7"),
    "22": ("02", "8"), "26": ("02", "13"), "27": ("02", "14"), "23": ("01", "1"), "24": ("01", "2"),
    "25": ("01", "3"),
}
_ROLLUP_VALUES = ", ".join(f"('{f}', '{c}', '{t}')" for t, (f, c) in CLUSTER_ROLLUP.items())


def _ratio(alias: str, column: str = "value") -> str:
    """A row's value from per-row sums: ratios (row 19) recomputed from their parts, never summed."""
    return (f"CASE WHEN i.aggregation = 'ratio' THEN i.scale * {alias}n.{column} / NULLIF({alias}d.{column}, 0) "
            f"ELSE {alias}.{column} END")


def _sums(form: str) -> str:
    return f"""
        SELECT s.period, s.province_code, v.indicator_code, SUM(v.value) AS value,
               COUNT(DISTINCT s.unit_key) AS units
        FROM indicator_value v JOIN submission s ON s.submission_id = v.submission_id
        WHERE s.form = '{form}' AND s.status IN {ACTIVE} AND v.value IS NOT NULL AND s.period IS NOT NULL
              AND s.province_code IS NOT NULL
        GROUP BY s.period, s.province_code, v.indicator_code"""


def _joined(alias: str, cte: str) -> str:
    on = "{a}.period = k.period AND {a}.province_code = k.province_code AND {a}.indicator_code = {code}"
    return "\n".join(f"        LEFT JOIN {cte} {alias}{sfx} ON " + on.format(a=alias + sfx, code=code)
                     for sfx, code in (("", "i.code"), ("n", "i.numerator"), ("d", "i.denominator")))


VIEWS["mart_reporting_completeness"] = f"""
    WITH current_report AS (
        SELECT s.form, s.period, s.unit_key, MIN(CASE WHEN s.is_late THEN 1 ELSE 0 END) AS late
        FROM submission s WHERE s.status IN {ACTIVE} AND s.unit_key IS NOT NULL
        GROUP BY s.form, s.period, s.unit_key
    ), refused AS (
        SELECT DISTINCT s.form, s.period, s.unit_key FROM submission s
        WHERE s.status IN ('rejected', 'superseded') AND s.unit_key IS NOT NULL
    )
    SELECT e.period, e.form, e.province_code, COUNT(*) AS expected, COUNT(c.unit_key) AS received,
           SUM(CASE WHEN c.unit_key IS NOT NULL AND c.late = 0 THEN 1 ELSE 0 END) AS on_time,
           SUM(CASE WHEN c.late = 1 THEN 1 ELSE 0 END) AS late,
           COUNT(*) - COUNT(c.unit_key) AS missing,
           SUM(CASE WHEN c.unit_key IS NULL AND r.unit_key IS NOT NULL THEN 1 ELSE 0 END) AS rejected_only
    FROM expected_report e
    LEFT JOIN current_report c ON c.form = e.form AND c.period = e.period AND c.unit_key = e.unit_key
    LEFT JOIN refused r ON r.form = e.form AND r.period = e.period AND r.unit_key = e.unit_key
    GROUP BY e.period, e.form, e.province_code
"""

VIEWS["mart_missing_reports"] = f"""
    SELECT e.period, e.form, e.province_code, e.unit_key, e.unit_name, e.basis
    FROM expected_report e
    WHERE NOT EXISTS (SELECT 1 FROM submission s WHERE s.form = e.form AND s.period = e.period
                      AND s.unit_key = e.unit_key AND s.status IN {ACTIVE})
"""

VIEWS["mart_province_summary"] = f"""
    WITH reported AS ({_sums("04")}
    ), communes AS ({_sums("03")}
    ), rollup(form, code, target) AS (VALUES {_ROLLUP_VALUES}
    ), clusters AS (
        SELECT s.period, s.province_code, r.target AS indicator_code, SUM(v.value) AS value
        FROM indicator_value v JOIN submission s ON s.submission_id = v.submission_id
        JOIN rollup r ON r.form = s.form AND r.code = v.indicator_code
        WHERE s.status IN {ACTIVE} AND v.value IS NOT NULL AND s.period IS NOT NULL AND s.province_code IS NOT NULL
        GROUP BY s.period, s.province_code, r.target
    ), k AS (
        SELECT period, province_code FROM reported UNION SELECT period, province_code FROM communes
        UNION SELECT period, province_code FROM clusters
    ), unit_counts AS (
        SELECT period, province_code, MAX(units) AS units FROM communes GROUP BY period, province_code
    )
    SELECT k.period, k.province_code, p.name AS province_name, i.code AS indicator_code,
           {_ratio("rp")} AS reported_value,
           {_ratio("cm")} AS computed_value,
           CASE WHEN i.aggregation = 'ratio' THEN NULL ELSE cl.value END AS computed_from_clusters,
           COALESCE(uc.units, 0) AS communes_reporting, p.region
    FROM k
    JOIN province p ON p.code = k.province_code AND p.generation = '2025'
    JOIN indicator i ON i.form = '04'
{_joined("rp", "reported")}
{_joined("cm", "communes")}
        LEFT JOIN clusters cl ON cl.period = k.period AND cl.province_code = k.province_code
                             AND cl.indicator_code = i.code
        LEFT JOIN unit_counts uc ON uc.period = k.period AND uc.province_code = k.province_code
"""

VIEWS["mart_region_summary"] = """
    WITH s AS (
        SELECT ps.period, ps.region, ps.indicator_code, SUM(ps.reported_value) AS reported,
               SUM(ps.computed_value) AS computed, COUNT(ps.reported_value) AS provinces_reporting
        FROM mart_province_summary ps GROUP BY ps.period, ps.region, ps.indicator_code
    )
    SELECT s.period, s.region, i.code AS indicator_code, i.label_vi AS indicator_name, i.unit_vi AS unit,
           CASE WHEN i.aggregation = 'ratio' THEN i.scale * sn.reported / NULLIF(sd.reported, 0)
                ELSE s.reported END AS reported_value,
           CASE WHEN i.aggregation = 'ratio' THEN i.scale * sn.computed / NULLIF(sd.computed, 0)
                ELSE s.computed END AS computed_value,
           s.provinces_reporting
    FROM s JOIN indicator i ON i.form = '04' AND i.code = s.indicator_code
    LEFT JOIN s sn ON sn.period = s.period AND sn.region = s.region AND sn.indicator_code = i.numerator
    LEFT JOIN s sd ON sd.period = s.period AND sd.region = s.region AND sd.indicator_code = i.denominator
"""

VIEWS["mart_cluster_status"] = f"""
    SELECT s.period, s.cluster_id, c.name AS cluster_name, s.province_code,
           COALESCE(s.commune_code, c.commune_code) AS commune_code,
           MAX(CASE WHEN v.indicator_code = '3' THEN v.value END) AS ready_land_ha,
           MAX(CASE WHEN v.indicator_code = '4' THEN v.value END) AS leased_land_ha,
           MAX(CASE WHEN v.indicator_code = '5' THEN v.value END) AS occupancy_pct,
           MAX(CASE WHEN v.indicator_code = '6' THEN v.value END) AS projects,
           MAX(CASE WHEN v.indicator_code = '7' THEN v.value END) AS fdi_projects,
           MAX(CASE WHEN v.indicator_code = '8' THEN v.value END) AS operating_projects,
           MAX(CASE WHEN v.indicator_code = '13' THEN v.value END) AS wwtp_built,
           MAX(CASE WHEN v.indicator_code = '14' THEN v.value END) AS wwtp_compliant,
           p.region
    FROM submission s
    JOIN indicator_value v ON v.submission_id = s.submission_id
    JOIN cluster c ON c.cluster_id = s.cluster_id
    LEFT JOIN province p ON p.code = s.province_code AND p.generation = '2025'
    WHERE s.form = '02' AND s.status IN {ACTIVE}
    GROUP BY s.period, s.cluster_id, c.name, s.province_code, s.commune_code, c.commune_code, p.region
"""

VIEWS["mart_commune_mapping"] = """
    SELECT m.old_code AS old_commune_code, o.name AS old_commune_name, m.old_district_code,
           m.old_province_code, m.new_province_code,
           CASE WHEN m.merge_type = 'partial' THEN NULL ELSE m.new_code END AS new_commune_code,
           m.new_code AS candidate_commune_code, n.name AS candidate_commune_name,
           CASE WHEN m.merge_type = 'partial' THEN 1 ELSE 0 END AS is_split, m.targets
    FROM commune_successor m
    LEFT JOIN commune o ON o.code = m.old_code AND o.generation = 'pre2025'
    LEFT JOIN commune n ON n.code = m.new_code AND n.generation = '2025'
"""


# --- validation views (issue #4): every finding with its report and its waiver, for stewards -------------------
VIEWS["mart_findings"] = """
    SELECT v.finding_id, v.submission_id, f.file_name, s.form, s.period, s.province_code, s.unit_key, s.unit_name,
           s.status, v.rule_id, v.severity, v.sheet, v.cell, v.indicator_code, v.message, v.expected,
           w.waived_by, w.waived_at, w.reason AS waiver_reason
    FROM validation_finding v
    JOIN submission s ON s.submission_id = v.submission_id
    JOIN received_file f ON f.sha256 = s.sha256
    LEFT JOIN finding_waiver w ON w.finding_id = v.finding_id
    WHERE s.status <> 'pending'
"""

def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout so two runs can share it."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


class WarehouseMissing(LookupError):
    """No warehouse where the settings point.  A command that only reads never creates one: it says where it
    looked (``where``) instead, so a job started in the wrong folder does not report an empty warehouse."""

    def __init__(self, where: str, reason: str = "none"):
        super().__init__(where)
        self.where = where
        self.reason = reason  # "none": nothing there; "empty": a database without the warehouse's tables


def warehouse_location(url: str) -> str:
    """Where a warehouse URL points, for a message: the SQLite file, or the URL without its password."""
    from sqlalchemy.engine import make_url

    try:
        u = make_url(url)
    except Exception:  # noqa: BLE001 - a malformed URL is shown as given
        return url
    if u.get_backend_name() == "sqlite":
        return str(Path(u.database).resolve()) if u.database and u.database != ":memory:" else ":memory:"
    return u.render_as_string(hide_password=True)


def _sqlite_holds_warehouse(path: Path) -> bool:
    """Whether the SQLite file holds a migrated warehouse, read without writing to it (no WAL switch, no file)."""
    import sqlite3

    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=60)
    except sqlite3.Error:
        return False
    try:
        return con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
                           ).fetchone() is not None
    except sqlite3.DatabaseError:  # not a database at all
        return False
    finally:
        con.close()


def open_warehouse(url: str) -> Engine:
    """The existing warehouse at ``url``, migrated to the newest schema.  Never creates one: raises
    :class:`WarehouseMissing` when the SQLite file does not exist or the database holds no warehouse."""
    from sqlalchemy import inspect
    from sqlalchemy.engine import make_url

    where = warehouse_location(url)
    if make_url(url).get_backend_name() == "sqlite":
        path = Path(make_url(url).database or "")
        if where == ":memory:" or not path.is_file():
            raise WarehouseMissing(where)
        if not _sqlite_holds_warehouse(path):
            raise WarehouseMissing(where, "empty")
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            found = inspect(conn).has_table("alembic_version")
    except BaseException:
        engine.dispose()
        raise
    if not found:
        engine.dispose()
        raise WarehouseMissing(where, "empty")
    upgrade(engine)
    return engine


def bulk_insert(conn, table, rows: list[dict]) -> None:
    """Insert many rows in the connection's transaction: COPY on PostgreSQL (psycopg 3), executemany elsewhere."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(table.insert(), rows)
        return
    columns = list(rows[0])
    binds = [table.c[c].type for c in columns]
    processors = [t.bind_processor(conn.dialect) for t in binds]
    cursor = conn.connection.dbapi_connection.cursor()
    with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([p(row[c]) if p else row[c] for c, p in zip(columns, processors)])


def insert_ignore(conn, table, rows: dict | list[dict]) -> int:
    """Insert unless the key exists (another run may have just written it); the number of rows inserted."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    # preserve_rowcount: SQLAlchemy 2.1 on psycopg reports -1 for an INSERT's rowcount unless asked to keep it
    stmt = insert(table).on_conflict_do_nothing().execution_options(preserve_rowcount=True)
    if isinstance(rows, dict):
        return conn.execute(stmt.values(**rows)).rowcount
    return conn.execute(stmt, rows).rowcount if rows else 0


def create_views(conn) -> None:
    for name in reversed(list(VIEWS)):
        conn.execute(text(f"DROP VIEW IF EXISTS {name}"))
    for name, select in VIEWS.items():
        conn.execute(text(f"CREATE VIEW {name} AS {select}"))
    if conn.dialect.name == "postgresql" and conn.execute(text(
            "SELECT to_regclass('bi_role') IS NOT NULL")).scalar():
        from pipelines.bi import grant_views  # re-created views lose their grants: renew them for BI roles

        for (role,) in conn.execute(text("SELECT name FROM bi_role")).all():
            grant_views(conn, role)


def upgrade(engine: Engine) -> None:
    """Bring the warehouse to the newest migration, re-create the views and load the reference data."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # one migrator at a time: two runs starting together must not both create the tables
            conn.execute(text("SELECT pg_advisory_xact_lock(7215001)"))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        create_views(conn)
        load_reference(conn)


def load_reference(conn) -> None:
    """Provinces, communes and indicators from ``schemas/`` (idempotent: only what is missing is added)."""
    from sqlalchemy import func, select

    from schemas.admin import admin
    from schemas.forms import all_rows

    if conn.execute(select(func.count()).select_from(indicator)).scalar() == 0:
        conn.execute(indicator.insert(), [
            {"form": r.form, "code": r.code, "section": r.section, "label_vi": r.label_vi, "label_en": r.label_en,
             "unit_vi": r.unit_vi, "unit": r.unit, "period_kind": r.period_kind, "aggregation": r.aggregation,
             "numerator": r.numerator or None, "denominator": r.denominator or None, "scale": r.scale,
             "sort_order": r.sort_order} for r in all_rows()])
    if conn.execute(select(func.count()).select_from(province)).scalar() == 0:
        a = admin()
        conn.execute(province.insert(), [
            {"code": u.code, "generation": "2025", "name": u.name, "valid_from": "2025-07-01", "valid_to": None,
             "successor_code": None, "region": a.region_of(u.code)} for u in a.provinces.values()] + [
            {"code": u.code, "generation": "pre2025", "name": u.name, "valid_from": None, "valid_to": "2025-06-30",
             "successor_code": u.province_code, "region": a.region_of(u.province_code)} for u in a.old_provinces.values()])
        conn.execute(commune.insert(), [
            {"code": u.code, "generation": "2025", "name": u.name, "province_code": u.province_code,
             "district_code": None, "district_name": None, "valid_from": "2025-07-01", "valid_to": None}
            for u in a.communes.values()])
    load_pre2025_units(conn)


def load_pre2025_units(conn) -> None:
    """Districts, communes and the old → 2025 commune mapping of before 2025-07-01 (once)."""
    from sqlalchemy import func, select

    from pipelines.geography import pre2025_rows

    if conn.execute(select(func.count()).select_from(district)).scalar():
        return
    rows = pre2025_rows()
    conn.execute(district.insert(), rows["district"])
    conn.execute(commune.insert(), rows["commune"])
    conn.execute(commune_successor.insert(), rows["commune_successor"])
