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
    assert cast.auditor.get("/me").get_json()["permissions"] == ["audit.view", "report.archive"]


def _all_items(client, **params) -> list[dict]:
    """Every item of 我的待办, page by page."""
    items, page = [], 1
    while True:
        query = "&".join(f"{k}={v}" for k, v in {**params, "page": page, "per_page": 7}.items())
        work = client.get(f"/me/work?{query}").get_json()
        items += work["items"]
        assert len(work["items"]) <= 7 and work["page"]["number"] == page
        if page >= work["page"]["pages"]:
            assert len(items) == work["page"]["items"]
            return items
        page += 1


def test_my_work_for_liaisons(cast):
    returned = report_in_state(cast, "lead", "returned", "2025Q1")
    contribution = report_in_state(cast, "co", "submitted", "2025Q2")
    work = cast.lead.get("/me/work").get_json()
    items = _all_items(cast.lead)
    assert work["total"] == len(items) == sum(work["counts"].values())
    # What the lead can act on now comes first: the contribution to review,
    # then the returned report, then what is due, then what is overdue.
    groups = [i["group"] for i in items]
    assert groups == sorted(groups, key=["review", "decide", "returned", "due", "overdue"].index)
    assert items[0]["group"] == "review" and items[0]["report_id"] == contribution
    assert items[0]["kind"] == "contribution_review" and items[0]["unit"]["short_name"] == "省科技厅"
    back = [i for i in items if i["group"] == "returned"]
    assert [i["report_id"] for i in back] == [returned] and back[0]["note"] == "需补充材料"
    # Past periods with nothing filed are overdue, in red, the newest period first.
    overdue = [i for i in items if i["group"] == "overdue"]
    assert overdue and all(o["unit"]["short_name"] == "省经信厅" and o["light"] == "red" for o in overdue)
    assert ("2025Q1", 1) not in [(o["period"], o["task"]["number"]) for o in overdue]  # returned: listed there
    q2 = next(o for o in overdue if o["period"] == "2025Q2" and o["task"]["number"] == 1)
    assert q2["kind"] == "report_due" and q2["overdue_working_days"] > 100
    starts = [o["period"] for o in overdue]
    order = [code for code, _ in [(p["code"], p["label"]) for p in work["choices"]["periods"]]]
    assert [order.index(c) for c in starts] == sorted(order.index(c) for c in starts)  # newest first
    assert order == sorted(order, reverse=True)
    co_items = _all_items(cast.co)
    assert not any(i["group"] == "review" for i in co_items)
    assert all(i["kind_label"] == "报送配合单位报送" for i in co_items if i["task"]["number"] == 1)


def test_my_work_filters_and_counts(cast):
    report_in_state(cast, "lead", "returned", "2025Q1")
    everything = _all_items(cast.lead)
    work = cast.lead.get("/me/work?period=2025Q2").get_json()
    assert work["filters"]["period"] == "2025Q2"
    assert work["page"]["items"] == sum(work["counts"].values()) == len([i for i in everything if i["period"] == "2025Q2"])
    assert all(i["period"] == "2025Q2" for i in work["items"])
    returned = cast.lead.get("/me/work?state=returned").get_json()
    assert [i["group"] for i in returned["items"]] == ["returned"] and returned["counts"] == cast.lead.get("/me/work").get_json()["counts"]
    unit = everything[0]["unit"]["id"]
    assert _all_items(cast.lead, unit=unit) == [i for i in everything if i["unit"] and i["unit"]["id"] == unit]
    assert cast.lead.get(f"/me/work?plan={cast.task.plan_id}").get_json()["total"] == len(everything)
    assert cast.lead.get("/me/work?plan=999999").get_json()["items"] == []
    for bad in ("state=late", "page=0", "per_page=500", "plan=abc", "unit=-1"):
        response = cast.lead.get(f"/me/work?{bad}")
        assert response.status_code == 400 and response.get_json()["error"] == "validation_error", bad


def test_my_work_for_coordinators_is_the_review_queue_oldest_first(cast):
    first = report_in_state(cast, "lead", "submitted", "2025Q1")
    second = report_in_state(cast, "lead", "submitted", "2025Q2")
    report_in_state(cast, "co", "submitted", "2025Q3")  # for the lead, not the coordinators
    work = cast.coordinator.get("/me/work?state=review").get_json()
    assert [r["report_id"] for r in work["items"]] == [first, second]
    assert {i["group"] for i in _all_items(cast.coordinator)} <= {"review", "decide"}


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

