"""Reports through the API: file, edit, submit, accept, approve, return,
reopen, versions; each refusal with its status and no change."""
from __future__ import annotations

from sqlalchemy import select

from supervise.db import session
from supervise.models import AuditEntry, Notification, ReportKind, ReportState

from .conftest import db_state, report_in_state, report_row


def test_the_whole_round_through_the_api(cast):
    task_id = cast.task.id
    # A co-unit files its contribution; its unit decides the kind.
    response = cast.co.post("/reports", json={"task_id": task_id, "period": "2025Q2", "text": "省科技厅:新增 120 家",
                                             "values": {"1": 120}})
    assert response.status_code == 201, response.get_json()
    contribution = response.get_json()
    assert contribution["kind"] == "contribution" and contribution["state"] == "draft"
    assert contribution["values"] == {"1": 120} and contribution["unit"]["short_name"] == "省科技厅"
    assert response.headers["Location"].endswith(f"/api/v1/reports/{contribution['id']}")
    cid = contribution["id"]
    submitted = cast.co.post(f"/reports/{cid}/submit", json={"version": contribution["version"]}).get_json()
    assert submitted["state"] == "submitted" and [v["number"] for v in submitted["versions"]] == [1]

    # The lead unit returns it with a reason; the co-unit revises and resubmits; the lead accepts it.
    assert cast.lead.post(f"/reports/{cid}/return", json={}).status_code == 400  # a reason is required
    returned = cast.lead.post(f"/reports/{cid}/return", json={"reason": "请补充分地区数据"}).get_json()
    assert returned["state"] == "returned" and returned["return_reason"] == "请补充分地区数据"
    revised = cast.co.patch(f"/reports/{cid}", json={"text": "省科技厅:新增 125 家,杭州 60 家", "values": {"1": 125},
                                                  "version": returned["version"]}).get_json()
    assert revised["values"] == {"1": 125}
    cast.co.post(f"/reports/{cid}/submit")
    accepted = cast.lead.post(f"/reports/{cid}/accept").get_json()
    assert accepted["state"] == "accepted" and len(accepted["versions"]) == 2

    # The lead files the task's report, including the contribution.
    response = cast.lead.post("/reports", json={"task_id": task_id, "period": "2025q2", "text": "任务1 第二季度进展",
                                               "values": {"1": 1800, "2": 12}, "include": [cid]})
    assert response.status_code == 201
    report = response.get_json()
    rid = report["id"]
    assert report["kind"] == "lead_report" and report["period"] == "2025Q2" and report["included"] == [cid]
    report = cast.lead.post(f"/reports/{rid}/submit", json={"version": report["version"]}).get_json()
    assert report["state"] == "submitted"

    # A coordinator returns it; the lead revises and submits again; another coordinator approves.
    report = cast.coordinator.post(f"/reports/{rid}/return", json={"reason": "数值与台账不符",
                                                                    "version": report["version"]}).get_json()
    assert report["state"] == "returned" and report["decided_by"]["id"] == cast.coordinator.user.id
    report = cast.lead.patch(f"/reports/{rid}", json={"values": {"1": 1850}, "version": report["version"]}).get_json()
    report = cast.lead.post(f"/reports/{rid}/submit").get_json()
    report = cast.coordinator2.post(f"/reports/{rid}/approve", json={"version": report["version"]}).get_json()
    assert report["state"] == "approved" and report["state_label"] == "已审核通过"

    # Approved is locked: no edit, no second approval; a coordinator reopens it with a reason.
    before = db_state()
    assert cast.lead.patch(f"/reports/{rid}", json={"text": "改"}).status_code == 409
    assert cast.coordinator.post(f"/reports/{rid}/approve").status_code == 409
    assert db_state() == before
    assert cast.coordinator.post(f"/reports/{rid}/reopen", json={}).status_code == 400
    report = cast.coordinator.post(f"/reports/{rid}/reopen", json={"reason": "发现统计口径错误"}).get_json()
    assert report["state"] == "returned" and report["return_reason"] == "发现统计口径错误"

    # Every submitted version is kept, and two can be compared.
    versions = cast.leader.get(f"/reports/{rid}").get_json()["versions"]
    assert [v["number"] for v in versions] == [1, 2]
    assert versions[0]["submitted_by"]["id"] == cast.lead.user.id
    first = cast.leader.get(f"/reports/{rid}/versions/1").get_json()
    assert first["values"] == {"1": 1800, "2": 12} and first["included"] == [cid] and first["text"] == "任务1 第二季度进展"
    diff = cast.leader.get(f"/reports/{rid}/compare?from=1&to=2").get_json()
    assert diff["text_changed"] is False
    assert {v["target_id"]: v["changed"] for v in diff["values"]} == {1: True, 2: False}
    assert cast.leader.get(f"/reports/{rid}/versions/3").status_code == 404
    assert cast.leader.get(f"/reports/{rid}/compare?from=1").status_code == 400

    # The trail: audited transitions and notifications to the right people.
    actions = session().scalars(select(AuditEntry.action).where(AuditEntry.task_id == task_id)).all()
    for action in ("contribution.create", "contribution.submit", "contribution.return", "contribution.accept",
                   "report.create", "report.submit", "report.return", "report.approve", "report.reopen", "task.start"):
        assert action in actions, action
    kinds = {(n.user_id, n.kind) for n in session().scalars(select(Notification))}
    assert (cast.lead.user.id, "contribution.submitted") in kinds
    assert (cast.co.user.id, "report.returned") in kinds
    assert (cast.coordinator.user.id, "report.submitted") in kinds
    assert cast.leader.get(f"/tasks/{task_id}").get_json()["state"] == "in_progress"


