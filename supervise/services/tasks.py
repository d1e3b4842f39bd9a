"""A task's lifecycle (办结, 暂缓, 延期), its milestones and the split of its
targets among its units."""
from __future__ import annotations

import functools
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import bindparam, inspect, select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from .. import workflow
from ..db import session, utcnow
from ..serialize import decimal_text
from ..errors import Conflict, NotFound, ValidationError
from ..models import (
    Evidence,
    ExtensionRequest,
    ExtensionState,
    Milestone,
    Report,
    ReportKind,
    ReportState,
    ReportValue,
    Target,
    TargetAllocation,
    Task,
    User,
)
from ..policy import authorize, can
from . import audit, notifications
from .reports import _reason


def _check_task_version(task: Task, expected_version: int | None) -> None:
    if expected_version is not None and int(expected_version) != task.version:
        raise Conflict("该任务已被他人修改,请刷新后再操作")


def _notify_lead(task: Task, kind: str, title: str, body: str = "") -> None:
    if task.lead is not None:
        notifications.notify(notifications.liaisons_of(task.lead.unit_id), kind, title, body=body,
                             link=f"/tasks/{task.id}", task_id=task.id)


# --- closing and suspension -------------------------------------------------------


def request_close(actor: User, task: Task, reason: Any, *, expected_version: int | None = None) -> Task:
    """The lead asks to close the task (申请办结); evidence is required."""
    authorize(actor, "task.request", task)
    _check_task_version(task, expected_version)
    has_evidence = session().scalar(
        select(Evidence.id).where(Evidence.task_id == task.id, Evidence.report_id.is_(None), Evidence.milestone_id.is_(None))
    )
    if not has_evidence:
        raise ValidationError("申请办结需上传佐证材料", field_errors={"file": "请先上传佐证材料"})
    workflow.transition(task, "request_close", actor, reason=_reason(reason))
    session().flush()
    notifications.notify(notifications.coordinators(), "task.close_requested",
                         f"{actor.unit.short_name} 申请办结任务{task.number}“{task.title}”",
                         link=f"/tasks/{task.id}", task_id=task.id)
    return task


def decide_close(actor: User, task: Task, agree: bool, reason: Any = None, *, expected_version: int | None = None) -> Task:
    authorize(actor, "task.decide", task)
    _check_task_version(task, expected_version)
    if agree:
        workflow.transition(task, "approve_close", actor, reason=reason if isinstance(reason, str) else None)
        _notify_lead(task, "task.closed", f"任务{task.number}“{task.title}”已办结")
    else:
        reason = _reason(reason)
        workflow.transition(task, "reject_close", actor, reason=reason)
        _notify_lead(task, "task.close_rejected", f"任务{task.number}的办结申请未获同意", body=f"原因:{reason}")
    session().flush()
    return task


def suspend_task(actor: User, task: Task, reason: Any, *, expected_version: int | None = None) -> Task:
    authorize(actor, "task.decide", task)
    _check_task_version(task, expected_version)
    workflow.transition(task, "suspend", actor, reason=_reason(reason))
    session().flush()
    _notify_lead(task, "task.suspended", f"任务{task.number}已暂缓", body=f"原因:{reason}")
    return task


def resume_task(actor: User, task: Task, reason: Any, *, expected_version: int | None = None) -> Task:
    authorize(actor, "task.decide", task)
    _check_task_version(task, expected_version)
    workflow.transition(task, "resume", actor, reason=_reason(reason))
    session().flush()
    _notify_lead(task, "task.resumed", f"任务{task.number}已恢复推进")
    return task


# --- deadline extensions ------------------------------------------------------------


