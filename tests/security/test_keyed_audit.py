"""A keyed audit chain (issue 9, point 5): hashes are HMACs with a key kept
outside the database, so re-computing the chain with SQL alone is detected;
`audit anchor` / `verify --anchor` find the newest rows deleted; on
PostgreSQL a trigger refuses UPDATE and DELETE (prune goes through a function
with the 180-day rule); rows from before the key are verified through the
upgrade's epoch row; draft edits, changes of the cited contributions and
refused attempts are audited (tests/api/test_audited_actions.py)."""
from __future__ import annotations

import hashlib
import secrets
import shutil
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import DBAPIError

from supervise import create_app, migrate
from supervise.db import session, unit_of_work
from supervise.models import AuditEntry, User
from supervise.services import audit

from ..conftest import BACKEND, PG_ADMIN_URL
from .test_duties_and_audit import _fresh, _raw, _some_history


@pytest.fixture
def keyed(app):
    """The application runs with an audit key of its own (as in production)."""
    app.config["AUDIT_KEY"] = secrets.token_hex(32)
    return app


def _rows() -> list[AuditEntry]:
    session().rollback()
    return list(session().scalars(select(AuditEntry).order_by(AuditEntry.id).execution_options(populate_existing=True)))


def _rewrite_chain_with_sql(digest, *, edit_id: int, reason: str) -> None:
    """What someone with write access to the database but not the key can
    do: change a row, then re-compute every hash from it on, using the
    published algorithm, and store them with UPDATE statements."""
    rows = _rows()
    session().expunge_all()  # plain objects from here: what was read
    prev = ""
    for entry in rows:
        if entry.id == edit_id:
            entry.reason = reason
        if entry.id >= edit_id:
            entry.prev_hash = prev
            entry.row_hash = digest(entry)
            _raw("UPDATE audit_entries SET reason = :r, prev_hash = :p, row_hash = :h WHERE id = :id",
                 r=entry.reason, p=entry.prev_hash, h=entry.row_hash, id=entry.id)
        prev = entry.row_hash


@pytest.mark.parametrize("forger", ["sha256", "published key", "wrong key"])
def test_a_chain_recomputed_with_sql_alone_is_detected(keyed, make_user, forger):
    from config import DEVELOPMENT_AUDIT_KEY

    ids = _some_history(make_user)
    runner = keyed.test_cli_runner()
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    digest = {
        "sha256": audit._legacy_digest,
        "published key": lambda e: audit._row_digest(e, DEVELOPMENT_AUDIT_KEY),
        "wrong key": lambda e: audit._row_digest(e, secrets.token_hex(32)),
    }[forger]
    _rewrite_chain_with_sql(digest, edit_id=ids[2], reason="伪造的原因")
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code != 0
    # Every re-hashed row is named; the links themselves are consistent.
    assert f"#{ids[2]}: 记录内容被改动" in result.output and "前一条记录缺失" not in result.output


def test_anchor_finds_the_newest_rows_deleted(keyed, make_user):
    ids = _some_history(make_user)
    runner = keyed.test_cli_runner()
    anchor = runner.invoke(args=["audit", "anchor"])
    assert anchor.exit_code == 0, anchor.output
    head = _rows()[-1]
    line, when = anchor.stdout.splitlines()[:2]
    assert line == f"{head.id}:{head.row_hash}" and head.at.isoformat() in when
    # More rows later: the anchor still holds.
    with unit_of_work():
        audit.record(None, "test.later", actor_login="cli")
    result = runner.invoke(args=["audit", "verify", "--anchor", line])
    assert result.exit_code == 0 and f"锚点 #{head.id} 仍在" in result.output
    # Deleting the newest rows (the anchor's among them) leaves a chain that
    # is intact in itself; only the anchor shows what is missing.
    _raw("DELETE FROM audit_entries WHERE id >= :id", id=ids[3])
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    result = runner.invoke(args=["audit", "verify", "--anchor", line])
    assert result.exit_code != 0 and "锚点记录已不存在" in result.output
    # A malformed anchor is a message, not a traceback.
    result = runner.invoke(args=["audit", "verify", "--anchor", "12:xyz"])
    assert result.exit_code != 0 and "ID:HASH" in result.output


def test_an_anchor_with_a_changed_hash_is_reported(keyed, make_user):
    ids = _some_history(make_user)
    wrong = hashlib.sha256(b"x").hexdigest()
    result = keyed.test_cli_runner().invoke(args=["audit", "verify", "--anchor", f"{ids[1]}:{wrong}"])
    assert result.exit_code != 0 and "与锚点记录的哈希不同" in result.output


@pytest.mark.skipif(BACKEND != "postgresql", reason="the trigger and the prune function are PostgreSQL's")
def test_postgresql_refuses_update_and_delete_of_audit_rows(app, make_user):
    from supervise.db import engine

    ids = _some_history(make_user)
    session().rollback()  # end this test's snapshot: TRUNCATE waits for every reader
    for sql in ("UPDATE audit_entries SET reason = 'x' WHERE id = :id", "DELETE FROM audit_entries WHERE id = :id",
                "TRUNCATE audit_entries"):
        with pytest.raises(DBAPIError, match="append-only"):
            with engine().begin() as conn:
                conn.execute(text(sql), {"id": ids[0]})
    # The prune function keeps the 180-day rule, whatever it is asked.
    for days in (30, 180):
        with pytest.raises(DBAPIError):
            with engine().begin() as conn:
                conn.execute(text("SELECT audit_prune(:id, :days)"), {"id": ids[-1], "days": days})
    # Setting the switch by hand does not help either: the rows are young.
    with pytest.raises(DBAPIError, match="append-only"):
        with engine().begin() as conn:
            conn.execute(text("SELECT set_config('supervise.audit_prune', 'on', true)"))
            conn.execute(text("DELETE FROM audit_entries WHERE id = :id"), {"id": ids[0]})
    session().rollback()
    assert session().scalar(select(func.count(AuditEntry.id))) == len(ids)


