"""Every role against every API endpoint: the refusal (403, or 404 where the
item's existence is private) changes nothing in the database, and the one
who may do it can."""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, Callable

import pytest
from sqlalchemy import select

from supervise.db import session
from supervise.models import ApiToken

from .conftest import Cast, db_state, report_in_state, spec_path
from .test_evidence import PDF

ROLES = ("coordinator", "lead", "co", "other", "leader", "admin", "auditor")


@dataclass
class Items:
    lead_draft: int
    lead_submitted: int
    lead_approved: int
    co_submitted: int
    draft_evidence: int
    co_token: int
    milestone: int
    extension: int
    target: int


@pytest.fixture
def items(cast: Cast) -> Items:
    lead_draft = report_in_state(cast, "lead", "draft", "2025Q1")
    upload = cast.lead.post(f"/reports/{lead_draft}/evidence", data={"file": (io.BytesIO(PDF), "草稿附件.pdf")},
                            content_type="multipart/form-data")
    return Items(
        lead_draft=lead_draft,
        lead_submitted=report_in_state(cast, "lead", "submitted", "2025Q2"),
        lead_approved=report_in_state(cast, "lead", "approved", "2025Q3"),
        co_submitted=report_in_state(cast, "co", "submitted", "2025Q2"),
        draft_evidence=upload.get_json()["id"],
        co_token=session().scalar(select(ApiToken.id).where(ApiToken.user_id == cast.co.user.id)),
        milestone=cast.lead.post(f"/tasks/{cast.task.id}/milestones",
                                 json={"title": "节点", "due_on": "2026-06-30"}).get_json()["id"],
        extension=cast.lead.post(f"/tasks/{cast.task.id}/extensions",
                                 json={"new_deadline": "2028-06-30", "reason": "延期"}).get_json()["id"],
        target=cast.task.targets[0].id,
    )


def _multipart() -> dict[str, Any]:
    return {"data": {"file": (io.BytesIO(PDF + b"matrix"), "佐证.pdf")}, "content_type": "multipart/form-data"}


