"""The schema exists only through Alembic: one head, no drift, down and up."""
from __future__ import annotations

from sqlalchemy import create_engine, inspect

from supervise import migrate
from supervise.db import Base


def test_exactly_one_head(tmp_path):
    assert len(migrate.heads(f"sqlite:///{tmp_path / 'x.sqlite3'}")) == 1


def test_upgrade_empty_database_then_no_drift(db_url):
    # db_url is a database migrated to head from empty.
    migrate.check(db_url)
    tables = set(inspect(create_engine(db_url)).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_downgrade_to_base_and_up_again(db_url):
    migrate.downgrade(db_url, "base")
    engine = create_engine(db_url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    migrate.upgrade(db_url)
    migrate.check(db_url)
