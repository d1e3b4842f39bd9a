"""Database plumbing: the declarative Base, the engine, one session per
application context, and the unit of work that commits.

Services only flush(); the end of a request, a job or a CLI command commits
through `unit_of_work()` (or the request hook in `supervise.web`). Work that
must only happen once data is safely stored (e-mail, webhooks) is registered
with `after_commit()` and dropped if the transaction rolls back.
"""
from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

from flask import Flask, current_app
from flask import has_request_context
from flask.globals import app_ctx, request_ctx
from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker
from sqlalchemy.pool import StaticPool

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class _AppBoundSession(Session):
    """A session that talks to the engine of the application it runs in, so
    that several apps (tests, backup restore) can live in one process."""

    def get_bind(self, mapper=None, clause=None, **kw):  # type: ignore[override]
        return current_app.extensions["supervise.engine"]


def _scope() -> tuple[str, int]:
    # One session per request, or per application context outside requests
    # (a CLI command, a job). A request inside a longer-lived app context
    # (a test holding one) still gets a session of its own.
    if has_request_context():
        return ("request", id(request_ctx._get_current_object()))
    return ("app", id(app_ctx._get_current_object()))


session: scoped_session[Session] = scoped_session(
    sessionmaker(class_=_AppBoundSession, expire_on_commit=False), scopefunc=_scope
)

_AFTER_COMMIT = "supervise.after_commit"


def after_commit(callback: Callable[[], Any]) -> None:
    """Run `callback` once the current transaction has committed."""
    session().info.setdefault(_AFTER_COMMIT, []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_after_commit(sess: Session) -> None:
    callbacks = sess.info.pop(_AFTER_COMMIT, [])
    for callback in callbacks:
        try:
            callback()
        except Exception:  # a failed notice must not undo stored work
            current_app.logger.exception("after-commit callback failed")


@event.listens_for(Session, "after_rollback")
def _drop_after_commit(sess: Session) -> None:
    sess.info.pop(_AFTER_COMMIT, None)


# Whether transactions begun now intend to write. On SQLite a writing
# transaction takes the write lock at BEGIN (IMMEDIATE), so two writers queue
# on the busy timeout instead of one failing half-way when it upgrades its
# read lock; reading transactions BEGIN DEFERRED and never block a writer.
_write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("supervise_write_intent", default=False)


def declare_write_intent(value: bool = True) -> None:
    _write_intent.set(value)


@contextlib.contextmanager
def unit_of_work() -> Iterator[Session]:
    """Commit what the block did, or roll all of it back."""
    sess = session()
    if sess.in_transaction() and not _write_intent.get():
        # A read transaction is open; start the writing one afresh.
        sess.rollback()
    token = _write_intent.set(True)
    try:
        yield sess
        sess.commit()
    except BaseException:
        sess.rollback()
        raise
    finally:
        _write_intent.reset(token)


DEFAULT_BUSY_TIMEOUT_MS = 30000


def has_write_intent() -> bool:
    return _write_intent.get()


def switch_to_writing() -> None:
    """For a read request that must record something once it has read (the
    audit row of a download): end the read transaction and make the next one
    a writer. On SQLite a read transaction that starts writing half-way can
    fail at once if another writer committed meanwhile; a fresh BEGIN
    IMMEDIATE waits its turn instead."""
    sess = session()
    if sess.in_transaction() and not _write_intent.get():
        sess.rollback()  # it only read: nothing is lost
    _write_intent.set(True)


@contextlib.contextmanager
def separate_write() -> Iterator[Session]:
    """A short writing transaction of its own, beside the current session's
    (which may be a read transaction that must not turn into a writer half-way
    on SQLite). Commits at the end of the block."""
    token = _write_intent.set(True)
    try:
        with Session(bind=engine(), expire_on_commit=False) as sess, sess.begin():
            yield sess
    finally:
        _write_intent.reset(token)


def make_engine(url: str, echo: bool = False, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> Engine:
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": busy_timeout_ms / 1000}
        if url in ("sqlite://", "sqlite:///:memory:"):
            kwargs["poolclass"] = StaticPool
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _tune_sqlite(engine, busy_timeout_ms)
    return engine


def _tune_sqlite(engine: Engine, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> None:
    # WAL lets readers go on while one writer writes; foreign keys are off by
    # default in SQLite; BEGIN IMMEDIATE takes the write lock up front so two
    # writers queue on the busy timeout instead of failing half-way through.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")


def init_app(app: Flask) -> None:
    url = app.config["DATABASE_URL"]
    if not url:
        raise RuntimeError("DATABASE_URL is not configured")
    engine = make_engine(url, echo=app.config.get("SQLALCHEMY_ECHO", False),
                         busy_timeout_ms=int(app.config.get("SQLITE_BUSY_TIMEOUT_MS", DEFAULT_BUSY_TIMEOUT_MS)))
    app.extensions["supervise.engine"] = engine

    def _remove_session(exc: BaseException | None) -> None:
        if exc is not None:
            session.rollback()
        session.remove()

    app.teardown_request(_remove_session)
    app.teardown_appcontext(_remove_session)


def engine() -> Engine:
    return current_app.extensions["supervise.engine"]
