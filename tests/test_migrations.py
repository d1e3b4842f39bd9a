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


def test_a_migration_that_copies_a_parent_table_keeps_its_children(db_url, plan):
    """SQLite alters a table by copying it and dropping the old one: with
    foreign keys on, dropping `plans` would delete every task, action and
    measure (ON DELETE CASCADE). Down past the newest migrations and up
    again, every row is still there."""
    from supervise.db import session

    session().close()
    engine = create_engine(db_url)
    tables = [t for t in inspect(engine).get_table_names() if t != "alembic_version"]

    def counts():
        with engine.connect() as conn:
            return {t: conn.exec_driver_sql(f'SELECT COUNT(*) FROM "{t}"').scalar() for t in tables}

    before = counts()
    assert before["tasks"] and before["fiscal_measures"] and before["task_units"]
    migrate.downgrade(db_url, "0006")
    migrate.upgrade(db_url)
    assert counts() == before
    engine.dispose()
