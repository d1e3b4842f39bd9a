"""A user's reminders (催办提醒): the in-app ones with when each was read, and
the channels the user wants them on."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField

from .. import db
from ..domain.clock import today
from ..models import SchedulerJob
from ..policy import can
from ..services.work import WorkFilters, WorkGroup, work_view
from . import acting_user

bp = Blueprint("reminders", __name__, url_prefix="/reminders")


class ChannelsForm(FlaskForm):
    wants_email = BooleanField("邮件")
    wants_webhook = BooleanField("钉钉 / 浙政钉群机器人")


@bp.route("/")
def index():
    from ..reminders.service import my_reminders

    user = acting_user()
    form = ChannelsForm(wants_email=user.wants_email, wants_webhook=user.wants_webhook)
    # Before the first daily scan the list is empty while work may already be
    # overdue: say when the scan runs, and what is overdue now (我的待办's count).
    scan = db.session.get(SchedulerJob, "reminders.scan")
    overdue = None
    if can(user, "work.view"):
        overdue = work_view(user, today(), WorkFilters(group=WorkGroup.OVERDUE, per_page=1)).counts[WorkGroup.OVERDUE]
    return render_template(
        "reminders/index.html", notes=my_reminders(user), form=form,
        email_on=bool(current_app.config.get("SMTP_HOST")), webhook_on=bool(current_app.config.get("WEBHOOK_URL")),
        scan=scan, scan_at=current_app.config.get("REMINDER_SCAN_AT", "08:30"), overdue=overdue,
    )


@bp.route("/<int:notification_id>/read", methods=["POST"])
def read(notification_id: int):
    from ..reminders.service import mark_reminder_read

    note = mark_reminder_read(acting_user(), notification_id)
    link = note.link or ""
    # Only a path on this site.
    if not link.startswith("/") or link.startswith("//") or urlsplit(link).netloc:
        link = url_for("reminders.index")
    return redirect(link)


@bp.route("/channels", methods=["POST"])
def channels():
    from ..reminders.service import set_channels

    form = ChannelsForm()
    if not form.validate_on_submit():
        flash("表单已失效,请刷新后重试", "error")
        return redirect(url_for("reminders.index"))
    set_channels(acting_user(), wants_email=form.wants_email.data, wants_webhook=form.wants_webhook.data)
    flash("提醒方式已保存(站内提醒始终开启)", "success")
    return redirect(url_for("reminders.index"))
