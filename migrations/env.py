"""Alembic environment. The database URL comes from the caller
(supervise.migrate), else DATABASE_URL, else the app's configuration."""
from __future__ import annotations

import os

from alembic import context

from supervise.db import Base, make_engine
import supervise.models  # noqa: F401  (registers every table)

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("url") or os.environ.get("DATABASE_URL")
    if url:
        return url
    from config import load_config

    return load_config().database_url()


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    sqlite = connection.dialect.name == "sqlite"
    if sqlite and not connection.in_transaction():
        # SQLite alters a table by copying it and dropping the old one; with
        # foreign keys on, dropping `plans` deletes every task, action and
        # measure ON DELETE CASCADE. Off for the migration (the pragma only
        # takes effect outside a transaction), checked and on again after.
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
    try:
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"migration left rows without their parent: {broken[:10]}")
    finally:
        if sqlite:
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
