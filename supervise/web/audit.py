"""The audit log, for auditors (审计员)."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template, request
from flask_login import current_user
from sqlalchemy import or_, select

from .. import db
from ..models import AuditEntry
from ..policy import authorize

bp = Blueprint("audit", __name__, url_prefix="/audit")

PAGE_SIZE = 100


def _day(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        return None
    return datetime.combine(day, time.min, ZoneInfo("Asia/Shanghai")).astimezone(timezone.utc)


@bp.route("/")
def index():
    authorize(current_user, "audit.view")
    args = request.args
    query = select(AuditEntry)
    if login := args.get("actor", "").strip():
        query = query.where(AuditEntry.actor_login == login)
    if action := args.get("action", "").strip():
        from ..labels import events_matching

        # A Chinese label (审核通过) or the start of an internal name (report.).
        query = query.where(or_(AuditEntry.action.startswith(action), AuditEntry.action.in_(events_matching(action))))
    if unit := args.get("unit", "").strip():
        query = query.where(AuditEntry.actor_unit.contains(unit))
    if (start := _day(args.get("from"))) is not None:
        query = query.where(AuditEntry.at >= start)
    if (end := _day(args.get("to"))) is not None:
        query = query.where(AuditEntry.at < end + timedelta(days=1))
    page = max(int(args.get("page", "1") or 1) if args.get("page", "1").isdigit() else 1, 1)
    rows = list(
        db.session.scalars(query.order_by(AuditEntry.id.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1))
    )
    return render_template(
        "audit/index.html", entries=rows[:PAGE_SIZE], has_more=len(rows) > PAGE_SIZE, page=page, args=args
    )
