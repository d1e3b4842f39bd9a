"""Also audited (issue 9, point 5): draft edits, changes of which
contributions a report cites, and refused (403) attempts to act."""
from __future__ import annotations

from sqlalchemy import select

from supervise.db import session
from supervise.models import AuditEntry, Report

from .conftest import act, make_report


def _rows() -> list[AuditEntry]:
    session().rollback()
    return list(session().scalars(select(AuditEntry).order_by(AuditEntry.id)))


def test_draft_edits_inclusions_and_refusals_are_audited(app, plan, api_as):
    task = next(t for t in plan.tasks if t.number == 1)
    lead = api_as("liaison", unit="省经信厅")
    co = api_as("liaison", unit="省科技厅")
    leader = api_as("leader")
    rid = make_report(lead, task, "2025Q2")
    cid = make_report(co, task, "2025Q2")
    act(co, cid, "submit")
    assert lead.patch(f"/reports/{rid}", json={"text": "第二稿"}).status_code == 200
    assert lead.patch(f"/reports/{rid}", json={"include": [cid]}).status_code == 200
    assert lead.patch(f"/reports/{rid}", json={"include": []}).status_code == 200
    assert leader.patch(f"/reports/{rid}", json={"text": "领导改的"}).status_code in (403, 404)
    assert leader.post("/reports", json={"task_id": task.id, "period": "2025Q3"}).status_code == 403
    rows = _rows()
    edits = [r for r in rows if r.action.endswith(".edit") and r.object_id == rid and r.detail.get("text")]
    assert len(edits) == 1 and edits[0].actor_id == lead.user.id
    citations = [r.detail for r in rows if r.action == "report.cite" and r.object_id == rid]
    assert citations == [{"before": [], "after": [cid]}, {"before": [cid], "after": []}]
    denied = [r for r in rows if r.action == "access.denied" and r.actor_id == leader.user.id]
    assert denied and denied[-1].detail["method"] == "POST" and denied[-1].detail["path"] == "/api/v1/reports"
    assert denied[-1].detail["message"]
    # The refused call changed nothing else: the draft is as the lead left it.
    assert session().get(Report, rid).text == "第二稿"
    assert app.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0
