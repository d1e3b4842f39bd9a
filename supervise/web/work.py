"""我的待办: what the logged-in user has to do next, by role."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from .. import db
from ..domain.clock import today
from ..errors import DomainError, ValidationError
from ..policy import authorize
from ..services import plans as plan_service
from ..services.work import WorkFilters, WorkGroup, work_view
from . import acting_user

bp = Blueprint("work", __name__)


@bp.get("/work")
def index():
    user = acting_user()
    try:
        filters = WorkFilters.parse(request.args)
    except DomainError as exc:
        flash(exc.message, "error")
        filters = WorkFilters()
    view = work_view(user, today(), filters)  # authorizes "work.view"
    return render_template("work/index.html", view=view, WorkGroup=WorkGroup)


@bp.post("/work/leads/<int:task_id>/confirm")
def confirm_lead(task_id: int):
    """One click: the proposed lead unit becomes the confirmed lead."""
    user = acting_user()
    task = plan_service.get_task(user, task_id)
    authorize(user, "task.assign_units", task)  # 403 before anything else
    back = request.form.get("next") or ""
    if not back.startswith("/") or back.startswith("//"):
        back = url_for("work.index", state="decide")
    try:
        if task.lead is None:
            raise ValidationError("该任务没有建议的牵头单位,请在任务页指定")
        plan_service.set_lead_unit(user, task, task.lead.unit_id, reason="确认系统建议的牵头单位")
    except ValidationError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(back)
    flash(f"已确认任务{task.number}由{task.lead.unit.short_name}牵头", "success")
    return redirect(back)
