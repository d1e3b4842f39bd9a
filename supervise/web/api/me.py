"""The caller: who they are, their work (我的待办) and their API tokens."""
from __future__ import annotations

from typing import Any

from flask import jsonify, request

from ...policy import permissions
from ...domain.clock import today
from ...serialize import iso, task_ref, token_dict, unit_ref
from ...services import notifications as notification_service
from ...services import tokens as token_service
from ...services.next_due import NextDue
from ...services.work import WorkFilters, WorkGroup, WorkItem, WorkView, work_view
from .. import acting_user, authenticated_by_token
from . import bp, json_body


@bp.get("/me")
def me():
    user = acting_user()
    return jsonify(
        {
            "id": user.id,
            "login": user.login,
            "name": user.name,
            "unit": unit_ref(user.unit),
            "roles": sorted(r.value for r in user.roles),
            "permissions": sorted(permissions(user)),
            "unread_notifications": notification_service.unread_count(user),
        }
    )


@bp.get("/me/work")
def work():
    """我的待办: what the caller can act on now first (to review, to decide,
    returned), then what is due this period, then what is overdue; filtered
    by plan, period, state (group) and unit, paged. The same rows and counts
    as the page /work."""
    filters = WorkFilters.parse(request.args)
    return jsonify(_work_dict(work_view(acting_user(), today(), filters)))


def _work_dict(view: WorkView) -> dict[str, Any]:
    f = view.filters
    return {
        "today": iso(view.today),
        "total": view.total,
        "counts": {g.value: view.counts[g] for g in WorkGroup},
        "filters": {"plan": f.plan_id, "period": f.period, "state": f.group.value if f.group else None,
                    "unit": f.unit_id},
        "page": {"number": view.page, "size": f.per_page, "items": view.matching, "pages": view.pages},
        "items": [_item_dict(item) for item in view.items],
        "choices": {
            "plans": [{"id": pid, "document_number": label} for pid, label in view.plans],
            "periods": [{"code": code, "label": label} for code, label in view.periods],
            "units": [unit_ref(u) for u in view.units],
        },
        "next_due": _next_due_dict(view.next_due) if view.next_due else None,
    }


def _next_due_dict(next_due: NextDue) -> dict[str, Any]:
    return {
        "period": next_due.period_code,
        "period_label": next_due.period_label,
        "task": task_ref(next_due.task),
        "kind": next_due.kind.value,
        "kind_label": next_due.kind_label,
        "due_on": iso(next_due.due_on),
        "working_days_left": next_due.working_days_left,
        "others_due": next_due.others_due,
    }


def _item_dict(item: WorkItem) -> dict[str, Any]:
    return {
        "group": item.group.value,
        "group_label": item.group.label,
        "kind": item.kind,
        "kind_label": item.kind_label,
        "task": task_ref(item.task),
        "plan_id": item.plan_id,
        "period": item.period_code,
        "period_label": item.period_label,
        "unit": unit_ref(item.unit) if item.unit else None,
        "due_on": iso(item.due_on),
        "light": item.light.value if item.light else None,
        "overdue_working_days": item.overdue_days,
        "since": iso(item.since),
        "note": item.note,
        "state_label": item.state_label,
        "report_id": item.report_id,
        "milestone_id": item.milestone_id,
        "extension_id": item.extension_id,
    }


@bp.get("/me/tokens")
def tokens():
    tokens = token_service.list_own_tokens(acting_user(), by_token=authenticated_by_token())
    return jsonify([token_dict(t) for t in tokens])


@bp.post("/me/tokens")
def issue_token():
    """A new token; its secret is in this response only."""
    row, secret = token_service.issue_own_token(acting_user(), json_body("label").get("label", ""),
                                                by_token=authenticated_by_token())
    return jsonify({**token_dict(row), "token": secret}), 201


@bp.delete("/me/tokens/<int:token_id>")
def revoke_token(token_id: int):
    return jsonify(token_dict(token_service.revoke_own_token(acting_user(), token_id)))
