"""The task's lifecycle, milestones, extensions and target split through the
API: each step, and each refusal with its status and no change."""
from __future__ import annotations

import io

from .conftest import db_state, report_in_state
from .test_evidence import PDF


def _upload(client, url: str, content: bytes = PDF, name: str = "办结佐证.pdf"):
    return client.post(url, data={"file": (io.BytesIO(content), name)}, content_type="multipart/form-data")


def test_closing_a_task(cast):
    tid = cast.task.id
    before = db_state()
    response = cast.lead.post(f"/tasks/{tid}/request-close", json={"reason": "已完成"})
    assert response.status_code == 400 and "file" in response.get_json()["fields"]  # evidence first
    assert _upload(cast.co, f"/tasks/{tid}/evidence").status_code == 403  # only the lead unit
    assert db_state() == before
    assert _upload(cast.lead, f"/tasks/{tid}/evidence").status_code == 201
    before = db_state()
    response = cast.lead.post(f"/tasks/{tid}/request-close", json={"reason": "已完成"})
    assert response.status_code == 409 and response.get_json()["error"] == "invalid_transition"  # not started yet
    assert db_state() == before

    report_in_state(cast, "lead", "submitted", "2025Q2")  # the first report starts the task
    task = cast.lead.get(f"/tasks/{tid}").get_json()
    assert task["state"] == "in_progress"
    before = db_state()
    assert cast.lead.post(f"/tasks/{tid}/request-close", json={}).status_code == 400
    assert cast.co.post(f"/tasks/{tid}/request-close", json={"reason": "x"}).status_code == 403
    stale = cast.lead.post(f"/tasks/{tid}/request-close", json={"reason": "x", "version": task["version"] - 1})
    assert stale.status_code == 409 and stale.get_json()["error"] == "conflict"
    assert db_state() == before
    task = cast.lead.post(f"/tasks/{tid}/request-close",
                          json={"reason": "5000 家目标已完成", "version": task["version"]}).get_json()
    assert task["state"] == "closing_requested"

    before = db_state()
    assert cast.coordinator.post(f"/tasks/{tid}/decide-close", json={"reason": "x"}).status_code == 400  # agree?
    assert cast.coordinator.post(f"/tasks/{tid}/decide-close", json={"agree": "no"}).status_code == 400
    assert cast.coordinator.post(f"/tasks/{tid}/decide-close", json={"agree": False}).status_code == 400  # reason
    assert cast.lead.post(f"/tasks/{tid}/decide-close", json={"agree": True}).status_code == 403
    assert cast.leader.post(f"/tasks/{tid}/decide-close", json={"agree": True}).status_code == 403
    assert db_state() == before
    task = cast.coordinator.post(f"/tasks/{tid}/decide-close", json={"agree": False, "reason": "佐证不足"}).get_json()
    assert task["state"] == "in_progress"
    cast.lead.post(f"/tasks/{tid}/request-close", json={"reason": "已补充佐证"})
    task = cast.coordinator.post(f"/tasks/{tid}/decide-close", json={"agree": True}).get_json()
    assert task["state"] == "closed" and task["state_label"] == "已办结"
    before = db_state()
    assert cast.coordinator.post(f"/tasks/{tid}/suspend", json={"reason": "x"}).status_code == 409
    assert cast.coordinator.post(f"/tasks/{tid}/decide-close", json={"agree": True}).status_code == 409
    assert db_state() == before


