"""Every (state, action) pair of reports and contributions through the API:
what the transition table allows answers 200 with the next state; anything
else answers 409 with a clear message and changes nothing."""
from __future__ import annotations

import pytest

from supervise.models import ReportState
from supervise.workflow import CONTRIBUTION_TRANSITIONS, LEAD_REPORT_TRANSITIONS

from .conftest import db_state, report_in_state, report_row

MACHINES = {
    "lead": (LEAD_REPORT_TRANSITIONS, ["draft", "submitted", "returned", "approved"],
             ["edit", "submit", "approve", "return", "reopen"]),
    "co": (CONTRIBUTION_TRANSITIONS, ["draft", "submitted", "returned", "accepted"],
           ["edit", "submit", "accept", "return"]),
}
PERIODS = ["2025Q1", "2025Q2", "2025Q3", "2025Q4", "2026Q1", "2026Q2"]


def _call(cast, kind: str, action: str, report_id: int):
    author = cast.lead if kind == "lead" else cast.co
    reviewer = cast.coordinator if kind == "lead" else cast.lead
    if action == "edit":
        return author.patch(f"/reports/{report_id}", json={"text": "修改后的进展"})
    actor = author if action == "submit" else reviewer
    return actor.post(f"/reports/{report_id}/{action}", json={"reason": "原因"} if action in ("return", "reopen") else {})


@pytest.mark.parametrize("kind, state", [(k, s) for k, (_, states, _) in MACHINES.items() for s in states])
def test_every_action_in_this_state(cast, kind, state):
    table, _states, actions = MACHINES[kind]
    for period, action in zip(PERIODS, actions):
        report_id = report_in_state(cast, kind, state, period)
        before = db_state()
        response = _call(cast, kind, action, report_id)
        allowed = (ReportState(state), action) in table
        if state == "draft" and action not in ("edit", "submit"):
            # A reviewer cannot see another unit's draft at all.
            assert response.status_code == 404, (kind, state, action)
            assert db_state() == before
        elif allowed:
            assert response.status_code == 200, (kind, state, action, response.get_json())
            assert response.get_json()["state"] == table[(ReportState(state), action)].value
            assert report_row(report_id).state is table[(ReportState(state), action)]
        else:
            assert response.status_code == 409, (kind, state, action, response.get_json())
            body = response.get_json()
            assert body["error"] == "invalid_transition" and body["message"].startswith("当前状态为“"), body
            assert db_state() == before, (kind, state, action)
