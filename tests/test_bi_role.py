"""``ccn bi-role NAME``: a PostgreSQL login that reads the views (with real data in them) and cannot insert,
update, delete or create anything; its grants survive the views being re-created by a migration run.  On the
embedded SQLite warehouse the command explains why there is no role."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from tests.helpers import ccn


@pytest.fixture
def bi_role(pg_url):
    """A unique role name, dropped (with its privileges) before the test database is."""
    name = f"ccn_bi_{uuid.uuid4().hex[:8]}"
    yield name
    engine = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": name}).first():
            conn.execute(text(f'DROP OWNED BY "{name}"'))
            conn.execute(text(f'DROP ROLE "{name}"'))
    engine.dispose()


def _as_role(pg_url: str, role: str):
    return create_engine(make_url(pg_url).set(username=role), isolation_level="AUTOCOMMIT")


def _denied(conn, sql: str) -> str:
    with pytest.raises(DBAPIError) as exc:
        conn.execute(text(sql))
    return str(exc.value.orig)


@pytest.mark.slow
def test_bi_role_reads_views_and_cannot_write(tmp_path, monkeypatch, pg_url, bi_role, sample_dir, capsys):
    import shutil

    home = tmp_path / "home"
    monkeypatch.setenv("CCN_HOME", str(home))
    monkeypatch.setenv("CCN_WAREHOUSE_URL", pg_url)
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    shutil.copytree(sample_dir, home / "inbox", ignore=shutil.ignore_patterns("bieu01"))  # 02-04 suffice
    assert ccn("run") == 0
    monkeypatch.setenv("CCN_BI_PASSWORD", "s3cret'quote")
    assert ccn("bi-role", bi_role, "--password-env", "CCN_BI_PASSWORD") == 0
    assert "SELECT on" in capsys.readouterr().out

    owner = create_engine(pg_url)
    with owner.connect() as conn:
        n_submissions = conn.execute(text("SELECT COUNT(*) FROM mart_submissions")).scalar()
        n_values = conn.execute(text("SELECT COUNT(*) FROM mart_indicator_values")).scalar()
    assert n_submissions > 0 and n_values > 0

    ro = _as_role(pg_url, bi_role)
    with ro.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM mart_submissions")).scalar() == n_submissions
        assert conn.execute(text("SELECT COUNT(*) FROM mart_indicator_values")).scalar() == n_values
        assert conn.execute(text("SELECT COUNT(*) FROM mart_national_summary")).scalar() == 35
        conn.execute(text("SELECT * FROM mart_reporting_completeness")).all()
        sid = conn.execute(text("SELECT MIN(submission_id) FROM mart_submissions")).scalar()
        for sql in [
            ("INSERT INTO submission (sha256, status, received_at, is_late, errors, warnings) "
             "VALUES ('x', 'accepted', now(), false, 0, 0)"),
            f"UPDATE submission SET status = 'rejected' WHERE submission_id = {sid}",
            f"DELETE FROM indicator_value WHERE submission_id = {sid}",
            f"UPDATE mart_submissions SET status = 'rejected' WHERE submission_id = {sid}",
            f"DELETE FROM mart_submissions WHERE submission_id = {sid}",
            "INSERT INTO mart_national_summary (period) VALUES ('2030-Y')",
            "SELECT * FROM submission",  # tables are not part of the BI contract
            "CREATE TABLE bi_scratch (x int)",
            "TRUNCATE indicator_value",
        ]:
            message = _denied(conn, sql)
            assert any(m in message for m in ("permission denied", "read-only transaction", "cannot insert into view",
                                              "cannot update view", "cannot delete from view")), (sql, message)
        assert conn.execute(text("SHOW default_transaction_read_only")).scalar() == "on"

    with owner.connect() as conn:  # nothing changed
        assert conn.execute(text("SELECT COUNT(*) FROM mart_submissions")).scalar() == n_submissions
        assert conn.execute(text("SELECT COUNT(*) FROM indicator_value")).scalar() >= n_values

    # the views are dropped and re-created on every upgrade: the role keeps its grants
    from schemas.database import make_engine
    from schemas.migrate import upgrade

    upgrade(make_engine(pg_url))
    with ro.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM mart_submissions")).scalar() == n_submissions
    ro.dispose()
    owner.dispose()


def test_bi_role_on_sqlite_says_why(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CCN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CCN_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'home' / 'warehouse.sqlite'}")
    assert ccn("bi-role", "powerbi") == 2
    err = capsys.readouterr().err
    assert "PostgreSQL" in err and "SQLite" in err


def test_bi_role_name_is_checked(pg_url, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("CCN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CCN_WAREHOUSE_URL", pg_url)
    assert ccn("bi-role", 'x"; DROP TABLE submission; --') == 2
    assert "role name" in capsys.readouterr().err


@pytest.mark.parametrize("value", [None, ""])
def test_bi_role_with_its_password_variable_unset_is_refused(pg_url, monkeypatch, tmp_path, capsys, bi_role, value):
    """``--password-env VAR`` with VAR unset or empty once created a login with no password and said it was done."""
    monkeypatch.setenv("CCN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CCN_WAREHOUSE_URL", pg_url)
    monkeypatch.delenv("CCN_BI_PASSWORD", raising=False)
    if value is not None:
        monkeypatch.setenv("CCN_BI_PASSWORD", value)
    assert ccn("bi-role", bi_role, "--password-env", "CCN_BI_PASSWORD") == 2
    assert "CCN_BI_PASSWORD" in capsys.readouterr().err
    assert ccn("bi-role", bi_role) == 2  # no password asked for at all: a new role needs one, or --no-password
    assert "--no-password" in capsys.readouterr().err
    owner = create_engine(pg_url)
    with owner.connect() as conn:
        assert conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": bi_role}).first() is None
    owner.dispose()
    assert ccn("bi-role", bi_role, "--no-password") == 0  # said on purpose: the server authenticates it
