"""Writing the append-only audit trail. Rows are chained by hash so that an
edited or deleted row can be found (`flask audit verify`).

Each row's hash is an HMAC-SHA256 keyed with SUPERVISE_AUDIT_KEY, a key kept
outside the database: someone who can write SQL but does not hold the key
cannot re-compute the chain after changing a row. Deleting the newest rows
leaves a shorter chain that is intact in itself; an operator catches that
by keeping the head printed by `flask audit anchor` elsewhere and checking
it with `flask audit verify --anchor ID:HASH`.

Rows written before the key existed (before the upgrade that introduced it)
were chained with plain SHA-256. The upgrade neither re-keys nor marks them:
it appends one row, `audit.keyed_epoch`, keyed with the audit key, that
carries the last unkeyed row's id and hash (as its prev_hash too). `verify`
checks the rows before that epoch row with plain SHA-256 and the rest with
the key; changing an old row changes the hashes up to the epoch row, whose
keyed hash then no longer matches. On PostgreSQL a trigger refuses UPDATE
and DELETE on the table; prune goes through the `audit_prune()` function,
which deletes only rows older than 180 days.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, text

from .db import session, utcnow
from .errors import ValidationError
from .models import AuditEntry, User

# The key of the PostgreSQL advisory lock that serialises appends to the chain
# (any fixed 64-bit number; this one is "audit" in ASCII).
CHAIN_LOCK_KEY = 0x6175646974
# 等保 asks that audit records be kept for at least six months.
MIN_RETENTION_DAYS = 180


EPOCH_ACTION = "audit.keyed_epoch"


def audit_key() -> str:
    """The key of the chain: the configured SUPERVISE_AUDIT_KEY (required in
    production), else the published development key."""
    from flask import current_app, has_app_context

    from config import DEVELOPMENT_AUDIT_KEY

    if has_app_context():
        return current_app.config.get("AUDIT_KEY") or DEVELOPMENT_AUDIT_KEY
    return DEVELOPMENT_AUDIT_KEY


def _payload(entry: AuditEntry) -> bytes:
    payload = {
        "at": entry.at.isoformat(),
        "actor_id": entry.actor_id,
        "actor_login": entry.actor_login,
        "actor_unit": entry.actor_unit,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "task_id": entry.task_id,
        "from_state": entry.from_state,
        "to_state": entry.to_state,
        "reason": entry.reason,
        "detail": entry.detail,
        "ip": entry.ip,
        "prev_hash": entry.prev_hash,
    }
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str).encode("utf-8")


def _row_digest(entry: AuditEntry, key: str | None = None) -> str:
    """The keyed hash of a row."""
    return hmac.new((key or audit_key()).encode("utf-8"), _payload(entry), hashlib.sha256).hexdigest()


def _legacy_digest(entry: AuditEntry) -> str:
    """The unkeyed hash of the rows written before the keyed epoch."""
    return hashlib.sha256(_payload(entry)).hexdigest()


def record(
    actor: User | None,
    action: str,
    *,
    obj: Any = None,
    object_type: str | None = None,
    object_id: int | None = None,
    task_id: int | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
    ip: str | None = None,
    actor_login: str | None = None,
    sess=None,
) -> AuditEntry:
    """Append a row. `sess`: a session of its own (a refused request records
    its attempt after its own transaction was rolled back)."""
    sess = sess or session()
    if obj is not None:
        object_type = object_type or type(obj).__tablename__
        object_id = object_id if object_id is not None else getattr(obj, "id", None)
    if ip is None:
        ip = _request_ip()
    _lock_chain(sess)
    prev = sess.execute(select(AuditEntry.row_hash).order_by(AuditEntry.id.desc()).limit(1)).scalar()
    entry = AuditEntry(
        at=utcnow(),
        actor_id=actor.id if actor else None,
        actor_login=actor.login if actor else (actor_login or ""),
        actor_unit=actor.unit.canonical_name if actor else "",
        action=action,
        object_type=object_type or "",
        object_id=object_id,
        task_id=task_id,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        detail=detail or {},
        ip=ip,
        prev_hash=prev or "",
    )
    entry.row_hash = _row_digest(entry)
    sess.add(entry)
    sess.flush()
    return entry


def _lock_chain(sess=None) -> None:
    """Make concurrent transactions append one after the other.

    Each row carries the hash of the row before it, so two transactions that
    read the same last row and both append would fork the chain. On
    PostgreSQL a transaction-scoped advisory lock queues them (held until the
    transaction ends, then the next one reads the committed last row). On
    SQLite a writing transaction already holds the database's write lock from
    BEGIN IMMEDIATE, and a deferred one that read a stale last row fails
    to write rather than fork."""
    sess = sess or session()
    if sess.get_bind().dialect.name == "postgresql":
        sess.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})


@dataclass
class ChainReport:
    count: int = 0
    head_id: int | None = None
    head_hash: str = ""
    head_at: datetime | None = None
    # Rows before the keyed epoch (written before the audit key existed).
    legacy_count: int = 0
    epoch_id: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def parse_anchor(anchor: str) -> tuple[int, str]:
    ident, sep, digest = (anchor or "").strip().lstrip("#").partition(":")
    if not sep or not ident.isdigit() or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest.lower()):
        raise ValidationError("锚点应写作 ID:HASH,如 1234:3f9a…(64 位十六进制),即 flask audit anchor 的输出")
    return int(ident), digest.lower()


def verify(anchor: tuple[int, str] | None = None) -> ChainReport:
    """Walk the chain from its first row. A row whose own hash is wrong was
    edited (or re-hashed without the key); a row whose prev_hash is not the
    previous row's hash follows a deleted (or edited) row. After a prune,
    the first row may point to a pruned row only if an `audit.prune` entry
    further on vouches for it. With `anchor` (id, hash) the row must still be
    there with that hash: deleting the newest rows is found too."""
    report = ChainReport()
    sess = session()
    key = audit_key()
    pruned_heads = {
        (e.detail or {}).get("last_hash")
        for e in sess.scalars(select(AuditEntry).where(AuditEntry.action == "audit.prune"))
    }
    # Rows before the first epoch row were hashed without a key. The epoch
    # row itself is keyed: a forged one does not verify, and then every row
    # before it is reported.
    report.epoch_id = sess.scalar(select(func.min(AuditEntry.id)).where(AuditEntry.action == EPOCH_ACTION))
    anchor_seen = False
    prev_hash: str | None = None
    # populate_existing: check what is stored, not what this session remembers.
    query = select(AuditEntry).order_by(AuditEntry.id).execution_options(populate_existing=True)
    for entry in sess.execute(query).scalars().yield_per(1000):
        expected_ok = (
            entry.prev_hash == prev_hash
            if prev_hash is not None
            else entry.prev_hash == "" or entry.prev_hash in pruned_heads
        )
        if not expected_ok:
            report.problems.append(f"#{entry.id}: 前一条记录缺失或被改动 (prev_hash mismatch)")
        legacy = report.epoch_id is not None and entry.id < report.epoch_id
        expected = _legacy_digest(entry) if legacy else _row_digest(entry, key)
        if not hmac.compare_digest(expected, entry.row_hash or ""):
            report.problems.append(f"#{entry.id}: 记录内容被改动,或哈希不是用审计密钥计算的 (row hash mismatch)")
        if anchor is not None and entry.id == anchor[0]:
            anchor_seen = True
            if entry.row_hash != anchor[1]:
                report.problems.append(f"#{entry.id}: 与锚点记录的哈希不同,该记录或其之前的记录被改动 (anchor mismatch)")
        prev_hash = entry.row_hash
        report.count += 1
        report.legacy_count += legacy
        report.head_id, report.head_hash, report.head_at = entry.id, entry.row_hash, entry.at
    if anchor is not None and not anchor_seen:
        report.problems.append(
            f"#{anchor[0]}: 锚点记录已不存在,其后的记录可能被删除 (anchor row missing; head is #{report.head_id})"
        )
    return report


def verify_chain() -> list[str]:
    """Problems found in the chain; empty when it is intact."""
    return verify().problems


@dataclass
class PruneResult:
    deleted: int
    up_to_id: int | None
    archive: Path | None


def prune(before: datetime, *, archive_dir: Path, retention_days: int = MIN_RETENTION_DAYS) -> PruneResult:
    """Delete the audit rows older than `before`, after writing them to a
    JSON-lines file in `archive_dir`. Refuses any cut that would reach rows
    younger than the retention period (never less than 180 days).

    Only a prefix of the chain is removed, and an `audit.prune` entry records
    the hash of the last removed row, so `verify` still proves the rest."""
    retention_days = max(retention_days, MIN_RETENTION_DAYS)
    limit = utcnow() - timedelta(days=retention_days)
    if before > limit:
        raise ValidationError(
            f"审计记录至少保留 {retention_days} 天:只能清理 {limit.date().isoformat()} 之前的记录"
        )
    sess = session()
    _lock_chain(sess)
    cut = sess.scalar(select(func.max(AuditEntry.id)).where(AuditEntry.at < before))
    if cut is None:
        return PruneResult(0, None, None)
    # Ids follow time because appends are serialised; check anyway, so a row
    # younger than the limit is never caught in the prefix.
    newest = sess.scalar(select(func.max(AuditEntry.at)).where(AuditEntry.id <= cut))
    if newest is not None and newest > limit:
        raise ValidationError("要清理的记录中有未满保留期限的记录,已拒绝")
    rows = list(sess.scalars(select(AuditEntry).where(AuditEntry.id <= cut).order_by(AuditEntry.id)))
    archive_dir.mkdir(parents=True, exist_ok=True)
    path = archive_dir / f"audit-{rows[0].id}-{rows[-1].id}-{utcnow():%Y%m%dT%H%M%S}.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for e in rows:
            fh.write(json.dumps(_entry_dict(e), ensure_ascii=False, default=str) + "\n")
    last_hash = rows[-1].row_hash
    if sess.get_bind().dialect.name == "postgresql":
        # The table's trigger refuses a plain DELETE; this function deletes
        # only rows past the retention period (and checks it again itself).
        sess.execute(text("SELECT audit_prune(:cut, :days)"), {"cut": cut, "days": retention_days})
    else:
        # A bulk DELETE: the ORM refuses to delete audit entries one by one.
        sess.execute(delete(AuditEntry).where(AuditEntry.id <= cut))
    record(
        None,
        "audit.prune",
        actor_login="cli",
        detail={"up_to_id": cut, "count": len(rows), "last_hash": last_hash, "archive": path.name},
    )
    return PruneResult(len(rows), cut, path)


def _entry_dict(e: AuditEntry) -> dict[str, Any]:
    return {
        "id": e.id, "at": e.at.isoformat(), "actor_id": e.actor_id, "actor_login": e.actor_login,
        "actor_unit": e.actor_unit, "action": e.action, "object_type": e.object_type, "object_id": e.object_id,
        "task_id": e.task_id, "from_state": e.from_state, "to_state": e.to_state, "reason": e.reason,
        "detail": e.detail, "ip": e.ip, "prev_hash": e.prev_hash, "row_hash": e.row_hash,
    }


def _request_ip() -> str | None:
    # Services do not read the request; the web layer sets the address on `g`.
    from flask import g, has_request_context

    if has_request_context():
        return getattr(g, "client_ip", None)
    return None
