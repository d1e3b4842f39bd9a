"""A task's lifecycle (办结, 暂缓, 延期), its milestones (节点) and the split
of its targets (分解): the same services as the task page."""
from __future__ import annotations

from typing import Any

from flask import jsonify

from ...errors import ValidationError
from ...serialize import extension_dict, milestone_dict
from ...services import plans as plan_service
from ...services import tasks as task_service
from .. import acting_user
from ...domain.clock import today
from . import bp, expected_version, json_body
from .reports import receive_upload
from .tasks import detail_view, task_detail


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if not isinstance(value, bool):
        raise ValidationError(f"{name} 必须是 true 或 false", field_errors={name: "必须是 true 或 false"})
    return value


# --- the task ------------------------------------------------------------------------


@bp.post("/tasks/<int:task_id>/evidence")
def upload_task_evidence(task_id: int):
    """Evidence for the lead's request to close the task."""
    user = acting_user()
    return receive_upload(user, plan_service.get_task(user, task_id))


@bp.post("/tasks/<int:task_id>/request-close")
def request_close(task_id: int):
    user = acting_user()
    task = plan_service.get_task(user, task_id)
    body = json_body("reason", "version")
    task_service.request_close(user, task, body.get("reason"), expected_version=expected_version(body))
    return jsonify(task_detail(detail_view(user, task.id)))


@bp.post("/tasks/<int:task_id>/decide-close")
def decide_close(task_id: int):
    user = acting_user()
    task = plan_service.get_task(user, task_id)
    body = json_body("agree", "reason", "version")
    task_service.decide_close(user, task, _flag(body, "agree"), body.get("reason"),
                              expected_version=expected_version(body))
    return jsonify(task_detail(detail_view(user, task.id)))


@bp.post("/tasks/<int:task_id>/suspend")
def suspend_task(task_id: int):
    user = acting_user()
    task = plan_service.get_task(user, task_id)
    body = json_body("reason", "version")
    task_service.suspend_task(user, task, body.get("reason"), expected_version=expected_version(body))
    return jsonify(task_detail(detail_view(user, task.id)))


@bp.post("/tasks/<int:task_id>/resume")
def resume_task(task_id: int):
    user = acting_user()
    task = plan_service.get_task(user, task_id)
    body = json_body("reason", "version")
    task_service.resume_task(user, task, body.get("reason"), expected_version=expected_version(body))
    return jsonify(task_detail(detail_view(user, task.id)))


@bp.post("/tasks/<int:task_id>/extensions")
def request_extension(task_id: int):
    user = acting_user()
    task = plan_service.get_task(user, task_id)
    body = json_body("new_deadline", "reason")
    request = task_service.request_extension(user, task, body.get("new_deadline"), body.get("reason"), today=today())
    return jsonify(extension_dict(request)), 201


@bp.post("/extensions/<int:extension_id>/decide")
def decide_extension(extension_id: int):
    user = acting_user()
    request = task_service.get_extension(user, extension_id)
    body = json_body("grant", "reason", "version")
    task_service.decide_extension(user, request, _flag(body, "grant"), body.get("reason"),
                                  expected_version=expected_version(body))
    return jsonify(extension_dict(request))


# --- milestones ----------------------------------------------------------------------


def _milestone(milestone_id: int):
    return task_service.get_milestone(acting_user(), milestone_id)


@bp.post("/tasks/<int:task_id>/milestones")
def propose_milestone(task_id: int):
    user = acting_user()
    task = plan_service.get_task(user, task_id)
    body = json_body("title", "due_on")
    milestone = task_service.propose_milestone(user, task, body.get("title"), body.get("due_on"))
    return jsonify(milestone_dict(milestone)), 201


@bp.post("/milestones/<int:milestone_id>/confirm")
def confirm_milestone(milestone_id: int):
    milestone = _milestone(milestone_id)
    json_body()
    return jsonify(milestone_dict(task_service.confirm_milestone(acting_user(), milestone)))


@bp.post("/milestones/<int:milestone_id>/evidence")
def upload_milestone_evidence(milestone_id: int):
    return receive_upload(acting_user(), _milestone(milestone_id))


@bp.post("/milestones/<int:milestone_id>/done")
def mark_milestone_done(milestone_id: int):
    milestone = _milestone(milestone_id)
    note = json_body("note").get("note", "")
    return jsonify(milestone_dict(task_service.mark_milestone_done(acting_user(), milestone, note)))


@bp.post("/milestones/<int:milestone_id>/decide")
def decide_milestone(milestone_id: int):
    milestone = _milestone(milestone_id)
    body = json_body("accept", "reason")
    task_service.decide_milestone(acting_user(), milestone, _flag(body, "accept"), body.get("reason"))
    return jsonify(milestone_dict(milestone))


# --- targets ---------------------------------------------------------------------------


@bp.post("/targets/<int:target_id>/split")
def split_target(target_id: int):
    """目标分解: {"shares": {unit_id: number}} among the task's units."""
    user = acting_user()
    target = task_service.get_target(user, target_id)
    shares = json_body("shares").get("shares")
    if not isinstance(shares, dict):
        raise ValidationError("shares 应为 {单位编号: 数值}", field_errors={"shares": "应为 {单位编号: 数值}"})
    task_service.split_target(user, target, shares)
    return jsonify(task_detail(detail_view(user, target.task_id)))
