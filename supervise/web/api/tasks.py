"""Plans and tasks: GET /plans, /plans/<id>, /tasks, /tasks/<id>, /tasks/<id>/periods."""
from __future__ import annotations

from typing import Any

from flask import jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ... import db
from ...errors import ValidationError
from ...domain.clock import today
from ...models import Task, TaskState, TaskUnit
from ...policy import authorize, published_plan_ids
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
from ...services.task_view import PeriodView, TaskView, task_view
from .. import acting_user
from . import bp, int_arg


@bp.get("/plans")
def plans():
    return jsonify([plan_dict(p) for p in plan_service.list_plans(acting_user())])


@bp.get("/plans/<int:plan_id>")
def plan(plan_id: int):
    """A draft only for those who may see it (policy), as on the plan's page."""
    return jsonify(plan_dict(plan_service.get_plan(acting_user(), plan_id)))


@bp.get("/tasks")
def tasks():
    """Every task the caller may see, optionally filtered by plan, state or unit."""
    user = acting_user()
    authorize(user, "task.view")
    query = (
        select(Task)
        .options(selectinload(Task.units).joinedload(TaskUnit.unit), selectinload(Task.targets))
        .where(Task.plan_id.in_(published_plan_ids()))  # a draft's tasks are not work yet
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
    milestones, deadline extensions and what the caller may do: the read
    model the task page renders too."""
    return jsonify(task_detail(detail_view(acting_user(), task_id)))


def detail_view(user, task_id: int) -> TaskView:
    """The read model as far as `task_detail` shows it: no periods (those
    are /tasks/<id>/periods) and no history."""
    return task_view(user, task_id, today(), periods="none", history=False)


def task_detail(view: TaskView) -> dict[str, Any]:
    task = view.task
    data = task_dict(task)
    data.update(
        {
            "plan_id": task.plan_id,
            "state_label": task.state.label,
            "section": {"number": task.section.number, "title": task.section.title},
            "original_deadline": iso(task.original_deadline),
            "version": task.version,
            "progress": [_progress_dict(row) for row in view.progress],
            "milestones": [milestone_dict(mv.milestone) for mv in view.milestones],
            "extensions": [extension_dict(e) for e in sorted(view.extensions, key=lambda e: e.id)],
            "actions": sorted(view.actions),
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
    """Each reporting period of the task: its due dates, who owes what with
    its light, and the lead report and contributions in it that the caller
    may see -- the task page's read model."""
    view = task_view(acting_user(), task_id, today(), period_code=request.args.get("period"))
    return jsonify([_period_json(p) for p in view.periods])


def _period_json(p: PeriodView) -> dict[str, Any]:
    return {
        **period_dict(p.period),
        "contribution_due_on": iso(p.contribution_due_on),
        "report": report_summary_dict(p.lead_report) if p.lead_report else None,
        "contributions": [report_summary_dict(r) for r in p.contributions],
        "owed": [
            {
                "unit": unit_ref(item.unit),
                "kind": item.kind.value,
                "due_on": iso(item.due_on),
                "done": item.is_done,
                "light": item.light.value,
                # Another unit's draft is private: its existence is not shown.
                "report_id": item.report.id if item.report is not None else None,
            }
            for item in p.items
            if item.is_owed
        ],
    }