def request_extension(actor: User, task: Task, new_deadline: Any, reason: Any, *, today: date) -> ExtensionRequest:
    """申请延期: before the deadline, with a reason and a later date."""
    authorize(actor, "task.request", task)
    reason = _reason(reason)
    if not isinstance(new_deadline, date):
        try:
            new_deadline = date.fromisoformat(str(new_deadline))
        except ValueError:
            raise ValidationError("新的完成时限格式应为 YYYY-MM-DD", field_errors={"new_deadline": "日期格式错误"}) from None
    if task.deadline is None:
        raise ValidationError("该任务没有完成时限,无需延期")
    if today > task.deadline:
        raise ValidationError("已超过完成时限,不能再申请延期", field_errors={"new_deadline": "已超过完成时限"})
    if new_deadline <= task.deadline:
        raise ValidationError("新的完成时限必须晚于当前时限", field_errors={"new_deadline": "必须晚于当前时限"})
    pending = session().scalar(
        select(ExtensionRequest).where(ExtensionRequest.task_id == task.id, ExtensionRequest.state == ExtensionState.PENDING)
    )
    if pending is not None:
        raise Conflict("已有待审批的延期申请")
    request = ExtensionRequest(task_id=task.id, requested_by_id=actor.id, reason=reason,
                               old_deadline=task.deadline, new_deadline=new_deadline)
    session().add(request)
    session().flush()
    audit.record(actor, "extension.request", obj=request, task_id=task.id, to_state="pending", reason=reason,
                 detail={"old_deadline": task.deadline.isoformat(), "new_deadline": new_deadline.isoformat()})
    notifications.notify(notifications.coordinators(), "extension.requested",
                         f"{actor.unit.short_name} 申请将任务{task.number}的完成时限延至 {new_deadline}",
                         link=f"/tasks/{task.id}", task_id=task.id)
    return request


def decide_extension(actor: User, request: ExtensionRequest, grant: bool, reason: Any = None, *,
                     expected_version: int | None = None) -> ExtensionRequest:
    """`expected_version` is the task's version the decider saw (page or API):
    a task changed meanwhile is a Conflict (409), not a decision on stale facts."""
    task = request.task
    authorize(actor, "extension.decide", request)
    _check_task_version(task, expected_version)
    if grant:
        workflow.transition(request, "grant", actor, reason=reason if isinstance(reason, str) else None)
        if task.original_deadline is None:
            task.original_deadline = task.deadline
        task.deadline = request.new_deadline
    else:
        workflow.transition(request, "refuse", actor, reason=_reason(reason))
    request.decided_by_id, request.decided_at = actor.id, utcnow()
    request.decision_reason = reason if isinstance(reason, str) and reason.strip() else None
    session().flush()
    _notify_lead(task, "extension.decided",
                 f"任务{task.number}的延期申请{'已同意' if grant else '未获同意'}")
    return request


def get_extension(actor: User, extension_id: int) -> ExtensionRequest:
    """The request, if `actor` may see its task; 404 otherwise."""
    authorize(actor, "task.view")  # 403 for whom tasks are not for at all
    request = session().get(ExtensionRequest, extension_id)
    if request is None or not can(actor, "task.view", request.task):
        raise NotFound("未找到该延期申请")
    return request


# --- milestones ------------------------------------------------------------------------


def propose_milestone(actor: User, task: Task, title: Any, due_on: Any) -> Milestone:
    authorize(actor, "milestone.propose", task)
    title = title.strip() if isinstance(title, str) else ""
    if not title:
        raise ValidationError("请填写节点名称", field_errors={"title": "请填写节点名称"})
    if len(title) > 200:
        raise ValidationError("节点名称不能超过 200 字", field_errors={"title": "内容过长"})
    if not isinstance(due_on, date):
        try:
            due_on = date.fromisoformat(str(due_on))
        except ValueError:
            raise ValidationError("完成日期格式应为 YYYY-MM-DD", field_errors={"due_on": "日期格式错误"}) from None
    milestone = Milestone(task_id=task.id, title=title, due_on=due_on, proposed_by_id=actor.id)
    session().add(milestone)
    session().flush()
    audit.record(actor, "milestone.propose", obj=milestone, task_id=task.id, to_state="proposed",
                 detail={"title": title, "due_on": due_on.isoformat()})
    notifications.notify(notifications.coordinators(), "milestone.proposed",
                         f"任务{task.number}新增节点“{title}”待确认", link=f"/tasks/{task.id}", task_id=task.id)
    return milestone


