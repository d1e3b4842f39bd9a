"""我的待办 on day one: a plan published on 2 December 2026 owes reports from
2026Q4 on, whose notice window has not opened, so a liaison has nothing to
do yet; the page and GET /api/v1/me/work say what the unit owes next."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from supervise.db import session, unit_of_work
from supervise.domain.obligations import next_obligations
from supervise.domain.workdays import WorkdayCalendar
from supervise.models import Plan, ReportingPeriod, ReportKind, Task, Unit
from supervise.services import reports as report_service
from supervise.services.next_due import next_due

from ..test_plan_drafts import TODAY, _api, _import_draft, _resolve_all, coordinator  # noqa: F401 (a fixture)


def _published(coordinator) -> Plan:
    client, _ = coordinator
    plan = _import_draft(client)
    _resolve_all(client, plan)
    assert client.post(f"/plans/{plan.id}/publish", data={"first_period": ""}).status_code == 302
    session().rollback()
    return session().get(Plan, plan.id)


def test_an_empty_list_says_what_is_owed_next(app, coordinator, login_as):
    app.config["TODAY"] = TODAY  # 2026-12-02, a Wednesday
    plan = _published(coordinator)
    q4 = session().scalar(select(ReportingPeriod).where(ReportingPeriod.plan_id == plan.id,
                                                        ReportingPeriod.code == "2026Q4"))
    calendar = WorkdayCalendar.load(session())
    # 省经信厅 contributes to tasks 1 and 2: both contributions are due two
    # working days before the lead reports, five working days after 31 December.
    contribution_due = calendar.add_working_days(calendar.add_working_days(date(2026, 12, 31), 5), -2)
    assert q4.due_on == calendar.add_working_days(date(2026, 12, 31), 5)
    left = calendar.working_days_between(TODAY, contribution_due)
    assert left >= 20  # December's working days after the 2nd, and January's first
    liaison, user = login_as("liaison", unit="省经信厅")

    page = liaison.get("/work").get_data(as_text=True)
    assert "目前没有待办事项。" in page
    day = f"{contribution_due.year}年{contribution_due.month}月{contribution_due.day}日"
    assert (f"下一次报送:2026年第四季度\n    <a href=\"/tasks/{plan.tasks[0].id}\">任务1「建设数字贸易平台」</a>\n"
            f"    配合单位报送等 2 项,截止 {day}(还有 {left} 个工作日)") in page, page[page.find("下一次"):][:400]

    answer = liaison.get("/api/v1/me/work", headers=_api(user)).get_json()
    assert answer["total"] == 0 and answer["next_due"] == {
        "period": "2026Q4", "period_label": "2026年第四季度",
        "task": {"id": plan.tasks[0].id, "number": 1, "title": "建设数字贸易平台"},
        "kind": "contribution", "kind_label": "配合单位报送", "due_on": contribution_due.isoformat(),
        "working_days_left": left, "others_due": 1,
    }

    # The lead of both tasks owes its two reports on the period's date.
    lead, lead_user = login_as("liaison", unit="省商务厅")
    answer = lead.get("/api/v1/me/work", headers=_api(lead_user)).get_json()
    assert answer["next_due"]["kind"] == "lead_report" and answer["next_due"]["due_on"] == q4.due_on.isoformat()
    # A coordinator files nothing: no next report, on the page or in the API.
    client, coordinator_user = coordinator
    assert client.get("/api/v1/me/work", headers=_api(coordinator_user)).get_json()["next_due"] is None
    assert "下一次报送" not in client.get("/work").get_data(as_text=True)


def test_what_is_done_is_not_next_and_nothing_after_the_last_period(app, coordinator, make_user):
    app.config["TODAY"] = TODAY
    plan = _published(coordinator)
    unit = session().scalar(select(Unit).where(Unit.short_name == "省经信厅"))
    calendar = WorkdayCalendar.load(session())
    [first, second] = next_obligations(session(), [unit.id], TODAY, calendar)
    assert [ob.task.number for ob in (first, second)] == [1, 2] and first.kind is ReportKind.CONTRIBUTION
    liaison = make_user("liaison", unit="省经信厅")
    with unit_of_work():
        report = report_service.create_report(liaison, session().get(Task, first.task.id), first.period.code,
                                              text="已完成", today=TODAY)
        report_service.submit_report(liaison, report, today=TODAY)
    after = next_due(liaison, TODAY, calendar)
    assert (after.task.number, after.period_code, after.others_due) == (2, "2026Q4", 0)
    # After the plan's last period (2028Q4) is due, nothing more is owed.
    last_due = max(p.due_on for p in session().get(Plan, plan.id).periods)
    assert next_obligations(session(), [unit.id], date.fromordinal(last_due.toordinal() + 1), calendar) == []