def test_create_refuses_bad_input_and_changes_nothing(cast):
    before = db_state()
    task_id = cast.task.id
    cases = [
        ({"period": "2025Q2"}, "task_id"),
        ({"task_id": "1", "period": "2025Q2"}, "task_id"),
        ({"task_id": task_id}, "period"),
        ({"task_id": task_id, "period": "2025Q7"}, "period"),
        ({"task_id": task_id, "period": "2031Q1"}, "period"),
        ({"task_id": task_id, "period": "2025Q2", "values": [1, 2]}, "values"),
        ({"task_id": task_id, "period": "2025Q2", "values": {"x": 1}}, "values"),
        ({"task_id": task_id, "period": "2025Q2", "values": {"4": 1}}, "value_4"),  # target of another task
        ({"task_id": task_id, "period": "2025Q2", "values": {"1": "很多"}}, "value_1"),
        ({"task_id": task_id, "period": "2025Q2", "values": {"1": -5}}, "value_1"),
        ({"task_id": task_id, "period": "2025Q2", "values": {"1": True}}, "value_1"),
        ({"task_id": task_id, "period": "2025Q2", "text": 12}, "text"),
        ({"task_id": task_id, "period": "2025Q2", "include": "all"}, "include"),
        ({"task_id": task_id, "period": "2025Q2", "valeus": {"1": 5}}, "valeus"),  # misspelt, not ignored
    ]
    for body, field in cases:
        response = cast.lead.post("/reports", json=body)
        assert response.status_code == 400, body
        data = response.get_json()
        assert data["error"] == "validation_error" and data["message"], body
        assert field in data["fields"], (body, data)
    for raw in (b"not json", b"[1, 2]"):
        response = cast.lead.post("/reports", data=raw, content_type="application/json")
        assert response.status_code == 400 and response.get_json()["message"] == "请求体必须是 JSON 对象"
    assert db_state() == before


def test_create_refusals_403_404_409(cast):
    body = {"task_id": cast.task.id, "period": "2025Q2", "text": "x"}
    before = db_state()
    assert cast.other.post("/reports", json=body).status_code == 403  # not a unit of the task
    for client in (cast.coordinator, cast.leader, cast.admin, cast.auditor):
        assert client.post("/reports", json=body).status_code == 403
    assert cast.lead.post("/reports", json={**body, "task_id": 99999}).status_code == 404
    assert db_state() == before
    assert cast.lead.post("/reports", json=body).status_code == 201
    before = db_state()
    response = cast.lead.post("/reports", json=body)
    assert response.status_code == 409 and response.get_json()["error"] == "conflict"
    assert db_state() == before


def test_patch_with_a_stale_version_is_409_and_changes_nothing(cast):
    rid = report_in_state(cast, "lead", "draft", "2025Q2")
    seen = cast.lead.get(f"/reports/{rid}").get_json()
    changed = cast.lead.patch(f"/reports/{rid}", json={"text": "第一次修改", "version": seen["version"]}).get_json()
    assert changed["version"] > seen["version"]
    before = db_state()
    response = cast.lead.patch(f"/reports/{rid}", json={"text": "基于旧版本的修改", "version": seen["version"]})
    assert response.status_code == 409
    assert response.get_json()["error"] == "conflict" and "已被他人修改" in response.get_json()["message"]
    for action in ("submit",):
        assert cast.lead.post(f"/reports/{rid}/{action}", json={"version": seen["version"]}).status_code == 409
    assert db_state() == before
    assert report_row(rid).text == "第一次修改"


def test_patch_refuses_bad_input(cast):
    rid = report_in_state(cast, "lead", "draft", "2025Q2")
    cid = report_in_state(cast, "co", "draft", "2025Q2")
    before = db_state()
    for body, field in [({"text": "x", "version": "3"}, "version"), ({"text": "x", "version": True}, "version"),
                        ({"values": {"1": "abc"}}, "value_1"), ({"include": [999]}, "include"), ({}, None)]:
        response = cast.lead.patch(f"/reports/{rid}", json=body)
        assert response.status_code == 400, body
        if field:
            assert field in response.get_json()["fields"], body
    # A contribution cannot include others.
    assert cast.co.patch(f"/reports/{cid}", json={"include": []}).status_code == 400
    assert db_state() == before


