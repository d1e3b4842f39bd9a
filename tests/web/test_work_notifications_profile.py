"""我的待办, notifications with their unread count, and the profile page with
API tokens and reminder channels."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from supervise.db import session
from supervise.models import ApiToken, AuditEntry, Notification, User

from .conftest import created_id, page, report, task_no

LEAD, CO = "省委网信办", "省商务厅"


def _submit(client, task, text="进展"):
    rid = created_id(client.post(f"/tasks/{task.id}/reports", data={"period": "2025Q2"}))
    response = client.post(f"/reports/{rid}", data={"version": report(rid).version, "text": text, "submit": "1"})
    assert response.status_code == 302, page(response, 302)
    return rid


# --- 我的待办 ------------------------------------------------------------------------------


def _rows(html: str) -> list[str]:
    """The list's rows as text, group headings included, in page order."""
    body = html[html.index("<tbody>", html.index('id="work-list"')):]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


def test_a_liaison_sees_what_is_due_overdue_and_returned(login_as, plan):
    lead, _ = login_as("liaison", unit=LEAD)
    html = page(lead.get("/work"))
    # 省委网信办 leads tasks 3, 5 and 6: reports of earlier quarters are overdue.
    assert "已逾期" in html and "逾期" in html and "任务3. 支持品牌建设和推广" in html
    assert "2025年第一季度" in page(lead.get("/work?state=overdue&period=2025Q1"))

    coord, _ = login_as("coordinator")
    rid = _submit(lead, task_no(plan, 3))
    coord.post(f"/reports/{rid}/return", data={"return-version": report(rid).version, "return-reason": "数据缺口径说明"})
    html = page(lead.get("/work"))
    rows = _rows(html)
    # What can be acted on now leads: the returned report is above every overdue row.
    assert rows[0].startswith("被退回待修改") and "数据缺口径说明" in rows[1] and f'href="/reports/{rid}"' in html
    assert "被退回待修改 1" in re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))  # the tab's count


def test_my_work_is_paged_and_filtered(login_as, plan):
    lead, _ = login_as("liaison", unit=LEAD)
    html = page(lead.get("/work?per_page=5"))
    assert "第 1 / " in html and 'href="/work?page=2&amp;per_page=5"' in html
    rows = [r for r in _rows(html) if not re.fullmatch(r"\S+ \d+ 项", r)]  # not the group headings
    assert len(rows) == 5
    second = page(lead.get("/work?per_page=5&page=2"))
    assert "第 2 / " in second and not set(_rows(second)[1:]) & set(rows)
    # The newest period first.
    periods = re.findall(r"(\d{4})年第(.)季度", " ".join(rows))
    assert periods and periods[0] >= periods[-1]
    only = page(lead.get("/work?period=2025Q1&state=overdue"))
    assert all("2025年第一季度" in r for r in _rows(only)[1:]) and len(_rows(only)) > 1
    assert "参数 page" in page(lead.get("/work?page=x"))  # a clear message, the whole list shown


def test_the_lead_sees_contributions_to_review(login_as, plan):
    co, _ = login_as("liaison", unit=CO)
    lead, _ = login_as("liaison", unit=LEAD)
    rid = _submit(co, task_no(plan, 3), "配合材料")
    html = page(lead.get("/work"))
    assert _rows(html)[0].startswith("待审核") and "审阅配合单位报送" in _rows(html)[1]
    assert f'href="/reports/{rid}"' in html


def test_the_coordinators_queue_is_oldest_first(login_as, plan):
    coord, _ = login_as("coordinator")
    first, _ = login_as("liaison", unit="省委网信办")
    second, _ = login_as("liaison", unit="省经信厅")
    older = _submit(first, task_no(plan, 3))
    newer = _submit(second, task_no(plan, 1))
    html = page(coord.get("/work?state=review"))
    queue = html[html.index('id="work-list"'):]
    assert queue.index(f'href="/reports/{older}"') < queue.index(f'href="/reports/{newer}"')


@pytest.mark.parametrize("role", ["leader", "admin", "auditor"])
def test_roles_without_work_have_no_work_page(login_as, plan, role):
    client, _ = login_as(role)
    assert client.get("/work").status_code == 403
    assert "我的待办" not in page(client.get("/profile"))


# --- notifications --------------------------------------------------------------------------


def _unread_badge(html: str) -> int:
    match = re.search(r'<span class="count" aria-label="未读 (\d+) 条">', html)
    return int(match.group(1)) if match else 0


