"""Bringing a warehouse to the current schema: Alembic migrations, the views re-created with their grants,
and the reference data loaded."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import Engine, make_url

from schemas.admin import admin
from schemas.database import WarehouseMissing, make_engine, sqlite_holds_warehouse, warehouse_location
from schemas.forms import all_rows
from schemas.geography import pre2025_rows
from schemas.grants import grant_views
from schemas.tables import commune, commune_successor, district, indicator, province
from schemas.views import VIEWS, view_sql


def create_views(conn) -> None:
    for name in reversed(list(VIEWS)):
        conn.execute(text(f"DROP VIEW IF EXISTS {name}"))
    for name, definition in VIEWS.items():
        conn.execute(text(f"CREATE VIEW {name} AS {view_sql(definition, conn.dialect.name)}"))
    # re-created views lose their grants: renew them for the BI roles
    if conn.dialect.name == "postgresql" and conn.execute(text(
            "SELECT to_regclass('bi_role') IS NOT NULL")).scalar():
        for (role,) in conn.execute(text("SELECT name FROM bi_role")).all():
            grant_views(conn, role)


def open_warehouse(url: str) -> Engine:
    """The existing warehouse at ``url``, migrated to the newest schema.  Never creates one: raises
    :class:`WarehouseMissing` when the SQLite file does not exist or the database holds no warehouse."""

    where = warehouse_location(url)
    if make_url(url).get_backend_name() == "sqlite":
        path = Path(make_url(url).database or "")
        if where == ":memory:" or not path.is_file():
            raise WarehouseMissing(where)
        if not sqlite_holds_warehouse(path):
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


def upgrade(engine: Engine) -> None:
    """Bring the warehouse to the newest migration, re-create the views and load the reference data."""

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
             "successor_code": u.province_code, "region": a.region_of(u.province_code)}
            for u in a.old_provinces.values()])
        conn.execute(commune.insert(), [
            {"code": u.code, "generation": "2025", "name": u.name, "province_code": u.province_code,
             "district_code": None, "district_name": None, "valid_from": "2025-07-01", "valid_to": None}
            for u in a.communes.values()])
    load_pre2025_units(conn)


def load_pre2025_units(conn) -> None:
    """Districts, communes and the old → 2025 commune mapping of before 2025-07-01 (once)."""

    if conn.execute(select(func.count()).select_from(district)).scalar():
        return
    rows = pre2025_rows()
    conn.execute(district.insert(), rows["district"])
    conn.execute(commune.insert(), rows["commune"])
    conn.execute(commune_successor.insert(), rows["commune_successor"])