def test_suspending_and_resuming(cast):
    tid = cast.task.id
    before = db_state()
    assert cast.coordinator.post(f"/tasks/{tid}/suspend", json={}).status_code == 400
    assert cast.lead.post(f"/tasks/{tid}/suspend", json={"reason": "x"}).status_code == 403
    assert cast.coordinator.post(f"/tasks/{tid}/resume", json={"reason": "x"}).status_code == 409  # not suspended
    assert cast.coordinator.post("/tasks/99999/suspend", json={"reason": "x"}).status_code == 404
    assert cast.admin.post(f"/tasks/{tid}/suspend", json={"reason": "x"}).status_code == 403
    assert db_state() == before
    task = cast.coordinator.post(f"/tasks/{tid}/suspend", json={"reason": "政策调整,暂缓推进"}).get_json()
    assert task["state"] == "suspended"
    # A suspended task owes no reports.
    q2 = cast.lead.get(f"/tasks/{tid}/periods?period=2025Q2").get_json()[0]
    assert q2["owed"] == []
    task = cast.coordinator.post(f"/tasks/{tid}/resume", json={"reason": "恢复推进"}).get_json()
    assert task["state"] == "in_progress"


def test_deadline_extension(cast):
    tid = cast.task.id
    before = db_state()
    for body, field in [({"new_deadline": "2028-13-01", "reason": "x"}, "new_deadline"),
                        ({"new_deadline": "2027-06-30", "reason": "x"}, "new_deadline"),  # earlier than now
                        ({"new_deadline": "2028-06-30"}, "reason")]:
        response = cast.lead.post(f"/tasks/{tid}/extensions", json=body)
        assert response.status_code == 400 and field in response.get_json()["fields"], body
    assert cast.co.post(f"/tasks/{tid}/extensions", json={"new_deadline": "2028-06-30", "reason": "x"}).status_code == 403
    assert db_state() == before
    response = cast.lead.post(f"/tasks/{tid}/extensions", json={"new_deadline": "2028-06-30", "reason": "受外部环境影响"})
    assert response.status_code == 201
    extension = response.get_json()
    assert extension["state"] == "pending" and extension["old_deadline"] == "2027-12-31"
    before = db_state()
    again = cast.lead.post(f"/tasks/{tid}/extensions", json={"new_deadline": "2028-09-30", "reason": "x"})
    assert again.status_code == 409 and again.get_json()["error"] == "conflict"
    assert cast.lead.post(f"/extensions/{extension['id']}/decide", json={"grant": True}).status_code == 403
    assert cast.coordinator.post(f"/extensions/{extension['id']}/decide", json={"grant": False}).status_code == 400
    assert cast.coordinator.post(f"/extensions/{extension['id']}/decide", json={}).status_code == 400
    assert cast.coordinator.post("/extensions/99999/decide", json={"grant": True}).status_code == 404
    assert db_state() == before
    decided = cast.coordinator.post(f"/extensions/{extension['id']}/decide", json={"grant": True}).get_json()
    assert decided["state"] == "granted"
    task = cast.leader.get(f"/tasks/{tid}").get_json()
    assert task["deadline"] == "2028-06-30" and task["original_deadline"] == "2027-12-31"
    assert task["extensions"][0]["state"] == "granted"
    assert cast.coordinator.post(f"/extensions/{extension['id']}/decide", json={"grant": False, "reason": "x"}).status_code == 409