def get_milestone(actor: User, milestone_id: int) -> Milestone:
    """The milestone, if `actor` may see its task; 404 otherwise."""
    authorize(actor, "task.view")  # 403 for whom tasks are not for at all
    milestone = session().get(Milestone, milestone_id)
    if milestone is None or not can(actor, "task.view", milestone.task):
        raise NotFound("未找到该节点")
    return milestone


def get_target(actor: User, target_id: int) -> Target:
    """A task's target, if `actor` may see the task; 404 otherwise."""
    authorize(actor, "task.view")  # 403 for whom tasks are not for at all
    target = session().get(Target, target_id)
    if target is None or target.task is None or not can(actor, "task.view", target.task):
        raise NotFound("未找到该指标")
    return target


def _check_milestone_version(milestone: Milestone, expected_version: int | None) -> None:
    if expected_version is not None and int(expected_version) != milestone.version:
        raise Conflict("该节点已被他人修改,请刷新后再操作")


def confirm_milestone(actor: User, milestone: Milestone, *, expected_version: int | None = None) -> Milestone:
    authorize(actor, "milestone.decide", milestone)
    _check_milestone_version(milestone, expected_version)
    workflow.transition(milestone, "confirm", actor)
    session().flush()
    return milestone


def mark_milestone_done(
    actor: User, milestone: Milestone, note: Any = "", *, expected_version: int | None = None
) -> Milestone:
    authorize(actor, "milestone.propose", milestone)
    _check_milestone_version(milestone, expected_version)
    workflow.next_state(milestone, "mark_done")  # the state is checked before the evidence
    if not milestone.evidence:
        raise ValidationError("请先上传节点完成的佐证材料", field_errors={"file": "请上传佐证材料"})
    workflow.transition(milestone, "mark_done", actor, reason=note if isinstance(note, str) else None)
    milestone.note = note.strip() if isinstance(note, str) else ""
    session().flush()
    notifications.notify(notifications.coordinators(), "milestone.done_claimed",
                         f"任务{milestone.task.number}的节点“{milestone.title}”申请验收",
                         link=f"/tasks/{milestone.task_id}", task_id=milestone.task_id)
    return milestone


def decide_milestone(
    actor: User, milestone: Milestone, accept: bool, reason: Any = None, *, expected_version: int | None = None
) -> Milestone:
    authorize(actor, "milestone.decide", milestone)
    _check_milestone_version(milestone, expected_version)
    if accept:
        workflow.transition(milestone, "accept_done", actor)
        milestone.completed_at = utcnow()
        milestone.reject_reason = None
    else:
        reason = _reason(reason)
        workflow.transition(milestone, "reject_done", actor, reason=reason)
        milestone.reject_reason = reason
    session().flush()
    _notify_lead(milestone.task, "milestone.decided",
                 f"节点“{milestone.title}”{'验收通过' if accept else '验收未通过'}")
    return milestone


# --- target split and progress ----------------------------------------------------------


def split_target(actor: User, target: Target, shares: dict[Any, Any]) -> list[TargetAllocation]:
    """目标分解: give each responsible unit its share of a task's target."""
    authorize(actor, "target.split", target)
    if target.task is None:
        raise ValidationError("只能分解任务的指标")
    unit_ids = {tu.unit_id for tu in target.task.units}
    parsed: dict[int, Decimal] = {}
    for key, raw in (shares or {}).items():
        try:
            unit_id = int(key)
        except (TypeError, ValueError):
            raise ValidationError(f"单位编号“{key}”无效", field_errors={"shares": "单位编号无效"}) from None
        if unit_id not in unit_ids:
            raise ValidationError("只能分解给该任务的责任单位", field_errors={f"share_{unit_id}": "不是责任单位"})
        if raw in (None, ""):
            continue
        try:
            value = Decimal(str(raw).strip())
        except InvalidOperation:
            raise ValidationError(f"分解数值“{raw}”不是数字", field_errors={f"share_{unit_id}": "必须是数字"}) from None
        if not value.is_finite() or value < 0 or value >= Decimal("1e14"):
            raise ValidationError("分解数值必须是不小于 0 的有限数", field_errors={f"share_{unit_id}": "数值超出范围"})
        parsed[unit_id] = value
    if not parsed:
        raise ValidationError("请至少为一个单位填写分解数值", field_errors={"shares": "请填写分解数值"})
    before = {a.unit_id: decimal_text(a.value) for a in target.allocations}
    existing = {a.unit_id: a for a in target.allocations}
    for unit_id, value in parsed.items():
        if unit_id in existing:
            existing[unit_id].value = value
        else:
            target.allocations.append(TargetAllocation(unit_id=unit_id, value=value))
    for unit_id in set(existing) - set(parsed):
        target.allocations.remove(existing[unit_id])
    session().flush()
    total = sum(parsed.values())
    audit.record(actor, "target.split", obj=target, task_id=target.task_id,
                 detail={"before": before, "after": {str(k): decimal_text(v) for k, v in parsed.items()},
                         "total": decimal_text(total), "target": decimal_text(target.value)})
    return target.allocations


