"""Every (state, action) pair of every state machine: allowed pairs move to
the table's state, every other pair is refused and changes nothing."""
from __future__ import annotations

import pytest

from supervise import workflow
from supervise.errors import InvalidTransition
from supervise.models import (
    ExtensionRequest,
    ExtensionState,
    Milestone,
    MilestoneState,
    Report,
    ReportKind,
    ReportState,
    Task,
    TaskState,
)

MACHINES = [
    (lambda s: Task(state=s), TaskState, workflow.TASK_TRANSITIONS),
    (lambda s: Report(kind=ReportKind.LEAD_REPORT, state=s), ReportState, workflow.LEAD_REPORT_TRANSITIONS),
    (lambda s: Report(kind=ReportKind.CONTRIBUTION, state=s), ReportState, workflow.CONTRIBUTION_TRANSITIONS),
    (lambda s: Milestone(state=s), MilestoneState, workflow.MILESTONE_TRANSITIONS),
    (lambda s: ExtensionRequest(state=s), ExtensionState, workflow.EXTENSION_TRANSITIONS),
]


def _pairs():
    for make, states, table in MACHINES:
        actions = sorted({action for (_state, action) in table})
        for state in states:
            for action in actions:
                yield pytest.param(make, state, action, table, id=f"{states.__name__}-{state.value}-{action}")


@pytest.mark.parametrize("make, state, action, table", list(_pairs()))
def test_every_state_action_pair(make, state, action, table):
    item = make(state)
    expected = table.get((state, action))
    if expected is None:
        with pytest.raises(InvalidTransition) as exc:
            workflow.next_state(item, action)
        assert "不能执行" in exc.value.message
        assert item.state is state
    else:
        assert workflow.next_state(item, action) is expected
        assert action in workflow.allowed_actions(item)


def test_contributions_are_never_approved_and_lead_reports_never_accepted():
    assert (ReportState.SUBMITTED, "approve") not in workflow.CONTRIBUTION_TRANSITIONS
    assert (ReportState.SUBMITTED, "accept") not in workflow.LEAD_REPORT_TRANSITIONS


def test_approved_report_is_locked_except_reopen():
    item = Report(kind=ReportKind.LEAD_REPORT, state=ReportState.APPROVED)
    assert workflow.allowed_actions(item) == {"reopen"}


def test_every_state_can_be_reached_and_left_or_is_final():
    finals = {TaskState.CLOSED, ReportState.ACCEPTED, ReportState.APPROVED, MilestoneState.COMPLETED,
              ExtensionState.GRANTED, ExtensionState.REFUSED}
    for make, states, table in MACHINES:
        targets = set(table.values()) | {list(states)[0]}
        for state in states:
            leaves = any(s == state for (s, _a) in table)
            if states is ReportState and make(state).kind is ReportKind.CONTRIBUTION and state is ReportState.APPROVED:
                continue
            if states is ReportState and make(state).kind is ReportKind.LEAD_REPORT and state is ReportState.ACCEPTED:
                continue
            assert state in targets, state
            assert leaves or state in finals, state