def test_milestones(cast):
    tid = cast.task.id
    before = db_state()
    for body, field in [({"title": "", "due_on": "2025-06-30"}, "title"), ({"title": "x", "due_on": "六月"}, "due_on")]:
        response = cast.lead.post(f"/tasks/{tid}/milestones", json=body)
        assert response.status_code == 400 and field in response.get_json()["fields"]
    assert cast.co.post(f"/tasks/{tid}/milestones", json={"title": "x", "due_on": "2025-06-30"}).status_code == 403
    assert cast.coordinator.post(f"/tasks/{tid}/milestones", json={"title": "x", "due_on": "2025-06-30"}).status_code == 403
    assert db_state() == before
    response = cast.lead.post(f"/tasks/{tid}/milestones", json={"title": "出台梯度培育实施细则", "due_on": "2025-06-30"})
    assert response.status_code == 201
    mid = response.get_json()["id"]

    before = db_state()
    assert cast.lead.post(f"/milestones/{mid}/confirm").status_code == 403
    assert cast.coordinator.post(f"/milestones/{mid}/done", json={"note": "x"}).status_code == 403
    assert cast.coordinator.post("/milestones/99999/confirm").status_code == 404
    assert cast.admin.post(f"/milestones/{mid}/confirm").status_code == 403
    assert cast.coordinator.post(f"/milestones/{mid}/confirm", json={"note": "x"}).status_code == 400  # no such field
    assert db_state() == before
    assert cast.coordinator.post(f"/milestones/{mid}/confirm").get_json()["state"] == "confirmed"
    assert cast.coordinator.post(f"/milestones/{mid}/confirm").status_code == 409

    before = db_state()
    response = cast.lead.post(f"/milestones/{mid}/done", json={"note": "细则已印发"})
    assert response.status_code == 400 and "file" in response.get_json()["fields"]  # evidence first
    assert _upload(cast.co, f"/milestones/{mid}/evidence").status_code == 403
    assert db_state() == before
    evidence = _upload(cast.lead, f"/milestones/{mid}/evidence", name="实施细则(印发稿).pdf").get_json()
    assert evidence["milestone_id"] == mid and evidence["report_id"] is None
    # Milestone evidence is seen by all who see the task.
    assert cast.other.get(f"/evidence/{evidence['id']}").status_code == 200
    assert cast.admin.get(f"/evidence/{evidence['id']}").status_code == 404
    claimed = cast.lead.post(f"/milestones/{mid}/done", json={"note": "细则已印发"}).get_json()
    assert claimed["state"] == "done_claimed" and claimed["evidence"][0]["name"] == "实施细则(印发稿).pdf"

    before = db_state()
    assert cast.coordinator.post(f"/milestones/{mid}/decide", json={"accept": False}).status_code == 400
    assert cast.lead.post(f"/milestones/{mid}/decide", json={"accept": True}).status_code == 403
    assert db_state() == before
    rejected = cast.coordinator.post(f"/milestones/{mid}/decide", json={"accept": False, "reason": "缺少印发文号"}).get_json()
    assert rejected["state"] == "confirmed" and rejected["reject_reason"] == "缺少印发文号"
    cast.lead.post(f"/milestones/{mid}/done", json={"note": "已补充文号"})
    accepted = cast.coordinator.post(f"/milestones/{mid}/decide", json={"accept": True}).get_json()
    assert accepted["state"] == "completed" and accepted["completed_at"]
    assert cast.coordinator.post(f"/milestones/{mid}/decide", json={"accept": True}).status_code == 409


def test_splitting_a_target_among_units(cast):
    task = cast.leader.get(f"/tasks/{cast.task.id}").get_json()
    target_id = task["targets"][0]["id"]  # 新增跨境电商应用主体 5000 家
    units = {u["short_name"]: u["unit_id"] for u in task["units"]}
    shares = {str(units["杭州市政府"]): 2000, str(units["宁波市政府"]): 1500, str(units["温州市政府"]): 1500}
    before = db_state()
    assert cast.lead.post(f"/targets/{target_id}/split", json={"shares": shares}).status_code == 403
    assert cast.coordinator.post("/targets/99999/split", json={"shares": shares}).status_code == 404
    for body, field in [({"shares": [1]}, "shares"), ({"shares": {}}, "shares"),
                        ({"shares": {str(cast.other.user.unit_id): 5}}, f"share_{cast.other.user.unit_id}"),
                        ({"shares": {str(units["杭州市政府"]): "很多"}}, f"share_{units['杭州市政府']}")]:
        response = cast.coordinator.post(f"/targets/{target_id}/split", json=body)
        assert response.status_code == 400 and field in response.get_json()["fields"], body
    assert db_state() == before
    response = cast.coordinator.post(f"/targets/{target_id}/split", json={"shares": shares})
    assert response.status_code == 200
    progress = response.get_json()["progress"][0]
    assert {u["unit"]["short_name"]: u["allocation"] for u in progress["units"]} == {
        "杭州市政府": 2000, "宁波市政府": 1500, "温州市政府": 1500}