@functools.cache
def _approved_values_select():
    """approved_unit_values' statement, built once (the alias, the joins and
    the conditions cost more to build than the statement takes to run);
    the task ids are an expanding parameter."""
    from ..models import ReportingPeriod

    lead = Report.__table__.alias("lead")
    return (
        select(ReportValue.target_id, Report.unit_id, ReportValue.value)
        .join(Report, Report.id == ReportValue.report_id)
        .join(ReportingPeriod, ReportingPeriod.id == Report.period_id)
        .join(lead, (lead.c.task_id == Report.task_id) & (lead.c.period_id == Report.period_id)
              & (lead.c.kind == ReportKind.LEAD_REPORT.value))
        .where(Report.task_id.in_(bindparam("task_ids", expanding=True)), lead.c.state == ReportState.APPROVED.value,
               Report.state.in_([ReportState.APPROVED, ReportState.ACCEPTED]))
        .order_by(ReportingPeriod.ends_on)
    )


def approved_unit_values(task_ids: list[int]) -> dict[tuple[int, int], Decimal]:
    """{(target_id, unit_id): latest approved value}. A unit's value counts
    once its period's work is approved: the lead's own report approved, or a
    co-unit's contribution accepted and the lead's report of that period
    approved. One query, whatever the number of tasks."""
    rows = session().execute(_approved_values_select(), {"task_ids": list(task_ids)}).all()
    latest: dict[tuple[int, int], Decimal] = {}
    for target_id, unit_id, value in rows:
        latest[(target_id, unit_id)] = value  # ordered by period: the last one wins
    return latest


@functools.cache
def _targets_select():
    return (select(Target).where(Target.task_id == bindparam("task_id")).options(selectinload(Target.allocations))
            .order_by(Target.position))


def target_progress(task: Task) -> list[dict[str, Any]]:
    """For each of the task's targets: baseline, target, latest approved
    value and share achieved, for the task and for each unit it is split to."""
    unit_values = approved_unit_values([task.id])
    if "targets" in inspect(task).unloaded:
        # The targets with their allocations: two statements, not one more per target.
        set_committed_value(task, "targets", list(session().scalars(_targets_select(), {"task_id": task.id})))
    lead_unit_id = task.lead.unit_id if task.lead else None
    result = []
    for target in task.targets:
        per_unit = []
        for allocation in target.allocations:
            value = unit_values.get((target.id, allocation.unit_id))
            per_unit.append({"unit": allocation.unit, "allocation": allocation.value, "value": value,
                             "share": _share(value, allocation.value)})
        if target.allocations:
            values = [row["value"] for row in per_unit if row["value"] is not None]
            value = sum(values) if values else None
        else:
            value = unit_values.get((target.id, lead_unit_id)) if lead_unit_id else None
        result.append({"target": target, "baseline": target.baseline_value, "value": value,
                       "share": _share(value, target.value, target.baseline_value), "units": per_unit})
    return result


def _share(value: Decimal | None, goal: Decimal | None, baseline: Decimal | None = None) -> float | None:
    if value is None or not goal:
        return None
    base = baseline or Decimal(0)
    if goal == base:
        return None
    return float((value - base) / (goal - base))