HIDDEN = 404
# endpoint: (method, url, request, {role: refusal}, the role that may)
ENDPOINTS: dict[str, tuple[str, Callable[[Cast, Items], str], Callable[[Cast], dict], dict[str, int], str]] = {
    "create report": (
        "POST", lambda c, i: "/reports", lambda c: {"json": {"task_id": c.task.id, "period": "2025Q4", "text": "x"}},
        {"coordinator": 403, "other": 403, "leader": 403, "admin": 403, "auditor": 403}, "lead",
    ),
    "read a draft": (
        "GET", lambda c, i: f"/reports/{i.lead_draft}", lambda c: {},
        {r: HIDDEN for r in ROLES if r != "lead"}, "lead",
    ),
    "edit a draft": (
        "PATCH", lambda c, i: f"/reports/{i.lead_draft}", lambda c: {"json": {"text": "改"}},
        {r: HIDDEN for r in ROLES if r != "lead"}, "lead",
    ),
    "submit a draft": (
        "POST", lambda c, i: f"/reports/{i.lead_draft}/submit", lambda c: {},
        {r: HIDDEN for r in ROLES if r != "lead"}, "lead",
    ),
    "upload evidence": (
        "POST", lambda c, i: f"/reports/{i.lead_draft}/evidence", lambda c: _multipart(),
        {r: HIDDEN for r in ROLES if r != "lead"}, "lead",
    ),
    "download a draft's evidence": (
        "GET", lambda c, i: f"/evidence/{i.draft_evidence}", lambda c: {},
        {r: HIDDEN for r in ROLES if r != "lead"}, "lead",
    ),
    "read a submitted version": (
        "GET", lambda c, i: f"/reports/{i.lead_submitted}/versions/1", lambda c: {},
        {"co": HIDDEN, "other": HIDDEN, "admin": HIDDEN, "auditor": HIDDEN}, "coordinator",
    ),
    "compare versions": (
        "GET", lambda c, i: f"/reports/{i.lead_submitted}/compare?from=1&to=1", lambda c: {},
        {"co": HIDDEN, "other": HIDDEN, "admin": HIDDEN, "auditor": HIDDEN}, "leader",
    ),
    "accept a contribution": (
        "POST", lambda c, i: f"/reports/{i.co_submitted}/accept", lambda c: {},
        {"coordinator": 403, "co": 403, "other": HIDDEN, "leader": 403, "admin": HIDDEN, "auditor": HIDDEN}, "lead",
    ),
    "return a contribution": (
        "POST", lambda c, i: f"/reports/{i.co_submitted}/return", lambda c: {"json": {"reason": "补充"}},
        {"coordinator": 403, "co": 403, "other": HIDDEN, "leader": 403, "admin": HIDDEN, "auditor": HIDDEN}, "lead",
    ),
    "approve a report": (
        "POST", lambda c, i: f"/reports/{i.lead_submitted}/approve", lambda c: {},
        {"lead": 403, "co": HIDDEN, "other": HIDDEN, "leader": 403, "admin": HIDDEN, "auditor": HIDDEN}, "coordinator",
    ),
    "return a report": (
        "POST", lambda c, i: f"/reports/{i.lead_submitted}/return", lambda c: {"json": {"reason": "补充"}},
        {"lead": 403, "co": HIDDEN, "other": HIDDEN, "leader": 403, "admin": HIDDEN, "auditor": HIDDEN}, "coordinator",
    ),
    "reopen a report": (
        "POST", lambda c, i: f"/reports/{i.lead_approved}/reopen", lambda c: {"json": {"reason": "口径错误"}},
        {"lead": 403, "co": 403, "other": 403, "leader": 403, "admin": HIDDEN, "auditor": HIDDEN}, "coordinator",
    ),
    "list tasks": ("GET", lambda c, i: "/tasks", lambda c: {}, {"admin": 403, "auditor": 403}, "other"),
    "list plans": ("GET", lambda c, i: "/plans", lambda c: {}, {"admin": 403, "auditor": 403}, "leader"),
    "read a plan": ("GET", lambda c, i: f"/plans/{c.task.plan_id}", lambda c: {}, {"admin": 403, "auditor": 403},
                    "other"),
    "read a task": (
        "GET", lambda c, i: f"/tasks/{c.task.id}", lambda c: {}, {"admin": 403, "auditor": 403}, "other",
    ),
    "read a task's periods": (
        "GET", lambda c, i: f"/tasks/{c.task.id}/periods", lambda c: {}, {"admin": 403, "auditor": 403}, "co",
    ),
    "my work": ("GET", lambda c, i: "/me/work", lambda c: {}, {"leader": 403, "admin": 403, "auditor": 403}, "co"),
    "dashboard": ("GET", lambda c, i: "/dashboard", lambda c: {},
                  {"lead": 403, "co": 403, "other": 403, "admin": 403, "auditor": 403}, "leader"),
    "revoke another's token": (
        "DELETE", lambda c, i: f"/me/tokens/{i.co_token}", lambda c: {}, {r: HIDDEN for r in ROLES if r != "co"}, "co",
    ),
}


# The task's lifecycle, milestones, extensions and split: task-level items
# are no secret, so every refusal is 403. The allowed path of each is walked
# in test_lifecycle.py.


def EVERYONE_BUT(*allowed: str) -> dict[str, int]:  # noqa: N802 - reads as a constant in the table
    return {role: 403 for role in ROLES if role not in allowed}


