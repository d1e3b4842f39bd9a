"""token expiry and keyed audit chain

API tokens get an expiry. Tokens that exist at the upgrade expire
SUPERVISE_TOKEN_DAYS (default 90) days after the upgrade, so no integration
stops without warning, and none lives forever.

The audit chain becomes keyed (HMAC-SHA256 with SUPERVISE_AUDIT_KEY). Rows
already written stay exactly as they are -- neither re-hashed with the key
(that would vouch for rows nobody checked) nor given a version column (which
a forger could set too). If there are any, the upgrade appends one row,
action `audit.keyed_epoch`, hashed with the key, whose prev_hash is the hash
of the last unkeyed row and whose detail names that row and the count;
`flask audit verify` checks the rows before it with plain SHA-256 and every
row from it on with the key, and says how many rows are of the old kind.
The key is the one of the application running the upgrade (`flask db
upgrade`), else SUPERVISE_AUDIT_KEY, else the published development key
(then a production verify reports the epoch row: nothing passes silently).
A chain whose newest row is keyed already (an upgrade after a downgrade)
gets no second epoch row.

On PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE of
audit_entries, except the DELETE of rows older than 180 days inside
`audit_prune(up_to_id, retention_days)`, the function `flask audit prune`
calls. Downgrading drops the trigger, the function and the expiry column;
the epoch row stays (the trail is append-only).

Revision ID: c9a1
Revises: 20261202_next_steps
Create Date: 2026-12-02 08:30:00
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from alembic import context, op

import supervise.models.types

revision = 'c9a1'
down_revision = '20261202_next_steps'
branch_labels = None
depends_on = None

GUARD = """
CREATE OR REPLACE FUNCTION audit_entries_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND current_setting('supervise.audit_prune', true) = 'on'
       AND OLD.at < now() - interval '180 days' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_entries is append-only: % refused (prune old rows with audit_prune())', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_entries_append_only
    BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_entries_guard();

CREATE TRIGGER audit_entries_no_truncate
    BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_guard();

CREATE OR REPLACE FUNCTION audit_prune(up_to_id integer, retention_days integer) RETURNS integer AS $$
DECLARE
    removed integer;
BEGIN
    IF retention_days < 180 THEN
        RAISE EXCEPTION 'audit rows are kept at least 180 days (asked: %)', retention_days;
    END IF;
    IF EXISTS (SELECT 1 FROM audit_entries
               WHERE id <= up_to_id AND at >= now() - make_interval(days => retention_days)) THEN
        RAISE EXCEPTION 'rows up to #% include rows younger than % days', up_to_id, retention_days;
    END IF;
    PERFORM set_config('supervise.audit_prune', 'on', true);
    DELETE FROM audit_entries WHERE id <= up_to_id;
    GET DIAGNOSTICS removed = ROW_COUNT;
    PERFORM set_config('supervise.audit_prune', 'off', true);
    RETURN removed;
END
$$ LANGUAGE plpgsql;
"""

UNGUARD = """
DROP TRIGGER IF EXISTS audit_entries_append_only ON audit_entries;
DROP TRIGGER IF EXISTS audit_entries_no_truncate ON audit_entries;
DROP FUNCTION IF EXISTS audit_prune(integer, integer);
DROP FUNCTION IF EXISTS audit_entries_guard();
"""


def _audit_key() -> str:
    from config import DEVELOPMENT_AUDIT_KEY

    return context.config.attributes.get("audit_key") or os.environ.get("SUPERVISE_AUDIT_KEY") or DEVELOPMENT_AUDIT_KEY


def _mark_keyed_epoch(now: datetime) -> None:
    from supervise.audit import EPOCH_ACTION, _row_digest
    from supervise.models import AuditEntry

    from supervise.audit import _legacy_digest

    conn = op.get_bind()
    head = conn.execute(sa.text("SELECT id, row_hash FROM audit_entries ORDER BY id DESC LIMIT 1")).first()
    if head is None:
        return  # a new database: every row will be keyed
    # Only a chain whose newest row is unkeyed needs the epoch row: after a
    # downgrade and this upgrade again, the rows are keyed already.
    columns = AuditEntry.__table__.c
    row = conn.execute(sa.select(*[c for c in columns if c.name != "id"]).where(columns.id == head.id)).mappings().first()
    if _legacy_digest(AuditEntry(**{k: v for k, v in row.items() if k != "row_hash"})) != head.row_hash:
        return
    count = conn.execute(sa.text("SELECT count(*) FROM audit_entries")).scalar()
    entry = AuditEntry(
        at=now, actor_id=None, actor_login="migration", actor_unit="", action=EPOCH_ACTION,
        object_type="audit_entries", object_id=head.id, task_id=None, from_state=None, to_state=None,
        reason="升级:此后的审计记录以审计密钥(HMAC-SHA256)链接;此前的记录保持原样(SHA-256)",
        detail={"legacy_up_to_id": head.id, "legacy_head_hash": head.row_hash, "legacy_rows": count,
                "algorithm": "HMAC-SHA256"},
        ip=None, prev_hash=head.row_hash,
    )
    entry.row_hash = _row_digest(entry, _audit_key())
    table = sa.table(
        "audit_entries",
        sa.column("at", supervise.models.types.UTCDateTime()), sa.column("actor_id"), sa.column("actor_login"),
        sa.column("actor_unit"), sa.column("action"), sa.column("object_type"), sa.column("object_id"),
        sa.column("task_id"), sa.column("from_state"), sa.column("to_state"), sa.column("reason"),
        sa.column("detail", sa.JSON()), sa.column("ip"), sa.column("prev_hash"), sa.column("row_hash"),
    )
    conn.execute(table.insert().values(
        at=entry.at, actor_id=None, actor_login=entry.actor_login, actor_unit="", action=entry.action,
        object_type=entry.object_type, object_id=entry.object_id, task_id=None, from_state=None, to_state=None,
        reason=entry.reason, detail=entry.detail, ip=None, prev_hash=entry.prev_hash, row_hash=entry.row_hash,
    ))


def upgrade() -> None:
    now = datetime.now(timezone.utc)
    days = max(int(os.environ.get("SUPERVISE_TOKEN_DAYS") or 90), 1)
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', supervise.models.types.UTCDateTime(timezone=True), nullable=True))
    tokens = sa.table('api_tokens', sa.column('expires_at', supervise.models.types.UTCDateTime()))
    op.get_bind().execute(tokens.update().values(expires_at=now + timedelta(days=days)))
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.alter_column('expires_at', existing_type=supervise.models.types.UTCDateTime(timezone=True),
                              nullable=False)

    _mark_keyed_epoch(now)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(GUARD)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(UNGUARD)
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
