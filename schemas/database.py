"""Opening the warehouse: engines for SQLite and PostgreSQL, where it lives, and bulk inserts."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url

T = TypeVar("T")

# The most values one SQL ``IN (...)`` list binds.  Every value is a bind parameter, and one statement may carry at
# most 32 766 of them on SQLite (SQLITE_MAX_VARIABLE_NUMBER's default since 3.32; some builds allow more) and
# 65 535 on PostgreSQL (a 16-bit count in the protocol; psycopg 3 binds on the server).  10 000 stays under a third
# of the lower limit, leaving room for the statement's other parameters; longer lists were no faster (60 000 ids
# looked up among 200 000 rows, both backends).
IN_LIST_SIZE = 10_000


def chunks(seq: Sequence[T], size: int = IN_LIST_SIZE) -> Iterator[Sequence[T]]:
    """``seq`` in consecutive slices of at most ``size`` items (by default: one SQL ``IN`` list's worth)."""
    for start in range(0, len(seq), size):
        yield seq[start:start + size]


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

    try:
        u = make_url(url)
    except Exception:  # noqa: BLE001 - a malformed URL is shown as given
        return url
    if u.get_backend_name() == "sqlite":
        return str(Path(u.database).resolve()) if u.database and u.database != ":memory:" else ":memory:"
    return u.render_as_string(hide_password=True)


def engine_if_present(url: str) -> Engine | None:
    """An engine on the warehouse at ``url``, or None when it is a SQLite file that does not exist yet: nothing
    is created (a sensor looks before any run has made the warehouse)."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite" and not (u.database and Path(u.database).is_file()):
        return None
    return make_engine(url)


def sqlite_holds_warehouse(path: Path) -> bool:
    """Whether the SQLite file holds a migrated warehouse, read without writing to it (no WAL switch, no file)."""

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
            copy.write_row([p(row[c]) if p else row[c] for c, p in zip(columns, processors, strict=True)])


def insert_ignore(conn, table, rows: dict | list[dict]) -> int:
    """Insert unless the key exists (another run may have just written it); the number of rows inserted."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert  # the same methods each
    # preserve_rowcount: SQLAlchemy 2.1 on psycopg reports -1 for an INSERT's rowcount unless asked to keep it
    stmt = insert(table).on_conflict_do_nothing().execution_options(preserve_rowcount=True)
    if isinstance(rows, dict):
        return conn.execute(stmt.values(**rows)).rowcount
    return conn.execute(stmt, rows).rowcount if rows else 0
