"""A read-only PostgreSQL role for BI tools: it reads the ``mart_*`` views and can write nothing.

The role gets ``CONNECT`` on the database, ``USAGE`` on the schema and ``SELECT`` on the views only — no
privilege on any table (the views read the tables with their owner's rights), no ``CREATE`` anywhere, and
``default_transaction_read_only`` on.  The views are dropped and re-created by every migration, which drops
their grants, so the role is recorded in ``bi_role`` and :func:`grant_views` renews its grants each time.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Engine

from schemas.database import insert_ignore
from schemas.periods import VN_TZ
from schemas.tables import bi_role
from schemas.text import bilingual
from schemas.views import VIEWS

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class BIRoleError(Exception):
    """Why a BI role cannot be created (wrong backend, bad name)."""


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise BIRoleError(bilingual(f"tên vai trò {name!r} chỉ gồm chữ thường, chữ số và _ (tối đa 63 ký tự, "
                                    "không bắt đầu bằng chữ số)",
                                    f"role name {name!r} must be lower-case letters, digits and _ (at most 63, "
                                    "not starting with a digit)"))
    return name


def view_names(conn) -> list[str]:
    return list(VIEWS)


def grant_views(conn, role: str) -> None:
    """SELECT on every view, nothing else (used again after the views are re-created)."""
    role = check_name(role)
    for view in view_names(conn):
        conn.execute(text(f'GRANT SELECT ON "{view}" TO "{role}"'))


def create_bi_role(engine: Engine, role: str, password: str | None = None, *, without_password: bool = False
                   ) -> list[str]:
    """Create (or re-tighten) the read-only role on an upgraded warehouse; returns the views it can read.  A new
    role gets ``password``; without one it is refused unless ``without_password`` says the server authenticates it
    otherwise (certificate, peer).  Re-tightening an existing role without a password keeps the one it has."""
    role = check_name(role)
    if engine.dialect.name != "postgresql":
        raise BIRoleError(bilingual("vai trò BI cần kho dữ liệu trên PostgreSQL (đặt CCN_WAREHOUSE_URL); kho SQLite "
                                    "nhúng không có người dùng: hãy đưa cho công cụ BI một bản sao của tệp, mở ở chế "
                                    "độ chỉ đọc",
                                    "a BI role needs the warehouse on PostgreSQL (set CCN_WAREHOUSE_URL); the embedded "
                                    "SQLite warehouse has no users: give BI tools a copy of the file, opened read-only "
                                    "(sqlite file:…?mode=ro)"))
    with engine.begin() as conn:
        db = conn.execute(text("SELECT current_database()")).scalar()
        schema = conn.execute(text("SELECT current_schema()")).scalar()
        exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
        options = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS"
        if not exists and not password and not without_password:
            raise BIRoleError(bilingual(
                f"vai trò {role} chưa có: hãy cho mật khẩu qua --password-env BIẾN, hoặc --no-password nếu máy chủ "
                "xác thực bằng chứng thư hay peer (pg_hba.conf)",
                f"role {role} does not exist yet: give its password with --password-env VAR, or --no-password if the "
                "server authenticates it by certificate or peer (pg_hba.conf)"))
        verb = "ALTER" if exists else "CREATE"
        secret = f" PASSWORD {_literal(password)}" if password else ""
        conn.execute(text(f'{verb} ROLE "{role}" {options}{secret}'))
        conn.execute(text(f'ALTER ROLE "{role}" SET default_transaction_read_only = on'))
        conn.execute(text(f'GRANT CONNECT ON DATABASE "{db}" TO "{role}"'))
        conn.execute(text(f'REVOKE ALL ON ALL TABLES IN SCHEMA "{schema}" FROM "{role}"'))
        conn.execute(text(f'REVOKE CREATE ON SCHEMA "{schema}" FROM "{role}"'))
        conn.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"'))
        grant_views(conn, role)
        insert_ignore(conn, bi_role, {"name": role, "created_at": datetime.now(tz=VN_TZ)})
        return view_names(conn)


def _literal(value: str) -> str:
    """A string literal quoted by the driver (a password cannot be a bind parameter in CREATE ROLE)."""
    return "'" + value.replace("'", "''") + "'"
