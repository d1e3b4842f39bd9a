"""Every permission question is answered here, for pages and API alike.

The role -> permission map is data. `can()` adds the object-level rules
(whose unit, which state); `visible_reports()` gives the query filter that
lists use, so that a list never shows what the single page would refuse.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import and_, exists, false, or_, select, true
from sqlalchemy.sql import ColumnElement

from .errors import NotFound, PermissionDenied
from .models import (
    Evidence,
    ExtensionRequest,
    Milestone,
    Plan,
    PlanStatus,
    Report,
    ReportKind,
    ReportState,
    Role,
    Task,
    TaskUnit,
    UnitRole,
    User,
)

# What each role may do at all; object-level rules in `can()` narrow it.
ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.COORDINATOR: frozenset(
        {
            "plan.view", "task.view", "unit.view", "plan.import", "plan.manage", "task.assign_units",
            "report.view", "report.review", "dashboard.view", "work.view",
            "task.decide", "milestone.decide", "target.split", "evidence.download",
            "notification.view", "token.manage", "delivery.view", "reminder.configure", "report.export",
        }
    ),
    Role.LIAISON: frozenset(
        {
            "plan.view", "task.view", "unit.view", "report.view", "report.file", "work.view",
            "task.request", "milestone.propose", "evidence.upload", "evidence.download",
            "notification.view", "token.manage",
        }
    ),
    Role.LEADER: frozenset(
        {
            "plan.view", "task.view", "unit.view", "report.view", "dashboard.view", "evidence.download",
            "notification.view", "token.manage", "report.export",
        }
    ),
    Role.ADMIN: frozenset({"unit.view", "unit.manage", "user.manage", "calendar.manage", "jobs.view", "delivery.view"}),
    Role.AUDITOR: frozenset({"audit.view"}),
}

# Roles that see every unit's work, submitted or not (never drafts of others).
_OVERSEERS = {Role.COORDINATOR, Role.LEADER}


def permissions(user: User | None) -> frozenset[str]:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    perms: set[str] = set()
    for role in user.roles:
        perms |= ROLE_PERMISSIONS.get(role, frozenset())
    return frozenset(perms)


def _unit_role(user: User, task: Task) -> UnitRole | None:
    for tu in task.units:
        if tu.unit_id == user.unit_id:
            return tu.role
    return None


def is_lead_liaison(user: User, task: Task) -> bool:
    return user.has_role(Role.LIAISON) and _unit_role(user, task) is UnitRole.LEAD


def is_task_liaison(user: User, task: Task) -> bool:
    return user.has_role(Role.LIAISON) and _unit_role(user, task) is not None


def _can_view_report(user: User, report: Report) -> bool:
    if report.state is ReportState.DRAFT:
        # A draft is its unit's own business.
        return user.has_role(Role.LIAISON) and report.unit_id == user.unit_id
    if user.roles & _OVERSEERS:
        return True
    if not user.has_role(Role.LIAISON):
        return False
    if report.unit_id == user.unit_id:
        return True
    if report.kind is ReportKind.LEAD_REPORT:
        return report.state is ReportState.APPROVED
    # A contribution reaches the lead unit once submitted.
    return is_lead_liaison(user, report.task)


def can(user: User | None, action: str, target: Any = None) -> bool:
    """May `user` do `action` (to `target`)?"""
    perms = permissions(user)
    if action not in perms:
        return False
    assert user is not None
    if target is None:
        return True
    if action in ("plan.view", "task.view"):
        # A draft plan and its tasks are the coordinators' business only.
        plan = target if isinstance(target, Plan) else target.plan
        return plan.status is PlanStatus.PUBLISHED or "plan.manage" in perms
    if action == "report.view":
        return _can_view_report(user, target)
    if action == "report.file":
        # target: a Report (edit/submit it) or a Task (start one for it)
        if isinstance(target, Task):
            return is_task_liaison(user, target)
        return target.unit_id == user.unit_id and is_task_liaison(user, target.task)
    if action == "report.review":
        # Coordinators review lead reports; the lead unit reviews contributions.
        return isinstance(target, Report) and target.kind is ReportKind.LEAD_REPORT
    if action == "task.request":
        task = target.task if isinstance(target, ExtensionRequest) else target
        return is_lead_liaison(user, task)
    if action == "milestone.propose":
        task = target.task if isinstance(target, Milestone) else target
        return is_lead_liaison(user, task)
    if action in ("evidence.upload",):
        return can(user, "report.file", target) if isinstance(target, Report) else is_lead_liaison(
            user, target.task if isinstance(target, Milestone) else target
        )
    if action == "evidence.download":
        return can_view_evidence(user, target)
    if action == "token.manage":
        # target: an ApiToken; each user manages only their own.
        return getattr(target, "user_id", None) == user.id
    return True


def can_review_contribution(user: User | None, report: Report) -> bool:
    """The lead unit's liaisons accept or return co-units' contributions."""
    return (
        user is not None
        and "report.file" in permissions(user)
        and report.kind is ReportKind.CONTRIBUTION
        and is_lead_liaison(user, report.task)
    )


def can_view_evidence(user: User, evidence: Evidence) -> bool:
    if evidence.report is not None:
        return can(user, "report.view", evidence.report)
    # Evidence of milestones and requests to close is seen by all who see the task.
    return "task.view" in permissions(user)


def authorize(user: User | None, action: str, target: Any = None, *, hide: bool = False) -> None:
    """Raise PermissionDenied (or NotFound where existence itself is private)."""
    if not can(user, action, target):
        raise NotFound() if hide else PermissionDenied()


def authorize_view_report(user: User | None, report: Report) -> None:
    # Whether another unit's draft exists is itself private: 404, not 403.
    if not can(user, "report.view", report):
        raise NotFound("未找到该报告,或您无权查看")


def visible_reports(user: User) -> ColumnElement[bool]:
    """A WHERE clause on Report matching exactly what `report.view` allows."""
    if "report.view" not in permissions(user):
        return false()
    own_draft = and_(Report.state == ReportState.DRAFT, Report.unit_id == user.unit_id) if user.has_role(
        Role.LIAISON
    ) else false()
    if user.roles & _OVERSEERS:
        return or_(Report.state != ReportState.DRAFT, own_draft)
    lead_of_task = exists(
        select(TaskUnit.id).where(
            TaskUnit.task_id == Report.task_id, TaskUnit.unit_id == user.unit_id, TaskUnit.role == UnitRole.LEAD
        )
    )
    return or_(
        Report.unit_id == user.unit_id,
        and_(Report.kind == ReportKind.LEAD_REPORT, Report.state == ReportState.APPROVED),
        and_(Report.kind == ReportKind.CONTRIBUTION, Report.state != ReportState.DRAFT, lead_of_task),
    )


def visible_plans(user: User) -> ColumnElement[bool]:
    """A WHERE clause on Plan matching exactly what `plan.view` allows:
    drafts only for those who manage plans."""
    perms = permissions(user)
    if "plan.view" not in perms:
        return false()
    if "plan.manage" in perms:
        return true()
    return Plan.status == PlanStatus.PUBLISHED


def published_plan_ids():
    """The ids of published plans, for lists, counts and jobs that must
    leave drafts out whoever asks (dashboard, 通报, reminders, 我的待办)."""
    return select(Plan.id).where(Plan.status == PlanStatus.PUBLISHED)


def visible_tasks(user: User) -> ColumnElement[bool]:
    """A WHERE clause on Task matching what `task.view` allows."""
    perms = permissions(user)
    if "task.view" not in perms:
        return false()
    if "plan.manage" in perms:
        return true()
    return Task.plan_id.in_(published_plan_ids())


def home_endpoint(user: User) -> str:
    """The page a user lands on after login, by their first working role."""
    roles = user.roles
    if Role.COORDINATOR in roles or Role.LIAISON in roles or Role.LEADER in roles:
        return "main.home"
    if Role.ADMIN in roles:
        return "admin.users"
    if Role.AUDITOR in roles:
        return "audit.index"
    return "main.home"


__all__ = [
    "ROLE_PERMISSIONS", "authorize", "authorize_view_report", "can", "can_review_contribution",
    "can_view_evidence", "home_endpoint", "is_lead_liaison", "is_task_liaison", "permissions",
    "published_plan_ids", "visible_plans", "visible_reports", "visible_tasks", "true",
]
