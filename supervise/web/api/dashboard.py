"""GET /api/v1/dashboard: the dashboard's figures (督查看板), from the same
read model as the page and the same figures as the quarterly 通报."""
from __future__ import annotations

from datetime import date
from typing import Any

from flask import jsonify, request

from ...domain.clock import today
from ...domain.lights import Light
from ...errors import ValidationError
from ...serialize import iso, task_ref, unit_ref
from ...services.dashboard import DashboardView, dashboard_view
from .. import acting_user
from . import bp, int_arg


@bp.get("/dashboard")
def dashboard():
    """Summary of one plan at the end of one period: lights, reports, targets
    against 序时进度 and what is late; `as_of` judges lights and lateness."""
    raw = (request.args.get("as_of") or "").strip()
    try:
        as_of = date.fromisoformat(raw) if raw else today()
    except ValueError:
        raise ValidationError(f"日期格式应为 YYYY-MM-DD:{raw}", field_errors={"as_of": "日期格式无效"}) from None
    plan_id = int_arg("plan")
    view = dashboard_view(acting_user(), as_of, plan_id=plan_id, period_code=request.args.get("period"))
    return jsonify(dashboard_dict(view))


def dashboard_dict(view: DashboardView) -> dict[str, Any]:
    f, data = view.figures, view.data
    return {
        "plan": {"id": view.plan.id, "document_number": view.plan.document_number, "title": view.plan.title},
        "period": view.period.code,
        "as_of": iso(view.as_of),
        "tasks": f.tasks,
        "lights": {light.value: f.lights[light] for light in Light},
        "reports": {"owed": f.reports_owed, "approved": f.reports_approved, "submitted": f.reports_submitted,
                    "returned": f.reports_returned, "missing": f.reports_missing},
        "time_share": round(f.time_share, 4),
        "sections": [
            {"number": s.number, "title": s.title, "lights": {light.value: c.lights[light] for light in Light}}
            for s, c in data.by_section
        ],
        "targets": [
            {
                "id": t.target.id, "name": t.name, "goal": t.goal_text, "measure": t.target.measure,
                "latest": None if t.latest is None else float(t.latest), "latest_period": t.latest_period,
                "share": None if t.share is None else round(t.share, 4),
                "time_share": round(t.time_share, 4) if t.baseline_known else None,
                "baseline_known": t.baseline_known, "is_behind": t.is_behind and t.latest is not None,
            }
            for t in data.targets
        ],
        "late": {
            "lead_reports": view.late.lead_reports, "contributions": view.late.contributions,
            "milestones": view.late.milestones, "returned": view.late.returned, "red_tasks": view.late.red_tasks,
            "items": [
                {"task": task_ref(item.task), "unit": unit_ref(item.unit) if item.unit else None, "kind": item.kind,
                 "title": item.title, "due_on": iso(item.due_on), "overdue_working_days": item.working_days}
                for item in view.late_items
            ],
        },
    }