def test_notifications_are_counted_listed_opened_and_marked_read(login_as, plan):
    co, _ = login_as("liaison", unit=CO)
    lead, lead_user = login_as("liaison", unit=LEAD)
    coord, coordinator = login_as("coordinator")
    assert _unread_badge(page(lead.get("/"))) == 0

    rid = _submit(co, task_no(plan, 3), "配合材料")  # → the lead's liaisons
    lead_rid = _submit(lead, task_no(plan, 3), "牵头报告")  # → the coordinators
    html = page(lead.get("/notifications"))
    assert _unread_badge(html) == 1 and "配合单位 省商务厅 报送了" in html
    assert _unread_badge(page(coord.get("/"))) == 1

    # Opening it marks it read and goes to the report.
    note = session().scalar(select(Notification).where(Notification.user_id == lead_user.id))
    response = lead.post(f"/notifications/{note.id}/open")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/reports/{rid}")
    assert _unread_badge(page(lead.get("/notifications"))) == 0
    # Someone else's notification does not exist for this user.
    other = session().scalar(select(Notification).where(Notification.user_id == coordinator.id))
    assert lead.post(f"/notifications/{other.id}/read").status_code == 404
    assert session().get(Notification, other.id).read_at is None

    # Returned → the unit's liaisons; mark all read.
    coord.post(f"/reports/{lead_rid}/return", data={"return-version": report(lead_rid).version, "return-reason": "补充"})
    html = page(lead.get("/notifications?unread=1"))
    assert "被退回" in html and "退回原因:补充" in html
    assert lead.post("/notifications/read").status_code == 302
    assert session().scalar(
        select(Notification).where(Notification.user_id == lead_user.id, Notification.read_at.is_(None))) is None


# --- profile: tokens and channels ---------------------------------------------------------------


