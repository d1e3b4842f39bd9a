"""In-app notifications. Other channels (e-mail, webhook) are delivered by
the reminder machinery after commit."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, func, select, update

from ..db import session, utcnow
from ..errors import NotFound
from ..models import Notification, User, UserRole
from ..policy import authorize, roles_with


def coordinators() -> list[User]:
    return list(
        session().scalars(
            # Those who review the lead reports (the coordinators).
            select(User).join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role.in_(roles_with("report.review")), User.is_active).order_by(User.id)
        )
    )


def liaisons_of(unit_id: int) -> list[User]:
    return list(
        session().scalars(
            select(User)
            .join(UserRole, UserRole.user_id == User.id)
            # Those who file the unit's work (its liaisons).
            .where(UserRole.role.in_(roles_with("report.file")), User.unit_id == unit_id, User.is_active)
            .order_by(User.id)
        )
    )


def notify(
    users: Iterable[User], kind: str, title: str, *, body: str = "", link: str = "", task_id: int | None = None,
    exclude: User | None = None,
) -> list[Notification]:
    rows = []
    seen: set[int] = set()
    for user in users:
        if user.id in seen or (exclude is not None and user.id == exclude.id):
            continue
        seen.add(user.id)
        rows.append(Notification(user_id=user.id, kind=kind, title=title, body=body, link=link, task_id=task_id))
    session().add_all(rows)
    session().flush()
    return rows


def get_own_notification(user: User, notification_id: int) -> Notification:
    authorize(user, "notification.view")
    notification = session().get(Notification, notification_id)
    # Somebody else's notification does not exist, as far as this user knows.
    if notification is None or notification.user_id != user.id:
        raise NotFound("未找到该通知")
    return notification


# Drawn in the navigation bar of every page: the statement is built once.
_UNREAD_COUNT = select(func.count(Notification.id)).where(
    Notification.user_id == bindparam("user_id"), Notification.read_at.is_(None))


def unread_count(user: User) -> int:
    return session().scalar(_UNREAD_COUNT, {"user_id": user.id}) or 0


def mark_read(user: User, notification_ids: Iterable[int] | None = None) -> int:
    query = update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    if notification_ids is not None:
        query = query.where(Notification.id.in_(list(notification_ids)))
    return session().execute(query.values(read_at=utcnow())).rowcount


# Notices that ask someone to act on a report: once it is acted on, they are
# handled, for everyone they went to (the other coordinators included).
WAITING_FOR_REVIEW = ("report.submitted", "contribution.submitted")
WAITING_FOR_REVISION = ("report.returned", "report.reopened")


def mark_handled(link: str, kinds: Iterable[str]) -> int:
    """Mark read every unread notice of `kinds` pointing at `link`: the 通知
    count drops when what a notice asked for has been done."""
    query = (update(Notification)
             .where(Notification.link == link, Notification.kind.in_(list(kinds)), Notification.read_at.is_(None))
             .values(read_at=utcnow()))
    return session().execute(query).rowcount
