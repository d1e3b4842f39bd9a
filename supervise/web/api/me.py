"""The caller: who they are, their work (我的待办) and their API tokens."""
from __future__ import annotations

from typing import Any

from flask import jsonify

from ...policy import permissions
from ...serialize import extension_dict, iso, milestone_dict, report_summary_dict, task_ref, token_dict, unit_ref
from ...services import notifications as notification_service
from ...services import tokens as token_service
from ...services.work import MyWork, my_work
from .. import acting_user, authenticated_by_token
from ...domain.clock import today
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
    """我的待办: for liaisons what is due, overdue and returned; for
    coordinators the review queue, oldest waiting first."""
    return jsonify(_work_dict(my_work(acting_user(), today())))


def _work_dict(work: MyWork) -> dict[str, Any]:
    return {
        "total": work.total,
        "owed": [
            {
                "task": task_ref(item.obligation.task),
                "period": item.obligation.period.code,
                "kind": item.obligation.kind.value,
                "unit": unit_ref(item.obligation.task_unit.unit),
                "due_on": iso(item.obligation.due_on),
                "light": item.light.value,
                "overdue_working_days": item.overdue_days,
                "report": report_summary_dict(item.obligation.report) if item.obligation.report else None,
            }
            for item in work.owed
        ],
        "returned": [{**report_summary_dict(r), "return_reason": r.return_reason} for r in work.returned],
        "contributions_to_review": [report_summary_dict(r) for r in work.contributions_to_review],
        "milestones_due": [{**milestone_dict(m), "light": light.value} for m, light in work.milestones_due],
        "review_queue": [report_summary_dict(r) for r in work.review_queue],
        "closing_requests": [{**task_ref(t), "state": t.state.value} for t in work.closing_requests],
        "extension_requests": [extension_dict(e) for e in work.extension_requests],
        "milestones_to_decide": [milestone_dict(m) for m in work.milestones_to_decide],
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