def test_a_token_is_shown_once_works_on_the_api_and_can_be_revoked(login_as, plan, app):
    client, user = login_as("liaison", unit=CO)
    assert "API 令牌" in page(client.get("/profile"))

    response = client.post("/profile/tokens", data={"label": ""})
    assert "请填写令牌用途" in page(response, 400)
    assert session().scalar(select(ApiToken)) is None

    html = page(client.post("/profile/tokens", data={"label": "本厅 OA 对接"}))
    token = re.search(r'<code class="token">(sv_[^<]+)</code>', html).group(1)
    api = app.test_client()
    assert api.get("/api/v1/plans", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    # Shown once: the page does not show it again, only its label.
    html = page(client.get("/profile"))
    assert token not in html and "本厅 OA 对接" in html

    row = session().scalar(select(ApiToken))
    other, _ = login_as("liaison", unit=CO)
    assert other.post(f"/profile/tokens/{row.id}/revoke").status_code == 404
    assert session().get(ApiToken, row.id).revoked_at is None

    assert client.post(f"/profile/tokens/{row.id}/revoke").status_code == 302
    assert api.get("/api/v1/plans", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert "已吊销" in page(client.get("/profile"))
    assert session().scalars(select(AuditEntry.action).where(AuditEntry.action.startswith("token."))).all() == [
        "token.issue", "token.revoke"]


@pytest.mark.parametrize("role", ["coordinator", "liaison", "leader", "admin", "auditor"])
def test_every_role_has_a_profile_and_sets_its_channels(login_as, plan, role):
    client, user = login_as(role, unit=CO)
    html = page(client.get("/profile"))
    assert user.login in html and "提醒方式" in html
    assert client.post("/profile/preferences", data={"wants_webhook": "y"}).status_code == 302
    channels = session().execute(select(User.wants_email, User.wants_webhook).where(User.id == user.id)).one()
    assert tuple(channels) == (False, True)
    entry = session().scalar(select(AuditEntry).where(AuditEntry.action == "user.preferences"))
    assert entry.detail["after"] == {"wants_email": False, "wants_webhook": True}


@pytest.mark.parametrize("role,has_work", [("coordinator", True), ("liaison", True), ("leader", False)])
def test_home_and_nav_link_to_work_and_notifications(login_as, plan, role, has_work):
    client, _ = login_as(role, unit=CO)
    html = page(client.get("/"))
    assert ('href="/work"' in html) is has_work
    assert 'href="/notifications"' in html and 'href="/profile"' in html


# --- leads to confirm: the home page and 我的待办 agree; one click confirms -----------------


def test_leads_to_confirm_agree_on_home_and_work_and_confirm_in_one_click(login_as, plan):
    from supervise.models import TaskUnit, UnitRole

    coord, _ = login_as("coordinator")
    unconfirmed = session().scalars(
        select(TaskUnit).where(TaskUnit.role == UnitRole.LEAD, TaskUnit.is_confirmed.is_(False))).all()
    assert unconfirmed, "the 27号 plan names no lead: every proposed lead waits for the coordinator"
    home = page(coord.get("/"))
    count = int(re.search(r"待确认牵头单位的任务 <small class=\"muted\">(\d+) 项", home).group(1))
    work = page(coord.get("/work?state=decide&per_page=100"))
    assert count == len(unconfirmed) == work.count("确认牵头</button>")
    task = task_no(plan, 3)
    proposed = task.lead.unit.short_name
    response = coord.post(f"/work/leads/{task.id}/confirm", data={"next": "/work?state=decide"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/work?state=decide")
    session().expire_all()
    assert task_no(plan, 3).lead.is_confirmed and task_no(plan, 3).lead.unit.short_name == proposed
    assert f"已确认任务3由{proposed}牵头" in page(coord.get("/work?state=decide&per_page=100"))
    home = page(coord.get("/"))
    assert f"待确认牵头单位的任务 <small class=\"muted\">{count - 1} 项" in home
    assert page(coord.get("/work?state=decide&per_page=100")).count("确认牵头</button>") == count - 1
    # Choosing another lead (the form is drawn on demand once the lead is
    # confirmed): the task's own units come first in the list.
    html = page(coord.get(f"/tasks/{task.id}"))
    assert 'name="unit_id"' not in html and f"/tasks/{task.id}?units=edit#units" in html
    html = page(coord.get(f"/tasks/{task.id}?units=edit"))
    select_html = html[html.index('name="unit_id"'):]
    own = [tu.unit.short_name for tu in task_no(plan, 3).units]
    assert select_html.index('label="本任务责任单位"') < select_html.index('label="其他单位"')
    first_options = re.findall(r"<option[^>]*>([^<]+)</option>", select_html[:select_html.index('label="其他单位"')])
    assert first_options == own


def test_a_liaison_cannot_confirm_a_lead(login_as, plan):
    lead, _ = login_as("liaison", unit=LEAD)
    task = task_no(plan, 3)
    assert lead.post(f"/work/leads/{task.id}/confirm").status_code == 403
    session().expire_all()
    assert not task_no(plan, 3).lead.is_confirmed


# --- counts that agree: notices handled, reminders before the first scan ---------------------


def test_the_unread_count_drops_when_what_a_notice_asked_for_is_done(login_as, plan):
    co, _ = login_as("liaison", unit=CO)
    lead, _ = login_as("liaison", unit=LEAD)
    coord, _ = login_as("coordinator")
    coord2, _ = login_as("coordinator")
    contribution = _submit(co, task_no(plan, 3), "配合材料")
    lead_rid = _submit(lead, task_no(plan, 5), "牵头报告")
    assert _unread_badge(page(lead.get("/"))) == 1  # the contribution to accept
    assert _unread_badge(page(coord.get("/"))) == _unread_badge(page(coord2.get("/"))) == 1  # the report to review
    # The lead accepts the contribution: its notice is handled, never opened.
    assert lead.post(f"/reports/{contribution}/accept", data={"version": report(contribution).version, "confirmed": "1"}
                     ).status_code == 302
    assert _unread_badge(page(lead.get("/"))) == 0
    # One coordinator returns the report: handled for both coordinators; the lead is told.
    coord.post(f"/reports/{lead_rid}/return", data={"return-version": report(lead_rid).version,
                                                   "return-reason": "补充数据"})
    assert _unread_badge(page(coord.get("/"))) == _unread_badge(page(coord2.get("/"))) == 0
    assert _unread_badge(page(lead.get("/"))) == 1
    # The lead revises and sends it again: the return notice is handled, the coordinators have one new.
    assert lead.post(f"/reports/{lead_rid}", data={"version": report(lead_rid).version, "text": "已补充",
                                                  "submit": "1"}).status_code == 302
    assert _unread_badge(page(lead.get("/"))) == 0
    assert _unread_badge(page(coord.get("/"))) == 1


def test_reminders_before_the_first_scan_say_when_it_runs_and_what_is_overdue(login_as, plan):
    lead, _ = login_as("liaison", unit=LEAD)
    html = page(lead.get("/reminders/"))
    assert "尚未进行过扫描" in html and "每天 08:30" in html
    overdue = re.search(r"您目前有 <strong>(\d+)</strong> 项逾期事项", html)
    work = page(lead.get("/work?state=overdue"))
    count = re.search(r'class="tab-overdue"[^>]*>已逾期 <span class="n">(\d+)</span>', work)
    assert overdue and count and overdue.group(1) == count.group(1) and int(count.group(1)) > 0
    assert 'href="/work?state=overdue"' in html
    leader, _ = login_as("leader")
    html = page(leader.get("/reminders/"))
    assert "尚未进行过扫描" in html and "逾期事项" not in html
