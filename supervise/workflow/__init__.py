"""The state machines. Every state change of a plan, task, report,
contribution, milestone or extension request goes through `transition()`,
driven by the tables below, and writes one audit row.

A table maps (state, action) to the next state. Anything not in the table is
refused with InvalidTransition (HTTP 409) and changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import audit
from ..errors import InvalidTransition, ValidationError
from ..models import (
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
    User,
)

P = PlanStatus
T = TaskState
R = ReportState
M = MilestoneState
E = ExtensionState

# A draft owes nothing and is seen by coordinators only; publishing it is
# final (a published plan is changed task by task, never unpublished).
PLAN_TRANSITIONS: dict[tuple[PlanStatus, str], PlanStatus] = {
    (P.DRAFT, "publish"): P.PUBLISHED,
}

TASK_TRANSITIONS: dict[tuple[TaskState, str], TaskState] = {
    (T.NOT_STARTED, "start"): T.IN_PROGRESS,  # the first report is submitted
    (T.IN_PROGRESS, "request_close"): T.CLOSING_REQUESTED,
    (T.CLOSING_REQUESTED, "approve_close"): T.CLOSED,
    (T.CLOSING_REQUESTED, "reject_close"): T.IN_PROGRESS,
    (T.NOT_STARTED, "suspend"): T.SUSPENDED,
    (T.IN_PROGRESS, "suspend"): T.SUSPENDED,
    (T.CLOSING_REQUESTED, "suspend"): T.SUSPENDED,
    (T.SUSPENDED, "resume"): T.IN_PROGRESS,
}

LEAD_REPORT_TRANSITIONS: dict[tuple[ReportState, str], ReportState] = {
    (R.DRAFT, "edit"): R.DRAFT,
    (R.DRAFT, "submit"): R.SUBMITTED,
    (R.SUBMITTED, "approve"): R.APPROVED,
    (R.SUBMITTED, "return"): R.RETURNED,
    (R.RETURNED, "edit"): R.RETURNED,
    (R.RETURNED, "submit"): R.SUBMITTED,
    (R.APPROVED, "reopen"): R.RETURNED,
}

CONTRIBUTION_TRANSITIONS: dict[tuple[ReportState, str], ReportState] = {
    (R.DRAFT, "edit"): R.DRAFT,
    (R.DRAFT, "submit"): R.SUBMITTED,
    (R.SUBMITTED, "accept"): R.ACCEPTED,
    (R.SUBMITTED, "return"): R.RETURNED,
    (R.RETURNED, "edit"): R.RETURNED,
    (R.RETURNED, "submit"): R.SUBMITTED,
}

MILESTONE_TRANSITIONS: dict[tuple[MilestoneState, str], MilestoneState] = {
    (M.PROPOSED, "confirm"): M.CONFIRMED,
    (M.CONFIRMED, "mark_done"): M.DONE_CLAIMED,
    (M.DONE_CLAIMED, "accept_done"): M.COMPLETED,
    (M.DONE_CLAIMED, "reject_done"): M.CONFIRMED,
}

EXTENSION_TRANSITIONS: dict[tuple[ExtensionState, str], ExtensionState] = {
    (E.PENDING, "grant"): E.GRANTED,
    (E.PENDING, "refuse"): E.REFUSED,
}

# Actions that need a reason from the person taking them.
REASON_REQUIRED = {"return", "reopen", "suspend", "resume", "reject_close", "reject_done", "refuse", "request_close"}

ACTION_LABELS = {
    "start": "启动", "request_close": "申请办结", "approve_close": "同意办结", "reject_close": "不同意办结",
    "suspend": "暂缓", "resume": "恢复", "edit": "修改", "submit": "报送", "approve": "审核通过",
    "return": "退回", "reopen": "重新打开", "accept": "采纳", "confirm": "确认", "mark_done": "申请验收",
    "accept_done": "验收通过", "reject_done": "验收不通过", "grant": "同意延期", "refuse": "不同意延期",
    "publish": "发布",
}



@dataclass(frozen=True)
class Machine:
    name: str  # used in audit rows: "task", "report", "contribution", ...
    table: dict[tuple[Any, str], Any]
    # The attribute holding the state: a plan's is `status`, as its column is named.
    attribute: str = "state"

    def state_of(self, item: Any) -> Any:
        return getattr(item, self.attribute)


PLAN = Machine("plan", PLAN_TRANSITIONS, attribute="status")
TASK = Machine("task", TASK_TRANSITIONS)
LEAD_REPORT = Machine("report", LEAD_REPORT_TRANSITIONS)
CONTRIBUTION = Machine("contribution", CONTRIBUTION_TRANSITIONS)
MILESTONE = Machine("milestone", MILESTONE_TRANSITIONS)
EXTENSION = Machine("extension", EXTENSION_TRANSITIONS)


def machine_for(item: Any) -> Machine:
    if isinstance(item, Plan):
        return PLAN
    if isinstance(item, Task):
        return TASK
    if isinstance(item, Report):
        return LEAD_REPORT if item.kind is ReportKind.LEAD_REPORT else CONTRIBUTION
    if isinstance(item, Milestone):
        return MILESTONE
    if isinstance(item, ExtensionRequest):
        return EXTENSION
    raise TypeError(f"no state machine for {type(item).__name__}")


def allowed_actions(item: Any) -> set[str]:
    machine = machine_for(item)
    current = machine.state_of(item)
    return {action for (state, action) in machine.table if state == current}


def next_state(item: Any, action: str):
    machine = machine_for(item)
    current = machine.state_of(item)
    try:
        return machine.table[(current, action)]
    except KeyError:
        label = ACTION_LABELS.get(action, action)
        state_label = getattr(current, "label", current.value)
        raise InvalidTransition(f"当前状态为“{state_label}”,不能执行“{label}”操作") from None


def transition(
    item: Any,
    action: str,
    actor: User | None,
    *,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
):
    """Move `item` along its state machine and audit it; returns the new state.
    The caller has already checked permission (policy) and the business rules."""

    new_state = next_state(item, action)
    reason = (reason or "").strip() or None
    if action in REASON_REQUIRED and not reason:
        raise ValidationError(
            f"“{ACTION_LABELS.get(action, action)}”需要填写原因", field_errors={"reason": "请填写原因"}
        )
    machine = machine_for(item)
    old_state = machine.state_of(item)
    setattr(item, machine.attribute, new_state)
    task_id = item.id if isinstance(item, Task) else getattr(item, "task_id", None)
    audit.record(
        actor,
        f"{machine.name}.{action}",
        obj=item,
        task_id=task_id,
        from_state=old_state.value,
        to_state=new_state.value,
        reason=reason,
        detail=detail,
    )
    return new_state
