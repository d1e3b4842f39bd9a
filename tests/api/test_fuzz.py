"""Fuzzing the API from its own OpenAPI document (schemathesis + hypothesis):
for each role holding a token (coordinator, the lead unit's and a co-unit's
liaisons, leader, admin, auditor), every operation gets generated requests
over real HTTP (the app served on loopback), and no answer may be a 5xx, an
undocumented status, or a body that does not match its schema.

Bounded: a few examples per operation and role, no shrinking database, no
deadline per example; about 10-20 s per role and backend. Marked `slow`."""
from __future__ import annotations

import time

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.checks import not_a_server_error

from supervise.web.api.openapi import document

from .conftest import make_report, report_in_state

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 6
BUDGET_SECONDS = 60  # per role: the run fails rather than creep past it
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
ROLES = ("coordinator", "lead", "co", "leader", "admin", "auditor")


def _operations(schema):
    """Every operation, revoking tokens last (a run that revoked its own
    token early would see nothing but 401 afterwards)."""
    operations = [result.ok() for result in schema.get_all_operations()]
    return sorted(operations, key=lambda op: (op.method.upper() == "DELETE" and "token" in op.path, op.path, op.method))


def _some_data(cast) -> None:
    """Reports in every state, so generated ids hit real rows too."""
    for kind, state, period in (("lead", "draft", "2025Q1"), ("co", "submitted", "2025Q1"),
                                ("lead", "returned", "2025Q2"), ("co", "accepted", "2025Q2"),
                                ("lead", "approved", "2024Q4")):
        report_in_state(cast, kind, state, period)
    make_report(cast.co, cast.task, "2024Q4")


@pytest.mark.parametrize("role", ROLES)
def test_no_generated_request_breaks_the_api(role, cast, live_server):  # noqa: F811
    _some_data(cast)
    client = getattr(cast, role)
    schema = schemathesis.openapi.from_dict(document())
    base_url = live_server.url + "/api/v1"
    headers = {"Authorization": f"Bearer {client.token}"}
    http = requests.Session()
    statuses: dict[int, int] = {}
    started = time.monotonic()

    for operation in _operations(schema):

        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case):
            response = case.call(base_url=base_url, session=http, headers=headers, timeout=30)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            # Raises with the failures found and a curl line to reproduce them.
            case.validate_response(response, checks=CHECKS, headers=headers)

        check()
        assert time.monotonic() - started < BUDGET_SECONDS, f"fuzzing as {role} took over {BUDGET_SECONDS} s"

    # The run reached past the token check and the ids: real answers too.
    assert statuses.get(200, 0) + statuses.get(201, 0) > 0 and statuses.get(400, 0) > 0, statuses
