"""GET /me, /me/work (我的待办) and the caller's own API tokens."""
from __future__ import annotations

from sqlalchemy import select

from supervise.db import session
from supervise.models import ApiToken

from .conftest import logged_in, db_state, report_in_state


def test_me(cast):
    data = cast.lead.get("/me").get_json()
    assert data["login"] == cast.lead.user.login and data["unit"]["short_name"] == "省经信厅"
    assert data["roles"] == ["liaison"] and "report.file" in data["permissions"]
    assert data["unread_notifications"] == 0
    report_in_state(cast, "co", "submitted", "2025Q2")
    assert cast.lead.get("/me").get_json()["unread_notifications"] == 1
    assert cast.auditor.get("/me").get_json()["permissions"] == ["audit.view"]


def test_my_work_for_liaisons(cast):
    returned = report_in_state(cast, "lead", "returned", "2025Q1")
    contribution = report_in_state(cast, "co", "submitted", "2025Q2")
    work = cast.lead.get("/me/work").get_json()
    assert [r["id"] for r in work["returned"]] == [returned]
    assert work["returned"][0]["return_reason"] == "需补充材料"
    assert [r["id"] for r in work["contributions_to_review"]] == [contribution]
    # Past periods with nothing filed are owed, in red, oldest first.
    owed = work["owed"]
    assert owed and all(o["unit"]["short_name"] == "省经信厅" for o in owed)
    assert ("2025Q1", 1) not in [(o["period"], o["task"]["number"]) for o in owed]  # returned: listed there
    q2 = next(o for o in owed if o["period"] == "2025Q2" and o["task"]["number"] == 1)
    assert q2["kind"] == "lead_report" and q2["light"] == "red" and q2["overdue_working_days"] > 100
    assert [o["due_on"] for o in owed] == sorted(o["due_on"] for o in owed)
    assert work["review_queue"] == [] and work["total"] >= len(owed) + 2
    co_work = cast.co.get("/me/work").get_json()
    assert co_work["contributions_to_review"] == []
    assert all(o["kind"] == "contribution" for o in co_work["owed"] if o["task"]["number"] == 1)


def test_my_work_for_coordinators_is_the_review_queue_oldest_first(cast):
    first = report_in_state(cast, "lead", "submitted", "2025Q1")
    second = report_in_state(cast, "lead", "submitted", "2025Q2")
    report_in_state(cast, "co", "submitted", "2025Q3")  # for the lead, not the coordinators
    work = cast.coordinator.get("/me/work").get_json()
    assert [r["id"] for r in work["review_queue"]] == [first, second]
    assert work["owed"] == [] and work["returned"] == []


def test_my_work_is_refused_to_roles_without_work(cast):
    for client in (cast.leader, cast.admin, cast.auditor):
        response = client.get("/me/work")
        assert response.status_code == 403 and response.get_json()["error"] == "forbidden"


def test_tokens_list_issue_revoke(cast):
    lead = logged_in(cast.lead)
    listed = lead.get("/me/tokens", token=False).get_json()
    assert [t["label"] for t in listed] == ["test"] and listed[0]["revoked_at"] is None
    response = lead.post("/me/tokens", json={"label": "台账同步脚本"}, token=False)
    assert response.status_code == 201
    new = response.get_json()
    assert new["token"].startswith("sv_") and new["label"] == "台账同步脚本"
    # The secret is shown once: stored only as a hash, and never listed again.
    assert all("token" not in t for t in lead.get("/me/tokens", token=False).get_json())
    assert new["token"] not in str(db_state())
    assert cast.lead.get("/me", token=new["token"]).get_json()["id"] == cast.lead.user.id
    # Revoked, it no longer opens anything.
    revoked = cast.lead.delete(f"/me/tokens/{new['id']}").get_json()
    assert revoked["revoked_at"] is not None
    assert cast.lead.get("/me", token=new["token"]).status_code == 401
    before = db_state()
    again = cast.lead.delete(f"/me/tokens/{new['id']}")
    assert again.status_code == 409 and again.get_json()["message"] == "该令牌已撤销"
    assert db_state() == before


def test_tokens_are_ones_own(cast):
    other_token = session().scalar(select(ApiToken.id).where(ApiToken.user_id == cast.co.user.id))
    lead, leader, auditor = logged_in(cast.lead), logged_in(cast.leader), logged_in(cast.auditor)
    before = db_state()
    assert cast.lead.delete(f"/me/tokens/{other_token}").status_code == 404
    assert cast.lead.delete("/me/tokens/99999").status_code == 404
    assert lead.post("/me/tokens", json={"label": "x" * 65}, token=False).status_code == 400
    assert lead.post("/me/tokens", json={"label": 5}, token=False).status_code == 400
    assert db_state() == before
    # The working roles manage their own tokens; the auditor and the admin
    # work only on the pages (separation of duties), so they issue none.
    assert leader.post("/me/tokens", token=False).status_code == 201
    before = db_state()
    assert auditor.post("/me/tokens", token=False).status_code == 403
    assert db_state() == before

