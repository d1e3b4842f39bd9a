"""Plans and tasks: GET /plans, /tasks, /tasks/<id>, /tasks/<id>/periods."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from flask import jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from ... import db
from ...errors import ValidationError
from ...domain.clock import today
from ...domain.lights import light_for
from ...models import ExtensionRequest, Milestone, Report, ReportKind, Task, TaskState, TaskUnit
from ...domain.obligations import contribution_due_on, obligations
from ...domain.periods import resolve_period
from ...policy import authorize, visible_reports
from ...serialize import (
    extension_dict,
    iso,
    milestone_dict,
    number,
    period_dict,
    plan_dict,
    report_summary_dict,
    task_dict,
    unit_ref,
)
from ...services import plans as plan_service
from ...services import tasks as task_service
from ...domain.workdays import WorkdayCalendar
from .. import acting_user
from . import bp, int_arg


@bp.get("/plans")
def plans():
    return jsonify([plan_dict(p) for p in plan_service.list_plans(acting_user())])


@bp.get("/tasks")
def tasks():
    """Every task the caller may see, optionally filtered by plan, state or unit."""
    user = acting_user()
    authorize(user, "task.view")
    query = (
        select(Task)
        .options(selectinload(Task.units).joinedload(TaskUnit.unit), selectinload(Task.targets))
        .order_by(Task.plan_id, Task.number)
    )
    if (plan_id := int_arg("plan_id")) is not None:
        query = query.where(Task.plan_id == plan_id)
    if (unit_id := int_arg("unit_id")) is not None:
        query = query.where(Task.units.any(TaskUnit.unit_id == unit_id))
    if state := request.args.get("state"):
        try:
            query = query.where(Task.state == TaskState(state))
        except ValueError:
            valid = "、".join(s.value for s in TaskState)
            raise ValidationError(f"未知的任务状态“{state}”,可选:{valid}", field_errors={"state": "未知状态"}) from None
    return jsonify([_task_summary(t) for t in db.session.scalars(query)])


def _task_summary(task: Task) -> dict[str, Any]:
    data = task_dict(task, with_text=False)
    data["plan_id"] = task.plan_id
    data["state_label"] = task.state.label
    return data


@bp.get("/tasks/<int:task_id>")
def task(task_id: int):
    """A task with its units and their roles, targets and progress, state,
    milestones and deadline extensions."""
    return jsonify(task_detail(plan_service.get_task(acting_user(), task_id)))


def task_detail(task: Task) -> dict[str, Any]:
    data = task_dict(task)
    data.update(
        {
            "plan_id": task.plan_id,
            "state_label": task.state.label,
            "section": {"number": task.section.number, "title": task.section.title},
            "original_deadline": iso(task.original_deadline),
            "version": task.version,
            "progress": [_progress_dict(row) for row in task_service.target_progress(task)],
            "milestones": [
                milestone_dict(m)
                for m in db.session.scalars(
                    select(Milestone).where(Milestone.task_id == task.id).order_by(Milestone.due_on, Milestone.id)
                )
            ],
            "extensions": [
                extension_dict(e)
                for e in db.session.scalars(
                    select(ExtensionRequest).where(ExtensionRequest.task_id == task.id).order_by(ExtensionRequest.id)
                )
            ],
        }
    )
    return data


def _progress_dict(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "target_id": row["target"].id,
        "target": number(row["target"].value),
        "baseline": number(row["baseline"]),
        "value": number(row["value"]),
        "share": row["share"],
        "units": [
            {"unit": unit_ref(u["unit"]), "allocation": number(u["allocation"]), "value": number(u["value"]),
             "share": u["share"]}
            for u in row["units"]
        ],
    }


@bp.get("/tasks/<int:task_id>/periods")
def task_periods(task_id: int):
    """Each reporting period of the task: its due dates, who owes what, and
    the lead report and contributions in it that the caller may see."""
    user = acting_user()
    task = plan_service.get_task(user, task_id)
    periods = list(task.plan.periods)
    if code := request.args.get("period"):
        periods = [resolve_period(db.session(), task.plan, code)]
    calendar = WorkdayCalendar.load(db.session())
    now = today()
    reports = list(
        db.session.scalars(
            select(Report)
            .options(joinedload(Report.unit), joinedload(Report.period))
            .where(Report.task_id == task.id, Report.period_id.in_([p.id for p in periods]), visible_reports(user))
            .order_by(Report.id)
        )
    )
    visible_ids = {r.id for r in reports}
    by_period: dict[int, list[Report]] = defaultdict(list)
    for r in reports:
        by_period[r.period_id].append(r)
    owed: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for ob in obligations(db.session(), periods, calendar, task_ids=[task.id]):
        owed[ob.period.id].append(
            {
                "unit": unit_ref(ob.task_unit.unit),
                "kind": ob.kind.value,
                "due_on": iso(ob.due_on),
                "done": ob.is_done,
                "light": light_for(task.plan, ob.due_on, now, calendar, done=ob.is_done).value,
                # Another unit's draft is private: its existence is not shown.
                "report_id": ob.report.id if ob.report is not None and ob.report.id in visible_ids else None,
            }
        )
    result = []
    for period in periods:
        in_period = by_period[period.id]
        lead = next((r for r in in_period if r.kind is ReportKind.LEAD_REPORT), None)
        result.append(
            {
                **period_dict(period),
                "contribution_due_on": iso(contribution_due_on(period, calendar)),
                "report": report_summary_dict(lead) if lead else None,
                "contributions": [report_summary_dict(r) for r in in_period if r.kind is ReportKind.CONTRIBUTION],
                "owed": owed[period.id],
            }
        )
    return jsonify(result)
