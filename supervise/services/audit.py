"""Writing the append-only audit trail. Rows are chained by hash so that an
edited or deleted row can be found (`flask audit verify`)."""
from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select

from ..db import session, utcnow
from ..models import AuditEntry, User


def _row_digest(entry: AuditEntry) -> str:
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
    blob = json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


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
) -> AuditEntry:
    sess = session()
    if obj is not None:
        object_type = object_type or type(obj).__tablename__
        object_id = object_id if object_id is not None else getattr(obj, "id", None)
    if ip is None:
        ip = _request_ip()
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


def verify_chain() -> list[str]:
    """Problems found in the chain; empty when it is intact."""
    problems: list[str] = []
    prev_hash = ""
    for entry in session().scalars(select(AuditEntry).order_by(AuditEntry.id)):
        if entry.prev_hash != prev_hash:
            problems.append(f"#{entry.id}: 前一条记录缺失或被改动 (prev_hash mismatch)")
        if _row_digest(entry) != entry.row_hash:
            problems.append(f"#{entry.id}: 记录内容被改动 (row hash mismatch)")
        prev_hash = entry.row_hash
    return problems


def _request_ip() -> str | None:
    # Services do not read the request; the web layer sets the address on `g`.
    from flask import g, has_request_context

    if has_request_context():
        return getattr(g, "client_ip", None)
    return None
