"""Many writers at once: on SQLite (WAL, busy timeout, BEGIN IMMEDIATE) no
"database is locked", and on either database an audit chain that does not
fork when transactions append to it at the same time."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from supervise.db import declare_write_intent, engine, session, unit_of_work
from supervise.models import AuditEntry, User
from supervise.services import audit

from .conftest import BACKEND

WRITERS = 20
ROUNDS = 5


def test_sqlite_connections_are_tuned(ctx):
    if BACKEND != "sqlite":
        pytest.skip("SQLite pragmas")
    with engine().connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_twenty_concurrent_writers(app, make_user):
    """Each writer reads the newest row, then writes after it (what the audit
    chain does): the pattern that fails half-way without BEGIN IMMEDIATE."""
    user_id = make_user("leader").id
    start = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with app.app_context():
                start.wait()
                for round_ in range(ROUNDS):
                    with unit_of_work():
                        user = session().get(User, user_id)
                        seen = session().scalar(select(func.count(AuditEntry.id)))
                        audit.record(user, "test.concurrent", detail={"writer": n, "round": round_, "seen": seen})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, [str(e)[:200] for e in errors]
    session().rollback()
    written = session().scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "test.concurrent"))
    assert written == WRITERS * ROUNDS
    report = audit.verify()
    assert report.ok, report.problems[:5]


def test_without_begin_immediate_a_second_writer_fails_at_once(units):
    """Why db.py starts writing transactions with BEGIN IMMEDIATE: two deferred
    transactions that both read, then both write, end in "database is locked"
    for the second however long the busy timeout is."""
    if BACKEND != "sqlite":
        pytest.skip("SQLite locking")
    eng = engine()
    declare_write_intent(False)
    first, second = eng.connect(), eng.connect()
    try:
        first.begin()
        second.begin()
        first.exec_driver_sql("SELECT count(*) FROM units").scalar()
        second.exec_driver_sql("SELECT count(*) FROM units").scalar()
        first.exec_driver_sql("UPDATE units SET sort_order = sort_order + 1")
        first.commit()
        with pytest.raises(OperationalError, match="locked"):
            second.exec_driver_sql("UPDATE units SET sort_order = sort_order + 1")
        second.rollback()
        # With the write intent declared, the second waits its turn instead.
        declare_write_intent(True)
        first.begin()
        done = threading.Event()

        def later():
            declare_write_intent(True)  # each thread declares its own
            with eng.connect() as third:
                third.begin()
                third.exec_driver_sql("SELECT count(*) FROM units").scalar()
                third.exec_driver_sql("UPDATE units SET sort_order = sort_order + 1")
                third.commit()
            done.set()

        t = threading.Thread(target=later)
        t.start()
        first.exec_driver_sql("UPDATE units SET sort_order = sort_order + 1")
        first.commit()
        t.join(30)
        assert done.is_set()
    finally:
        declare_write_intent(False)
        first.close()
        second.close()
