"""Fixtures for the JSON API: clients that carry a bearer token and check
every answer against the OpenAPI document, a cast of users around task 1 of
the 27号 plan, and a snapshot of the whole database to prove that a refused
call changed nothing."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import jsonschema
import pytest
from sqlalchemy import select

from supervise.db import Base, session, unit_of_work
from supervise.models import Report, Task, User
from supervise.services import reports as report_service
from supervise.services.users import issue_api_token
from supervise.web.api.openapi import document

PREFIX = "/api/v1"
SPEC = document()
_PATHS = sorted(
    ((re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", p) + "$"), p) for p in SPEC["paths"]),
    key=lambda item: item[1].count("{"),  # literal paths win over templated ones
)


def spec_path(url: str) -> str:
    path = url.split("?", 1)[0]
    assert path.startswith(PREFIX), path
    path = path[len(PREFIX):]
    for pattern, template in _PATHS:
        if pattern.match(path):
            return template
    raise AssertionError(f"{url} is not in the OpenAPI document")


def check_against_spec(method: str, url: str, response) -> None:
    """The status must be documented for the operation, and a JSON body must
    match its schema."""
    template = spec_path(url)
    operation = SPEC["paths"][template].get(method.lower())
    assert operation is not None, f"{method} {template} is not in the OpenAPI document"
    documented = operation["responses"].get(str(response.status_code))
    assert documented is not None, (
        f"{method} {template} answered {response.status_code}, which is not documented: "
        f"{response.get_data(as_text=True)[:300]}"
    )
    if "$ref" in documented:
        documented = SPEC["components"]["responses"][documented["$ref"].rsplit("/", 1)[1]]
    content = documented.get("content", {})
    if "application/json" in content:
        assert response.is_json, f"{method} {template}: expected JSON, got {response.content_type}"
        schema = {"components": SPEC["components"], **content["application/json"]["schema"]}
        jsonschema.Draft202012Validator(schema).validate(response.get_json())


@dataclass
class ApiClient:
    """A test client speaking to the API as one user, with their token."""

    client: Any
    user: User
    token: str

    def open(self, method: str, url: str, *, json: Any = None, data: Any = None, token: str | None = None,
             check: bool = True, **kw):
        headers = kw.pop("headers", {})
        if token is not False:
            headers.setdefault("Authorization", f"Bearer {token or self.token}")
        if json is not None:
            kw["json"] = json
        if data is not None:
            kw["data"] = data
        response = self.client.open(PREFIX + url, method=method, headers=headers, **kw)
        if check:
            check_against_spec(method, PREFIX + url, response)
        return response

    def get(self, url, **kw):
        return self.open("GET", url, **kw)

    def post(self, url, **kw):
        return self.open("POST", url, **kw)

    def patch(self, url, **kw):
        return self.open("PATCH", url, **kw)

    def delete(self, url, **kw):
        return self.open("DELETE", url, **kw)


def token_for(user: User) -> str:
    with unit_of_work():
        return issue_api_token(user, label="test")


@pytest.fixture
def api_as(app, make_user):
    """api_as("liaison", unit="省经信厅") -> ApiClient"""

    def factory(*roles: str, unit: str = "省商务厅", **kw) -> ApiClient:
        user = make_user(*roles, unit=unit, **kw)
        return ApiClient(app.test_client(), user, token_for(user))

    return factory


def db_state() -> dict[str, list[str]]:
    """Every row of every table, to compare before and after a call."""
    session().rollback()
    state = {}
    for table in Base.metadata.sorted_tables:
        query = select(table)
        if table.name == "audit_entries":
            # A refused call is audited (access.denied): that is the one row
            # it may leave, and it changes nothing else.
            query = query.where(table.c.action != "access.denied")
        state[table.name] = sorted(repr(tuple(row)) for row in session().execute(query))
    return state


def logged_in(api: ApiClient) -> ApiClient:
    """The same user on a client of its own, logged in with a password (a
    session cookie): what managing tokens needs. Call with token=False."""
    from ..conftest import login

    client = api.client.application.test_client()
    login(client, api.user)
    return ApiClient(client, api.user, api.token)


@dataclass
class Cast:
    """Task 1 of the 27号 plan (lead 省经信厅; 省科技厅 among the co-units)
    and one API client per kind of person."""

    task: Task
    coordinator: ApiClient
    coordinator2: ApiClient
    lead: ApiClient  # liaison of the lead unit
    co: ApiClient  # liaison of a co-responsible unit
    other: ApiClient  # liaison of a unit outside the task
    leader: ApiClient
    admin: ApiClient
    auditor: ApiClient

    def everyone(self) -> dict[str, ApiClient]:
        return {
            "coordinator": self.coordinator, "lead": self.lead, "co": self.co, "other": self.other,
            "leader": self.leader, "admin": self.admin, "auditor": self.auditor,
        }


@pytest.fixture
def cast(app, plan, people) -> Cast:
    """The roster's people (tests/people.py), each with a token."""
    task = next(t for t in plan.tasks if t.number == 1)
    units = {tu.unit.short_name: tu.role.value for tu in task.units}
    assert units["省经信厅"] == "lead" and units["省科技厅"] == "co" and "省教育厅" not in units

    def client(user: User) -> ApiClient:
        return ApiClient(app.test_client(), user, token_for(user))

    return Cast(
        task=task,
        coordinator=client(people.coordinator),
        coordinator2=client(people.coordinator2),
        lead=client(people.lead),
        co=client(people.co_dept),
        other=client(people.outsider),
        leader=client(people.leader),
        admin=client(people.admin),
        auditor=client(people.auditor),
    )


# --- building items in a given state through the services ---------------------


def _actor(user: User) -> User:
    return session().get(User, user.id)


def make_report(author: ApiClient, task: Task, period: str, *, text: str = "本期进展", values=None) -> int:
    with unit_of_work():
        t = session().get(Task, task.id)
        return report_service.create_report(_actor(author.user), t, period, text=text, values=values).id


def act(actor: ApiClient, report_id: int, action: str, reason: str = "需补充材料") -> None:
    """Move a report along by calling the service as `actor`."""
    with unit_of_work():
        user, report = _actor(actor.user), session().get(Report, report_id)
        if action == "submit":
            report_service.submit_report(user, report)
        elif action == "accept":
            report_service.accept_contribution(user, report)
        elif action == "approve":
            report_service.approve_report(user, report)
        elif action == "return":
            report_service.return_report(user, report, reason)
        elif action == "reopen":
            report_service.reopen_report(user, report, reason)
        else:
            raise ValueError(action)


def report_in_state(cast: Cast, kind: str, state: str, period: str) -> int:
    """A lead report ("lead") or a contribution ("co") of task 1 in `state`."""
    author = cast.lead if kind == "lead" else cast.co
    reviewer = cast.coordinator if kind == "lead" else cast.lead
    report_id = make_report(author, cast.task, period)
    path = {
        "draft": [],
        "submitted": [(author, "submit")],
        "returned": [(author, "submit"), (reviewer, "return")],
        "approved": [(author, "submit"), (reviewer, "approve")],
        "accepted": [(author, "submit"), (reviewer, "accept")],
    }[state]
    for actor, action in path:
        act(actor, report_id, action)
    return report_id


def report_row(report_id: int) -> Report:
    """The report as stored now (not as this test's session last saw it)."""
    session().rollback()
    session().expire_all()
    return session().get(Report, report_id)
