"""Use cases around reminders: a plan's rules, a user's channels, reading
one's reminders. Flush only; the caller commits."""
from __future__ import annotations

from sqlalchemy import case, select

from ..db import session, utcnow
from ..errors import NotFound
from ..models import Delivery, DeliveryState, Notification, Plan, User
from ..policy import Operator, authorize
from ..services import audit
from ..domain.reminder_rules import ReminderRules, rules_for, validate_rules


def set_plan_rules(actor: User | Operator, plan: Plan, values: dict) -> ReminderRules:
    """Store the plan's overrides of the default rules (only what differs).
    `actor` is a coordinator, or policy.SYSTEM for the command line."""
    authorize(actor, "reminder.configure", plan)
    before = dict(plan.reminder_rules or {})
    clean = validate_rules(values)
    plan.reminder_rules = clean or None
    session().flush()
    audit.record(
        actor, "plan.reminder_rules", obj=plan, detail={"before": before, "after": clean},
        actor_login=None if actor else "cli",
    )
    return rules_for(plan)


def set_channels(user: User, *, wants_email: bool, wants_webhook: bool) -> None:
    """A user's own choice of channels; in-app is always on."""
    before = {"email": user.wants_email, "webhook": user.wants_webhook}
    user.wants_email, user.wants_webhook = bool(wants_email), bool(wants_webhook)
    session().flush()
    audit.record(
        user, "user.reminder_channels", obj=user,
        detail={"before": before, "after": {"email": user.wants_email, "webhook": user.wants_webhook}},
    )


def my_reminders(user: User, limit: int = 200) -> list[Notification]:
    return list(
        session().scalars(
            select(Notification)
            .where(Notification.user_id == user.id, Notification.kind.startswith("reminder."))
            .order_by(Notification.read_at.is_not(None), Notification.id.desc())
            .limit(limit)
        )
    )


def mark_reminder_read(user: User, notification_id: int) -> Notification:
    """Record when the user read an in-app reminder (the first time only)."""
    note = session().get(Notification, notification_id)
    if note is None or note.user_id != user.id:
        raise NotFound("未找到该提醒")
    if note.read_at is None:
        note.read_at = utcnow()
        session().flush()
    return note


def delivery_log(user: User, limit: int = 300) -> list[Delivery]:
    """Deliveries for the log: final failures first, then failures awaiting a
    retry, then the rest, newest first."""
    authorize(user, "delivery.view")
    order = {
        DeliveryState.ABANDONED: 0, DeliveryState.FAILED: 1, DeliveryState.SENDING: 2,
        DeliveryState.PENDING: 3, DeliveryState.SENT: 4,
    }
    rank = case(*[(Delivery.state == state, n) for state, n in order.items()], else_=9)
    return list(session().scalars(select(Delivery).order_by(rank, Delivery.id.desc()).limit(limit)))
