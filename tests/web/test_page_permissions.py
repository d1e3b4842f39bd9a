"""Every action of the issue 3 pages, tried by every role that may not take
it: refused (403, or 404 where the item's existence is private to its unit)
and nothing in the database changed."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import select, text

from supervise.db import session
from supervise.models import AuditEntry, Evidence, ExtensionRequest, Milestone

from .conftest import PDF, created_id, file, page, report, task_no

LEAD, CO = "省委网信办", "省商务厅"

# Everything the actions could change (the audit log is checked on its own:
# logging in writes to it).
TABLES = ["reports", "report_values", "report_versions", "report_inclusions", "evidence", "milestones",
          "extension_requests", "tasks", "target_allocations", "api_tokens", "notifications"]


def _fingerprint() -> dict[str, list]:
    session().rollback()
    return {t: [tuple(r) for r in session().execute(text(f"SELECT * FROM {t} ORDER BY id"))] for t in TABLES}


@pytest.fixture
def world(login_as, plan):
    """A submitted contribution with a file, a submitted lead report, a
    proposed milestone and a pending extension request on task 3."""
    task = task_no(plan, 3)
    co, _ = login_as("liaison", unit=CO)
    lead, _ = login_as("liaison", unit=LEAD)
    cid = created_id(co.post(f"/tasks/{task.id}/reports", data={"period": "2025Q2"}))
    co.post(f"/reports/{cid}/evidence", data={"version": report(cid).version, "file": file("说明.pdf")},
            content_type="multipart/form-data")
    co.post(f"/reports/{cid}", data={"version": report(cid).version, "text": "配合", "submit": "1"})
    lid = created_id(lead.post(f"/tasks/{task.id}/reports", data={"period": "2025Q2"}))
    lead.post(f"/reports/{lid}", data={"version": report(lid).version, "text": "牵头", "submit": "1"})
    lead.post(f"/tasks/{task.id}/milestones", data={"ms-title": "节点", "ms-due_on": "2025-09-30"})
    task = task_no(plan, 3)
    lead.post(f"/tasks/{task.id}/extensions", data={"ext-version": task.version, "ext-new_deadline": "2028-06-30",
                                                    "ext-reason": "原因"})
    task = task_no(plan, 3)
    m = session().scalar(select(Milestone))
    x = session().scalar(select(ExtensionRequest))
    e = session().scalar(select(Evidence))
    assert report(cid).state.value == "submitted" and report(lid).state.value == "submitted" and m and x and e
    t, c, lr, target = task.id, cid, lid, task.targets[0].id
    tv, cv, lv, mv = task.version, report(cid).version, report(lid).version, m.version

    def upload(name):
        return {name: (PDF, "佐证.pdf")}  # a fresh stream is made for each request

    return [
        ("create report", f"/tasks/{t}/reports", {"period": "2025Q2"}),
        ("edit", f"/reports/{c}", {"version": cv, "text": "改", "save": "1"}),
        ("submit", f"/reports/{lr}", {"version": lv, "text": "改", "submit": "1"}),
        ("include", f"/reports/{lr}/inclusions", {"version": lv, "include": [c]}),
        ("accept", f"/reports/{c}/accept", {"version": cv, "confirmed": "1"}),
        ("return contribution", f"/reports/{c}/return", {"return-version": cv, "return-reason": "退"}),
        ("approve", f"/reports/{lr}/approve", {"version": lv, "confirmed": "1"}),
        ("return report", f"/reports/{lr}/return", {"return-version": lv, "return-reason": "退"}),
        ("reopen", f"/reports/{lr}/reopen", {"reopen-version": lv, "reopen-reason": "开"}),
        ("upload", f"/reports/{c}/evidence", {"version": cv, **upload("file")}),
        ("remove file", f"/evidence/{e.id}/remove", {"version": cv}),
        ("propose milestone", f"/tasks/{t}/milestones", {"ms-title": "节点二", "ms-due_on": "2025-10-31"}),
        ("confirm milestone", f"/milestones/{m.id}/confirm", {"version": mv}),
        ("milestone file", f"/milestones/{m.id}/evidence", {f"ms{m.id}-ev-version": mv, **upload(f"ms{m.id}-ev-file")}),
        ("milestone done", f"/milestones/{m.id}/done", {f"ms{m.id}-done-version": mv}),
        ("milestone decide", f"/milestones/{m.id}/decide", {f"ms{m.id}-decide-version": mv,
                                                            f"ms{m.id}-decide-agree": "1"}),
        ("close file", f"/tasks/{t}/close-evidence", {"close-ev-version": tv, **upload("close-ev-file")}),
        ("request close", f"/tasks/{t}/request-close", {"close-version": tv, "close-reason": "完成"}),
        ("decide close", f"/tasks/{t}/decide-close", {"decide-close-version": tv, "decide-close-agree": "1", "confirmed": "1"}),
        ("suspend", f"/tasks/{t}/suspend", {"suspend-version": tv, "suspend-reason": "缓"}),
        ("resume", f"/tasks/{t}/resume", {"resume-version": tv, "resume-reason": "复"}),
        ("request extension", f"/tasks/{t}/extensions", {"ext-version": tv, "ext-new_deadline": "2028-12-31",
                                                         "ext-reason": "因"}),
        ("decide extension", f"/extensions/{x.id}/decide", {f"ext{x.id}-version": tv, f"ext{x.id}-agree": "1"}),
        ("split", f"/targets/{target}/split", {f"split{target}-share_{task.lead.unit_id}": "1"}),
    ]


def _post(client, url, data):
    data = {k: ((io.BytesIO(v[0]), v[1]) if isinstance(v, tuple) else v) for k, v in data.items()}
    return client.post(url, data=data, content_type="multipart/form-data")


@pytest.mark.parametrize(
    "role,unit",
    [("leader", "省商务厅"), ("admin", "省商务厅"), ("auditor", "省商务厅"), ("liaison", "省教育厅")],
)
def test_roles_that_may_not_act_are_refused_and_nothing_changes(login_as, world, role, unit):
    client, _ = login_as(role, unit=unit)
    before = _fingerprint()
    audit_before = session().scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))
    forbidden = 0
    for name, url, data in world:
        response = _post(client, url, data)
        assert response.status_code in (403, 404), (name, response.status_code, response.get_data(as_text=True)[:300])
        forbidden += response.status_code == 403
    assert _fingerprint() == before
    written = session().scalars(select(AuditEntry.action).where(AuditEntry.id > audit_before)).all()
    # Only the refusals themselves are written, one per 403 (issue 9: refused
    # attempts are audited; a 404 hides an item the role may not even see).
    assert written == ["access.denied"] * forbidden


def test_a_co_unit_cannot_take_the_leads_or_the_coordinators_actions(login_as, world):
    client, _ = login_as("liaison", unit=CO)
    before = _fingerprint()
    lead_or_coordinator_only = {"submit", "include", "accept", "return contribution", "approve", "return report",
                                "reopen", "propose milestone", "confirm milestone", "milestone file",
                                "milestone done", "milestone decide", "close file", "request close", "decide close",
                                "suspend", "resume", "request extension", "decide extension", "split"}
    for name, url, data in world:
        if name in lead_or_coordinator_only:
            response = _post(client, url, data)
            assert response.status_code in (403, 404), (name, response.status_code)
    assert _fingerprint() == before


@pytest.mark.parametrize("role,unit,status", [
    ("liaison", "省教育厅", 404), ("leader", "省商务厅", 200), ("coordinator", "省商务厅", 200),
    ("admin", "省商务厅", 404), ("auditor", "省商务厅", 404),
])
def test_who_reads_a_submitted_report_its_versions_and_its_file(login_as, world, role, unit, status):
    client, _ = login_as(role, unit=unit)
    lr = next(url for name, url, _ in world if name == "submit").rsplit("/", 1)[-1]
    c = next(url for name, url, _ in world if name == "edit").rsplit("/", 1)[-1]
    e = session().scalar(select(Evidence))
    assert client.get(f"/reports/{lr}").status_code == status
    assert client.get(f"/reports/{lr}/versions/1").status_code == status
    assert client.get(f"/reports/{c}").status_code == status
    assert client.get(f"/evidence/{e.id}").status_code == status
    if status == 200:
        assert "牵头" in page(client.get(f"/reports/{lr}"))


def test_the_same_requests_work_for_those_who_may_take_them(login_as, world):
    """The control: the refusals above are about who asks, not about the data."""
    lead, _ = login_as("liaison", unit=LEAD)
    coord, _ = login_as("coordinator")
    actions = {name: (url, data) for name, url, data in world}
    for client, name in [(lead, "accept"), (coord, "approve"), (coord, "confirm milestone"),
                         (coord, "decide extension"), (coord, "split"), (lead, "propose milestone")]:
        url, data = actions[name]
        response = _post(client, url, data)
        assert response.status_code == 302, (name, response.get_data(as_text=True)[:500])


def _refusals(path: str) -> list[AuditEntry]:
    session().rollback()
    return list(session().scalars(select(AuditEntry).where(AuditEntry.action == "access.denied",
                                                           AuditEntry.detail["path"].as_string() == path)))


def test_a_refusal_is_audited_on_its_own_and_nothing_else_of_the_request_is_kept(app, login_as):
    """record_refusal writes in a transaction of its own: what the refused
    request wrote before it was refused (a view that caught the refusal and
    shows its form again, as the admin pages do) is rolled back, not
    committed with the row."""
    from supervise.models import Notification
    from supervise.services import notifications
    from supervise.web import acting_user, record_refusal

    def write_then_refuse():
        notifications.notify([acting_user()], "test.refused", "被拒绝的请求写下的通知")
        session().flush()
        record_refusal("不能这样做")
        return "refused", 403

    app.add_url_rule("/refused-after-writing", "refused_after_writing", write_then_refuse, methods=["POST"])
    client, user = login_as("liaison", unit=CO)
    assert client.post("/refused-after-writing").status_code == 403
    [row] = _refusals("/refused-after-writing")
    assert (row.actor_id, row.actor_login, row.detail["method"], row.detail["message"]) == (
        user.id, user.login, "POST", "不能这样做")
    assert session().scalar(select(Notification.id).where(Notification.kind == "test.refused")) is None

    # A refusal raised by a service, on a reading request and on a writing one.
    assert client.get("/dashboard/").status_code == 403
    assert [r.actor_id for r in _refusals("/dashboard/")] == [user.id]
    admin_page = client.post("/admin/users/new", data={"login": "x1", "unit": "浙江省商务厅", "roles": ["liaison"]})
    assert admin_page.status_code == 403
    assert [r.detail["method"] for r in _refusals("/admin/users/new")] == ["POST"]
