"""Shared fixtures: a fresh warehouse per test on SQLite and on the real PostgreSQL, and a generated sample.

PostgreSQL is the one on 127.0.0.1:5432 (trust auth).  Each test gets a database of its own (``module_home``:
each module and backend, for a batch loaded once that its tests only read), created and dropped here, so test
runs, pytest-xdist workers and parallel sessions never see each other's data.  When PostgreSQL is not
reachable the PostgreSQL cases are skipped on a developer's machine and fail in CI (CI=true).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

PG_ADMIN_URL = os.environ.get("CCN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_admin_engine():
    from sqlalchemy import create_engine

    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


def _pg_available() -> str | None:
    from sqlalchemy import text

    try:
        with _pg_admin_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        return None
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "not available"
        return str(exc).splitlines()[0]


@pytest.fixture(scope="session")
def pg_server() -> str:
    problem = _pg_available()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI and is not reachable: {problem}")
        pytest.skip(f"PostgreSQL not reachable: {problem}")
    return PG_ADMIN_URL


@contextmanager
def pg_database(prefix: str = "ccn_test"):
    """A fresh PostgreSQL database (its URL), dropped afterwards."""
    from sqlalchemy import text

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_url(pg_server) -> str:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    with pg_database() as url:
        yield url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_home(request, tmp_path_factory) -> Path:
    """A home and warehouse shared by the tests of one module (one per backend), for fixtures that load a batch
    once and tests that only read it.  ``CCN_HOME``/``CCN_WAREHOUSE_URL`` are set for the module."""
    home = tmp_path_factory.mktemp(f"home_{request.param}")
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{home / 'warehouse.sqlite'}"
        else:
            request.getfixturevalue("pg_server")
            url = stack.enter_context(pg_database())
        mp = stack.enter_context(pytest.MonkeyPatch.context())
        mp.setenv("CCN_HOME", str(home))
        mp.setenv("CCN_WAREHOUSE_URL", url)
        mp.setenv("DAGSTER_HOME", str(home / "dagster"))
        yield home


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse_url(request, tmp_path) -> str:
    """The warehouse of one test, on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'home' / 'warehouse.sqlite'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def home(tmp_path, monkeypatch, warehouse_url) -> Path:
    """CCN_HOME and CCN_WAREHOUSE_URL set for one test."""
    h = tmp_path / "home"
    h.mkdir(exist_ok=True)
    monkeypatch.setenv("CCN_HOME", str(h))
    monkeypatch.setenv("CCN_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv("DAGSTER_HOME", str(h / "dagster"))
    return h


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory) -> Path:
    """A two-province sample for 2026-H1, generated once per session (files keep their mtimes)."""
    from pipelines.sample.generator import generate
    from schemas.periods import Period

    out = tmp_path_factory.mktemp("sample")
    generate(out, Period.parse("2026-H1"), provinces=2, seed=7)
    return out


@pytest.fixture
def inbox(home, sample_dir) -> Path:
    """The sample copied into the test's inbox, modification times preserved."""
    dest = home / "inbox"
    shutil.copytree(sample_dir, dest, dirs_exist_ok=True)
    return dest


@pytest.fixture
def truth(sample_dir) -> dict:
    return json.loads((sample_dir / "truth.json").read_text(encoding="utf-8"))