LIFECYCLE: dict[str, tuple[str, Callable[[Cast, Items], str], Callable[[Cast], dict], dict[str, int]]] = {
    "task evidence": ("POST", lambda c, i: f"/tasks/{c.task.id}/evidence", lambda c: _multipart(), EVERYONE_BUT("lead")),
    "request close": ("POST", lambda c, i: f"/tasks/{c.task.id}/request-close", lambda c: {"json": {"reason": "x"}},
                      EVERYONE_BUT("lead")),
    "decide close": ("POST", lambda c, i: f"/tasks/{c.task.id}/decide-close", lambda c: {"json": {"agree": True}},
                     EVERYONE_BUT("coordinator")),
    "suspend": ("POST", lambda c, i: f"/tasks/{c.task.id}/suspend", lambda c: {"json": {"reason": "x"}},
                EVERYONE_BUT("coordinator")),
    "resume": ("POST", lambda c, i: f"/tasks/{c.task.id}/resume", lambda c: {"json": {"reason": "x"}},
               EVERYONE_BUT("coordinator")),
    "request extension": ("POST", lambda c, i: f"/tasks/{c.task.id}/extensions",
                          lambda c: {"json": {"new_deadline": "2028-09-30", "reason": "x"}}, EVERYONE_BUT("lead")),
    "decide extension": ("POST", lambda c, i: f"/extensions/{i.extension}/decide", lambda c: {"json": {"grant": True}},
                         EVERYONE_BUT("coordinator")),
    "propose milestone": ("POST", lambda c, i: f"/tasks/{c.task.id}/milestones",
                          lambda c: {"json": {"title": "x", "due_on": "2026-09-30"}}, EVERYONE_BUT("lead")),
    "confirm milestone": ("POST", lambda c, i: f"/milestones/{i.milestone}/confirm", lambda c: {},
                          EVERYONE_BUT("coordinator")),
    "milestone evidence": ("POST", lambda c, i: f"/milestones/{i.milestone}/evidence", lambda c: _multipart(),
                           EVERYONE_BUT("lead")),
    "milestone done": ("POST", lambda c, i: f"/milestones/{i.milestone}/done", lambda c: {"json": {"note": "x"}},
                       EVERYONE_BUT("lead")),
    "decide milestone": ("POST", lambda c, i: f"/milestones/{i.milestone}/decide", lambda c: {"json": {"accept": True}},
                         EVERYONE_BUT("coordinator")),
    "split target": ("POST", lambda c, i: f"/targets/{i.target}/split", lambda c: {"json": {"shares": {"1": 1}}},
                     EVERYONE_BUT("coordinator")),
}


# Open to every role that has a token: who one is, one's own tokens, the description.
OPEN_TO_ALL = {("GET", "/me"), ("GET", "/me/tokens"), ("POST", "/me/tokens"), ("GET", "/openapi.json")}


def test_the_matrix_covers_every_api_route(app, cast, items):
    from .test_openapi import _api_rules

    covered = {(method, spec_path("/api/v1" + url(cast, items)))
               for method, url, *_ in [*ENDPOINTS.values(), *LIFECYCLE.values()]}
    routes = {(method.upper(), path) for method, path in _api_rules(app)}
    assert routes - covered - OPEN_TO_ALL == set()


def test_every_role_is_refused_what_it_may_not_do_and_nothing_changes(cast, items):
    clients = cast.everyone()
    before = db_state()
    everything = {**{k: v[:4] for k, v in ENDPOINTS.items()}, **LIFECYCLE}
    for endpoint, (method, url, request, refusals) in everything.items():
        for role, status in refusals.items():
            response = clients[role].open(method, url(cast, items), **request(cast))
            assert response.status_code == status, (endpoint, role, response.get_json())
            body = response.get_json()
            assert body["error"] == {403: "forbidden", 404: "not_found"}[status] and body["message"], (endpoint, role)
            assert db_state() == before, (endpoint, role)


# Reads first, then writes on items no later call depends on.
ALLOWED_ORDER = [
    "read a draft", "download a draft's evidence", "read a submitted version", "compare versions", "list tasks",
    "list plans", "read a plan", "read a task", "read a task's periods", "my work", "dashboard", "create report", "edit a draft",
    "upload evidence", "submit a draft", "accept a contribution", "approve a report", "reopen a report",
    "revoke another's token",
]


def test_the_matrix_is_not_refusals_only(cast, items):
    """The one who may do it gets through (the returns are the other branch
    of accept and approve, so they run on items of their own)."""
    assert set(ALLOWED_ORDER) | {"return a contribution", "return a report"} == set(ENDPOINTS)
    clients = cast.everyone()
    for endpoint in ALLOWED_ORDER:
        method, url, request, _refusals, allowed = ENDPOINTS[endpoint]
        response = clients[allowed].open(method, url(cast, items), **request(cast))
        assert 200 <= response.status_code < 300, (endpoint, allowed, response.get_json())
    co = report_in_state(cast, "co", "submitted", "2025Q3")
    lead = report_in_state(cast, "lead", "submitted", "2026Q1")
    assert cast.lead.post(f"/reports/{co}/return", json={"reason": "补充"}).status_code == 200
    assert cast.coordinator.post(f"/reports/{lead}/return", json={"reason": "补充"}).status_code == 200
