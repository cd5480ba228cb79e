"""Helpers for tests: run the ccn command in process and read the views back."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import text


def ccn(*args: str) -> int:
    from pipelines.cli import main

    return main(list(args))


def engine():
    from pipelines.settings import settings
    from schemas.database import make_engine

    return make_engine(settings().warehouse_url)


def rows(sql: str, **params) -> list:
    """The rows of one query on the warehouse of the settings (each with its columns as attributes)."""
    eng = engine()
    try:
        with eng.connect() as conn:
            return conn.execute(text(sql), params).all()
    finally:
        eng.dispose()


def view(name: str, where: str = "") -> pd.DataFrame:
    eng = engine()
    try:
        with eng.connect() as conn:
            return pd.read_sql(text(f"SELECT * FROM {name} {where}"), conn)
    finally:
        eng.dispose()
