"""The pages: a user's reminders (read receipts, channel choice), the
scheduler and delivery log, and a plan's reminder rules."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from supervise.db import session, unit_of_work
from supervise.models import Notification, ReportState, User
from supervise.reminders.scan import run_scan

from tests.conftest import login

from .test_rules import file_report


@pytest.fixture
def reminded(app, small_plan, people):
    file_report(small_plan, 2, people.coordinator, "2025Q3", ReportState.APPROVED)
    with unit_of_work():
        run_scan(date(2025, 10, 15))
    return people


def test_a_reminder_records_when_it_was_read(app, reminded, small_plan):
    client = app.test_client()
    login(client, "lead_liaison")
    html = client.get("/reminders/").get_data(as_text=True)
    assert "已逾期1个工作日" in html and "未读" in html
    note = session().scalar(select(Notification).where(Notification.user_id == reminded.lead.id).order_by(Notification.id))
    assert note.read_at is None
    response = client.post(f"/reminders/{note.id}/read")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/tasks/{note.task_id}")
    session().rollback()
    session().expire_all()
    first = session().get(Notification, note.id).read_at
    assert first is not None
    client.post(f"/reminders/{note.id}/read")  # reading again keeps the first time
    session().rollback()
    session().expire_all()
    assert session().get(Notification, note.id).read_at == first
    # Nobody else can mark it read.
    other = app.test_client()
    login(other, "hz_liaison")
    assert other.post(f"/reminders/{note.id}/read").status_code == 404


def test_a_user_picks_channels_and_in_app_stays_on(app, reminded):
    client = app.test_client()
    login(client, "hz_liaison")
    assert "站内提醒(始终开启)" in client.get("/reminders/").get_data(as_text=True)
    response = client.post("/reminders/channels", data={"wants_webhook": "y"})
    assert response.status_code == 302
    session().rollback()
    session().expire_all()
    user = session().get(User, reminded.co.id)
    assert user.wants_email is False and user.wants_webhook is True


@pytest.mark.parametrize("role,status", [
    ("admin", 200), ("coordinator", 200), ("liaison", 403), ("leader", 403), ("auditor", 403),
])
def test_who_sees_the_scheduler_page(login_as, role, status):
    client, _ = login_as(role)
    assert client.get("/admin/scheduler").status_code == status


def test_the_scheduler_page_lists_jobs_and_the_delivery_log(app, reminded, login_as):
    client, _ = login_as("admin")
    html = client.get("/admin/scheduler").get_data(as_text=True)
    # Each job by its Chinese name, never its internal id.
    for job_id, label in (("reminders.scan", "催办扫描"), ("deliveries.retry", "重发失败的消息"),
                          ("calendar.sync", "同步法定节假日")):
        assert label in html and job_id not in html
    assert "从未运行" in html and "已发送" in html and "测试任务1" in html


def test_a_coordinator_sets_a_plans_rules(app, small_plan, login_as):
    client, _ = login_as("coordinator")
    url = f"/admin/plans/{small_plan.id}/reminder-rules"
    html = client.get(url).get_data(as_text=True)
    assert "到期前提醒(工作日)" in html
    data = {"notice_working_days": "5", "overdue_every_working_days": "2", "escalate_after_working_days": "5",
            "escalate_every_working_days": "5", "returned_chase_after_working_days": "3",
            "returned_every_working_days": "2", "chase_limit_working_days": "60"}
    assert client.post(url, data=data).status_code == 302
    session().rollback()
    session().expire_all()
    assert session().get(type(small_plan), small_plan.id).reminder_rules == {"notice_working_days": 5}
    response = client.post(url, data={**data, "overdue_every_working_days": "0"})
    assert response.status_code == 400 and "应在 1 到 250 之间" in response.get_data(as_text=True)
    session().rollback()
    session().expire_all()
    assert session().get(type(small_plan), small_plan.id).reminder_rules == {"notice_working_days": 5}
    liaison, _ = login_as("liaison")
    assert liaison.get(url).status_code == 403 and liaison.post(url, data=data).status_code == 403
