"""Alembic environment: migrates the connection handed over by schemas.migrate.upgrade, or the URL from
CCN_WAREHOUSE_URL when alembic is run from the command line (``alembic -c schemas/alembic.ini upgrade head``)."""

from alembic import context

from pipelines.settings import settings
from schemas.database import make_engine
from schemas.tables import metadata

config = context.config


def run() -> None:
    conn = config.attributes.get("connection")
    if conn is not None:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=conn.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
        return

    engine = make_engine(settings().warehouse_url)
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()


run()