# --- rows from before the key: the upgrade's epoch row ---------------------


@pytest.fixture
def empty_db_url(tmp_path):
    if BACKEND == "postgresql":
        name = f"sv_epoch_{uuid.uuid4().hex[:10]}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        yield f"sqlite:///{tmp_path / 'epoch.sqlite3'}"


def _legacy_rows(url: str, n: int) -> list[int]:
    """Rows as the code before the key wrote them: plain SHA-256 links."""
    engine = create_engine(url)
    ids = []
    prev = ""
    with engine.begin() as conn:
        for i in range(n):
            entry = AuditEntry(at=datetime(2026, 6, 1, 8, 0, i, tzinfo=timezone.utc), actor_id=None,
                               actor_login="cli", actor_unit="", action="legacy.event", object_type="", object_id=None,
                               task_id=None, from_state=None, to_state=None, reason=f"旧记录{i}",
                               detail={"n": i}, ip=None, prev_hash=prev)
            entry.row_hash = audit._legacy_digest(entry)
            table = AuditEntry.__table__
            values = {c.name: getattr(entry, c.name) for c in table.columns if c.name != "id"}
            ids.append(conn.execute(table.insert().values(**values).returning(table.c.id)).scalar())
            prev = entry.row_hash
    engine.dispose()
    return ids


def test_the_upgrade_marks_an_epoch_and_old_rows_stay_verifiable(empty_db_url, tmp_path):
    key = secrets.token_hex(32)
    migrate.upgrade(empty_db_url, "20261202_next_steps")  # the revision before the keyed chain
    legacy = _legacy_rows(empty_db_url, 4)
    migrate.upgrade(empty_db_url, "head", audit_key=key)
    app = create_app("testing", DATABASE_URL=empty_db_url, INSTANCE_DIR=tmp_path, AUDIT_KEY=key)
    try:
        runner = app.test_cli_runner()
        with app.app_context():
            rows = list(session().scalars(select(AuditEntry).order_by(AuditEntry.id)))
            epoch = rows[-1]
            # The old rows are untouched; one keyed row vouches for them.
            assert [r.id for r in rows[:-1]] == legacy and epoch.action == audit.EPOCH_ACTION
            assert epoch.prev_hash == rows[-2].row_hash and epoch.detail["legacy_rows"] == 4
            assert epoch.detail["legacy_up_to_id"] == legacy[-1]
            result = runner.invoke(args=["audit", "verify"])
            assert result.exit_code == 0, result.output
            assert "其中 4 条为启用审计密钥之前的记录" in result.output
            # New rows are keyed and follow the epoch row.
            with unit_of_work():
                audit.record(None, "test.after", actor_login="cli")
            assert runner.invoke(args=["audit", "verify"]).exit_code == 0
            # Re-computing the old, unkeyed part with SQL breaks the keyed epoch row's link.
            _rewrite_chain_until(epoch.id, edit_id=legacy[1])
            result = runner.invoke(args=["audit", "verify"])
            assert result.exit_code != 0 and f"#{epoch.id}: 前一条记录缺失或被改动" in result.output
        # Verified with another key, the epoch row itself does not hold.
        other = create_app("testing", DATABASE_URL=empty_db_url, INSTANCE_DIR=tmp_path, AUDIT_KEY=secrets.token_hex(32))
        with other.app_context():
            result = other.test_cli_runner().invoke(args=["audit", "verify"])
            assert result.exit_code != 0 and f"#{epoch.id}: 记录内容被改动" in result.output
        other.extensions["supervise.engine"].dispose()
    finally:
        app.extensions["supervise.engine"].dispose()


def _rewrite_chain_until(stop_id: int, *, edit_id: int) -> None:
    prev = ""
    rows = _rows()
    session().expunge_all()
    for entry in rows:
        if entry.id >= stop_id:
            break
        if entry.id == edit_id:
            entry.reason = "改写的旧记录"
        if entry.id >= edit_id:
            entry.prev_hash = prev
            entry.row_hash = audit._legacy_digest(entry)
            _raw("UPDATE audit_entries SET reason = :r, prev_hash = :p, row_hash = :h WHERE id = :id",
                 r=entry.reason, p=entry.prev_hash, h=entry.row_hash, id=entry.id)
        prev = entry.row_hash


def test_a_new_database_has_no_epoch_and_every_row_is_keyed(keyed, make_user):
    _some_history(make_user)
    rows = _rows()
    assert not [r for r in rows if r.action == audit.EPOCH_ACTION]
    assert all(r.row_hash == audit._row_digest(r, keyed.config["AUDIT_KEY"]) for r in rows)
