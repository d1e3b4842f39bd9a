"""In-app notifications (站内通知): the list, the unread count in the
navigation bar, and marking them read."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from .. import db
from ..errors import ValidationError
from ..models import Notification
from ..policy import authorize, can
from ..services import notifications as notification_service
from . import acting_user
from .forms import PlainForm

bp = Blueprint("notifications", __name__)

PAGE_SIZE = 200


@bp.app_context_processor
def _unread_count():
    # Only when a page is drawn for someone who gets notifications.
    def unread() -> int:
        if not current_user.is_authenticated or not can(current_user, "notification.view"):
            return 0
        return notification_service.unread_count(current_user)

    return {"unread_notifications": unread}


@bp.get("/notifications")
def index():
    user = acting_user()
    authorize(user, "notification.view")
    only_unread = request.args.get("unread") == "1"
    query = select(Notification).where(Notification.user_id == user.id)
    if only_unread:
        query = query.where(Notification.read_at.is_(None))
    rows = list(db.session.scalars(query.order_by(Notification.id.desc()).limit(PAGE_SIZE)))
    return render_template("notifications/index.html", notifications=rows, only_unread=only_unread,
                           form=PlainForm(formdata=None))


@bp.post("/notifications/read")
def mark_all_read():
    user = acting_user()
    authorize(user, "notification.view")
    _check_form()
    count = notification_service.mark_read(user)
    flash(f"已将 {count} 条通知标为已读" if count else "没有未读通知", "success")
    return redirect(url_for(".index"))


@bp.post("/notifications/<int:notification_id>/read")
def mark_read(notification_id: int):
    user = acting_user()
    notification = _own(notification_id)
    _check_form()
    notification_service.mark_read(user, [notification.id])
    return redirect(url_for(".index", unread=request.args.get("unread")))


@bp.post("/notifications/<int:notification_id>/open")
def open_(notification_id: int):
    """Mark it read and go to what it is about."""
    user = acting_user()
    notification = _own(notification_id)
    _check_form()
    notification_service.mark_read(user, [notification.id])
    return redirect(_local_path(notification.link) or url_for(".index"))


def _own(notification_id: int) -> Notification:
    return notification_service.get_own_notification(acting_user(), notification_id)


def _check_form() -> None:
    if not PlainForm().validate_on_submit():
        raise ValidationError("页面已过期,请刷新后重试")


def _local_path(link: str | None) -> str | None:
    if not link:
        return None
    parts = urlsplit(link)
    if parts.scheme or parts.netloc or not link.startswith("/") or link.startswith("//") or "\\" in link:
        return None
    return link
