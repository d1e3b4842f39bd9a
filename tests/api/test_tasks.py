"""GET /plans, /plans/<id>, /tasks, /tasks/<id>, /tasks/<id>/periods."""
from __future__ import annotations

from datetime import date

from supervise.db import unit_of_work, session
from supervise.models import Task, User
from supervise.services import tasks as task_service

from ..factories import make_draft_plan
from .conftest import report_in_state


def test_no_token_or_a_wrong_one_is_401_in_json(cast):
    for url in ["/plans", "/tasks", f"/tasks/{cast.task.id}", "/me", "/me/work"]:
        for token in (False, "sv_not-a-token"):
            response = cast.lead.get(url, token=token)
            assert response.status_code == 401, url
            assert response.get_json()["error"] == "unauthorized"
            assert "令牌" in response.get_json()["message"]


def test_task_list_with_filters(cast, plan):
    response = cast.co.get("/tasks")
    assert response.status_code == 200
    tasks = response.get_json()
    assert [t["number"] for t in tasks] == list(range(1, 23))
    assert tasks[0]["state"] == "not_started" and tasks[0]["state_label"] == "未启动"
    assert "text" not in tasks[0]

    unit_id = cast.other.user.unit_id  # 省教育厅
    mine = cast.co.get(f"/tasks?unit_id={unit_id}").get_json()
    assert mine and all(any(u["unit_id"] == unit_id for u in t["units"]) for t in mine)
    assert 1 not in [t["number"] for t in mine]
    assert cast.co.get(f"/tasks?plan_id={plan.id}&state=not_started").get_json() == tasks
    assert cast.co.get("/tasks?state=closed").get_json() == []
    assert cast.co.get(f"/tasks?plan_id={plan.id + 1}").get_json() == []


def test_task_list_refuses_bad_filters(cast):
    response = cast.co.get("/tasks?state=finished")
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "validation_error" and "state" in body["fields"] and "not_started" in body["message"]
    assert cast.co.get("/tasks?plan_id=abc").status_code == 400


def test_admin_and_auditor_read_no_tasks(cast):
    for client in (cast.admin, cast.auditor):
        assert client.get("/tasks").status_code == 403
        assert client.get(f"/tasks/{cast.task.id}").status_code == 403
        assert client.get(f"/tasks/{cast.task.id}/periods").status_code == 403
        assert client.get("/plans").status_code == 403


def test_plans(cast, plan):
    plans = cast.leader.get("/plans").get_json()
    assert [p["document_number"] for p in plans] == [plan.document_number]
    assert plans[0]["status"] == "published" and plans[0]["first_period"] == plan.first_period == "2024Q1"
    # One plan reads as it does in the list, for anyone who may see it.
    for client in (cast.leader, cast.other, cast.coordinator):
        assert client.get(f"/plans/{plan.id}").get_json() == plans[0]
    assert cast.leader.get(f"/plans/{plan.id + 1000}").status_code == 404


def test_a_draft_plan_is_read_only_by_those_who_manage_plans(cast, plan):
    draft = make_draft_plan("浙政办发〔2026〕9号", date(2026, 1, 1), date(2028, 12, 31))
    answer = cast.coordinator.get(f"/plans/{draft.id}")
    assert answer.status_code == 200
    assert answer.get_json()["status"] == "draft" and answer.get_json()["first_period"] is None
    for client in (cast.lead, cast.co, cast.other, cast.leader):
        response = client.get(f"/plans/{draft.id}")
        assert response.status_code == 404 and response.get_json()["error"] == "not_found"
    # The lists hold published plans only, for coordinators too (a draft is not work yet).
    for client in (cast.coordinator, cast.leader):
        assert [p["id"] for p in client.get("/plans").get_json()] == [plan.id]


