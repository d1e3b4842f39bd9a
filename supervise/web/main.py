"""The plan, its tasks and units, and each role's home page."""
from __future__ import annotations

from collections import Counter

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .. import db
from ..errors import DomainError, NotFound
from ..models import Plan, PlanStatus, Section, Task, TaskState, TaskUnit, Unit, UnitRole
from ..policy import authorize, can, home_endpoint, published_plan_ids
from ..services import plans as plan_service
from ..services.work import leads_to_confirm
from ..services import units as unit_service
from . import acting_user
from .forms import TaskUnitForm
from .tasks import make_unit_form, task_context

bp = Blueprint("main", __name__)


def _plans_with_tasks():
    return list(
        db.session.scalars(
            select(Plan)
            .options(
                selectinload(Plan.sections)
                .selectinload(Section.tasks)
                .selectinload(Task.units)
                .joinedload(TaskUnit.unit),
                selectinload(Plan.sections).selectinload(Section.tasks).selectinload(Task.targets),
            )
            .where(Plan.status == PlanStatus.PUBLISHED)
            .order_by(Plan.issued_on.desc(), Plan.id.desc())
        )
    )


@bp.route("/")
def home():
    user = current_user
    if not (can(user, "plan.view")):
        endpoint = home_endpoint(user)
        if endpoint != "main.home":
            return redirect(url_for(endpoint))
        raise NotFound()
    plans = _plans_with_tasks()
    tasks = [t for p in plans for t in p.tasks]
    state_counts = Counter(t.state for t in tasks)
    my_tasks: list[tuple[Task, TaskUnit]] = []
    if can(user, "report.file"):  # the tasks of the user's unit
        for task in tasks:
            for tu in task.units:
                if tu.unit_id == user.unit_id:
                    my_tasks.append((task, tu))
    # The same list as the coordinator's 我的待办 (待决定 · 确认牵头单位).
    unconfirmed = leads_to_confirm() if can(user, "task.assign_units") else []
    return render_template(
        "main/home.html",
        plans=plans,
        tasks=tasks,
        state_counts=state_counts,
        TaskState=TaskState,
        my_tasks=my_tasks,
        unconfirmed=unconfirmed,
    )


@bp.route("/plans")
def plans():
    authorize(current_user, "plan.view")
    return render_template("main/plans.html", plans=plan_service.list_plans(current_user, include_drafts=True))


@bp.route("/plans/<int:plan_id>")
def plan(plan_id: int):
    outline = plan_service.plan_outline(current_user, plan_id)  # 404 for what the user may not see
    if outline.plan.is_draft:
        return redirect(url_for("plan_admin.review", plan_id=plan_id))
    return render_template("main/plan.html", plan=outline.plan, sections=outline.sections)


@bp.route("/tasks/<int:task_id>", methods=["GET", "POST"])
def task(task_id: int):
    task = plan_service.get_task(current_user, task_id)
    if can(current_user, "task.assign_units", task):
        if request.method == "POST":
            form = make_unit_form(bound=True, task=task)
            if form.validate_on_submit():
                try:
                    _change_units(task, form)
                except DomainError as exc:
                    db.session.rollback()
                    form.unit_id.errors.append(exc.message)
                else:
                    flash("责任单位已更新", "success")
                    return redirect(url_for("main.task", task_id=task.id))
            return render_template("main/task.html", **task_context(task, unit_form=form)), 400
    elif request.method == "POST":
        authorize(current_user, "task.assign_units", task)
    return render_template("main/task.html", **task_context(task))


def _change_units(task: Task, form: TaskUnitForm) -> None:
    reason = (form.reason.data or "").strip()
    if form.action.data == "set_lead":
        plan_service.set_lead_unit(acting_user(), task, form.unit_id.data, reason=reason)
    elif form.action.data == "add":
        plan_service.add_task_unit(acting_user(), task, form.unit_id.data, reason=reason)
    else:
        plan_service.remove_task_unit(acting_user(), task, form.unit_id.data, reason=reason)


@bp.route("/units")
def units():
    authorize(current_user, "unit.view")
    all_units = list(db.session.scalars(select(Unit).order_by(Unit.kind, Unit.sort_order, Unit.id)))
    return render_template("main/units.html", units=all_units)


@bp.route("/units/<int:unit_id>")
def unit(unit_id: int):
    unit = unit_service.get_unit(current_user, unit_id)
    rows = []
    if can(current_user, "task.view"):
        rows = list(
            db.session.execute(
                select(Task, TaskUnit)
                .join(TaskUnit, TaskUnit.task_id == Task.id)
                .where(TaskUnit.unit_id == unit.id, Task.plan_id.in_(published_plan_ids()))
                .options(selectinload(Task.units).joinedload(TaskUnit.unit))
                .order_by(Task.plan_id, Task.number)
            ).all()
        )
    lead = [(t, tu) for t, tu in rows if tu.role is UnitRole.LEAD]
    co = [(t, tu) for t, tu in rows if tu.role is UnitRole.CO]
    return render_template("main/unit.html", unit=unit, lead=lead, co=co)
