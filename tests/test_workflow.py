"""Every (state, action) pair of every state machine: allowed pairs move to
the table's state, every other pair is refused and changes nothing."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from supervise import workflow
from supervise.db import session, unit_of_work
from supervise.errors import InvalidTransition, PermissionDenied, ValidationError
from supervise.models import (
    AuditEntry,
    ExtensionRequest,
    ExtensionState,
    Milestone,
    MilestoneState,
    Plan,
    PlanStatus,
    Report,
    ReportKind,
    ReportState,
    Task,
    TaskState,
)

from .factories import make_draft_plan

MACHINES = [
    (lambda s: Task(state=s), TaskState, workflow.TASK_TRANSITIONS),
    (lambda s: Report(kind=ReportKind.LEAD_REPORT, state=s), ReportState, workflow.LEAD_REPORT_TRANSITIONS),
    (lambda s: Report(kind=ReportKind.CONTRIBUTION, state=s), ReportState, workflow.CONTRIBUTION_TRANSITIONS),
    (lambda s: Milestone(state=s), MilestoneState, workflow.MILESTONE_TRANSITIONS),
    (lambda s: ExtensionRequest(state=s), ExtensionState, workflow.EXTENSION_TRANSITIONS),
    (lambda s: Plan(status=s), PlanStatus, workflow.PLAN_TRANSITIONS),
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
        assert workflow.machine_for(item).state_of(item) is state
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
              ExtensionState.GRANTED, ExtensionState.REFUSED, PlanStatus.PUBLISHED}
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


@pytest.fixture
def draft_plan(make_task):
    """A quarterly 2025 draft with one task whose lead is settled: ready to publish."""
    plan = make_draft_plan("测试〔2025〕7号", date(2025, 1, 1), date(2025, 12, 31))
    make_task(plan=plan)
    session().expire_all()  # Plan.tasks is view-only: read it afresh
    return plan.id


def _publish_entries(plan_id: int) -> list[AuditEntry]:
    return list(session().scalars(select(AuditEntry).where(AuditEntry.action == "plan.publish",
                                                           AuditEntry.object_id == plan_id)))


def test_publishing_a_plan_is_a_transition_audited_once(draft_plan, make_user):
    from supervise.services.plans import publish_plan

    coordinator = make_user("coordinator")
    with unit_of_work() as sess:
        publish_plan(coordinator, sess.get(Plan, draft_plan), first_period="2025Q3", today=date(2025, 8, 1))
    plan = session().get(Plan, draft_plan)
    assert plan.status is PlanStatus.PUBLISHED and [p.code for p in plan.periods] == ["2025Q3", "2025Q4"]
    [entry] = _publish_entries(draft_plan)
    assert (entry.from_state, entry.to_state, entry.actor_id) == ("draft", "published", coordinator.id)
    assert entry.detail["first_period"] == "2025Q3" and entry.detail["tasks"] == 1
    # The machine has no way back or round again: a second publish is refused and writes nothing.
    assert workflow.allowed_actions(plan) == set()
    with pytest.raises(ValidationError, match="该计划已发布"), unit_of_work() as sess:
        publish_plan(coordinator, sess.get(Plan, draft_plan))
    assert len(_publish_entries(draft_plan)) == 1


def test_only_who_manages_plans_may_publish(draft_plan, make_user):
    from supervise.services.plans import publish_plan

    for role in ("liaison", "leader"):
        with pytest.raises(PermissionDenied), unit_of_work() as sess:
            publish_plan(make_user(role, unit="省经信厅"), sess.get(Plan, draft_plan), today=date(2025, 8, 1))
    plan = session().get(Plan, draft_plan)
    assert plan.status is PlanStatus.DRAFT and plan.periods == [] and _publish_entries(draft_plan) == []