def test_task_detail_has_units_roles_targets_state_and_milestones(cast):
    with unit_of_work():
        lead = session().get(User, cast.lead.user.id)
        task = session().get(Task, cast.task.id)
        milestone = task_service.propose_milestone(lead, task, "出台梯度培育实施细则", "2025-06-30")
        milestone_id = milestone.id
    response = cast.leader.get(f"/tasks/{cast.task.id}")
    assert response.status_code == 200
    data = response.get_json()
    assert data["number"] == 1 and data["state"] == "not_started" and data["text"]
    roles = {u["short_name"]: u["role"] for u in data["units"]}
    assert roles["省经信厅"] == "lead" and roles["省科技厅"] == "co" and len(roles) == 15
    assert [t["value"] for t in data["targets"]][:1] == [5000]
    assert data["progress"][0]["target"] == 5000 and data["progress"][0]["value"] is None
    assert data["milestones"] == [
        {
            "id": milestone_id, "task_id": cast.task.id, "title": "出台梯度培育实施细则", "due_on": "2025-06-30",
            "state": "proposed", "state_label": "待确认", "note": "", "reject_reason": None,
            "completed_at": None, "evidence": [],
        }
    ]
    assert data["deadline"] == data["original_deadline"] == "2027-12-31"


def test_unknown_task_is_404(cast):
    response = cast.co.get("/tasks/99999")
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"
    assert cast.co.get("/tasks/99999/periods").status_code == 404


def test_periods_show_due_dates_and_what_each_unit_owes(cast):
    periods = cast.co.get(f"/tasks/{cast.task.id}/periods").get_json()
    codes = [p["code"] for p in periods]
    assert codes[0] == "2024Q1" and codes[-1] == "2027Q4" and len(codes) == 16
    q2 = periods[codes.index("2025Q2")]
    assert q2["label"] == "2025年第二季度"
    assert (q2["starts_on"], q2["ends_on"]) == ("2025-04-01", "2025-06-30")
    # The 5th working day after 30 June 2025 (a Monday), and the co-units two working days before.
    assert q2["due_on"] == "2025-07-07" and q2["contribution_due_on"] == "2025-07-03"
    assert len(q2["owed"]) == 15
    lead_owes = [o for o in q2["owed"] if o["kind"] == "lead_report"]
    assert [o["unit"]["short_name"] for o in lead_owes] == ["省经信厅"]
    assert all(o["light"] == "red" and not o["done"] for o in q2["owed"])  # long past, nothing filed
    assert q2["report"] is None and q2["contributions"] == []
    only = cast.co.get(f"/tasks/{cast.task.id}/periods?period=2025q2").get_json()
    assert [p["code"] for p in only] == ["2025Q2"]


def test_periods_refuse_an_unknown_period(cast):
    for code in ("2025Q5", "2031Q1"):
        response = cast.co.get(f"/tasks/{cast.task.id}/periods?period={code}")
        assert response.status_code == 400 and "period" in response.get_json()["fields"]


def test_periods_show_each_caller_only_the_reports_they_may_see(cast):
    draft_lead = report_in_state(cast, "lead", "draft", "2025Q1")
    submitted_co = report_in_state(cast, "co", "submitted", "2025Q1")
    approved_lead = report_in_state(cast, "lead", "approved", "2025Q2")

    def seen(client, code):
        period = next(p for p in client.get(f"/tasks/{cast.task.id}/periods").get_json() if p["code"] == code)
        ids = ([period["report"]["id"]] if period["report"] else []) + [c["id"] for c in period["contributions"]]
        owed_ids = {o["report_id"] for o in period["owed"]} - {None}
        assert owed_ids <= set(ids)
        return set(ids)

    assert seen(cast.lead, "2025Q1") == {draft_lead, submitted_co}  # own draft; the co-unit's submission
    assert seen(cast.co, "2025Q1") == {submitted_co}  # not the lead's draft
    assert seen(cast.other, "2025Q1") == set()
    assert seen(cast.coordinator, "2025Q1") == {submitted_co}  # nobody's draft
    assert seen(cast.leader, "2025Q1") == {submitted_co}
    for client in (cast.lead, cast.co, cast.other, cast.coordinator, cast.leader):
        assert seen(client, "2025Q2") == {approved_lead}  # approved reports are for everyone
    q2 = next(p for p in cast.other.get(f"/tasks/{cast.task.id}/periods").get_json() if p["code"] == "2025Q2")
    lead_owed = next(o for o in q2["owed"] if o["kind"] == "lead_report")
    assert lead_owed["done"] and lead_owed["light"] == "green" and lead_owed["report_id"] == approved_lead