def test_submit_needs_text(cast):
    rid = report_in_state(cast, "lead", "draft", "2025Q2")
    cast.lead.patch(f"/reports/{rid}", json={"text": "   "})
    before = db_state()
    response = cast.lead.post(f"/reports/{rid}/submit")
    assert response.status_code == 400 and "text" in response.get_json()["fields"]
    assert db_state() == before


def test_private_reports_are_404_and_visible_ones_read(cast):
    draft = report_in_state(cast, "lead", "draft", "2025Q1")
    submitted_co = report_in_state(cast, "co", "submitted", "2025Q2")
    approved = report_in_state(cast, "lead", "approved", "2025Q3")
    expect = {
        # who: (draft, submitted contribution, approved lead report)
        "lead": (200, 200, 200),
        "co": (404, 200, 200),
        "other": (404, 404, 200),
        "coordinator": (404, 200, 200),
        "leader": (404, 200, 200),
        "admin": (404, 404, 404),
        "auditor": (404, 404, 404),
    }
    for who, client in cast.everyone().items():
        got = tuple(client.get(f"/reports/{rid}").status_code for rid in (draft, submitted_co, approved))
        assert got == expect[who], who
    assert cast.lead.get("/reports/99999").status_code == 404
    body = cast.other.get(f"/reports/{draft}").get_json()
    assert body == {"error": "not_found", "message": "未找到该报告,或您无权查看"}


def test_review_refusals(cast):
    lead_submitted = report_in_state(cast, "lead", "submitted", "2025Q1")
    co_submitted = report_in_state(cast, "co", "submitted", "2025Q2")
    before = db_state()
    # Only coordinators approve lead reports; only the lead unit accepts contributions.
    assert cast.lead.post(f"/reports/{lead_submitted}/approve").status_code == 403
    assert cast.leader.post(f"/reports/{lead_submitted}/approve").status_code == 403
    assert cast.coordinator.post(f"/reports/{co_submitted}/accept").status_code == 403
    assert cast.co.post(f"/reports/{co_submitted}/accept").status_code == 403
    assert cast.coordinator.post(f"/reports/{co_submitted}/return", json={"reason": "x"}).status_code == 403
    assert cast.lead.post(f"/reports/{lead_submitted}/accept").status_code == 403
    # The wrong action for the kind or the state is a refused transition.
    assert cast.coordinator.post(f"/reports/{lead_submitted}/reopen", json={"reason": "x"}).status_code == 409
    response = cast.lead.post(f"/reports/{lead_submitted}/submit")
    assert response.status_code == 409
    assert response.get_json() == {"error": "invalid_transition", "message": "当前状态为“已报送”,不能执行“报送”操作"}
    assert cast.lead.patch(f"/reports/{lead_submitted}", json={"text": "x"}).status_code == 409
    assert db_state() == before


def test_report_json_is_the_documented_shape(cast):
    rid = report_in_state(cast, "lead", "approved", "2025Q1")
    data = cast.leader.get(f"/reports/{rid}").get_json()
    assert data["kind"] == ReportKind.LEAD_REPORT.value and data["state"] == ReportState.APPROVED.value
    assert data["task"] == {"id": cast.task.id, "number": 1, "title": cast.task.title}
    assert data["submitted_at"].endswith("+00:00") and data["decided_at"]


def test_every_action_refuses_a_bad_body_or_an_unknown_report(cast):
    rid = report_in_state(cast, "lead", "submitted", "2025Q2")
    cid = report_in_state(cast, "co", "submitted", "2025Q2")
    calls = [(cast.lead, "submit", rid), (cast.coordinator, "approve", rid), (cast.coordinator, "return", rid),
             (cast.coordinator, "reopen", rid), (cast.lead, "accept", cid)]
    before = db_state()
    for client, action, report_id in calls:
        reason = {"reason": "x"} if action in ("return", "reopen") else {}
        response = client.post(f"/reports/{report_id}/{action}", json={"version": "3", **reason})
        assert response.status_code == 400 and response.get_json()["fields"] == {"version": "必须是整数"}, action
        response = client.post(f"/reports/{report_id}/{action}", json={"versoin": 3, **reason})
        assert response.status_code == 400 and response.get_json()["fields"] == {"versoin": "未知字段"}, action
        response = client.post(f"/reports/{report_id}/{action}", data=b"[]", content_type="application/json")
        assert response.status_code == 400, action
        assert client.post(f"/reports/99999/{action}", json={"reason": "x"}).status_code == 404, action
    assert cast.coordinator.post(f"/reports/{rid}/return", json={"reason": "  "}).get_json()["fields"] == {
        "reason": "请填写原因"
    }
    assert db_state() == before
