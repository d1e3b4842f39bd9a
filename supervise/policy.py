"""Every permission question is answered here, for pages and API alike.

The role -> permission map is data. `can()` adds the object-level rules
(whose unit, which state); `visible_reports()` gives the query filter that
lists use, so that a list never shows what the single page would refuse.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, event, exists, false, or_, select, true
from sqlalchemy.orm import object_session
from sqlalchemy.sql import ColumnElement

from .errors import NotFound, PermissionDenied
from .models import (
    AuditEntry,
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
    TaskState,
    TaskUnit,
    UnitRole,
    User,
)

# What each role may do at all; object-level rules (`_RULES`) narrow it.
ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.COORDINATOR: frozenset(
        {
            "plan.view", "task.view", "unit.view", "plan.import", "plan.manage", "task.assign_units",
            "report.view", "report.review", "dashboard.view", "work.view",
            "task.decide", "extension.decide", "milestone.decide", "target.split", "evidence.download",
            "notification.view", "token.manage", "delivery.view", "reminder.configure", "report.export",
            "escalation.receive_all",
        }
    ),
    Role.LIAISON: frozenset(
        {
            "plan.view", "task.view", "unit.view", "report.view", "report.file", "contribution.review", "work.view",
            "task.request", "milestone.propose", "evidence.upload", "evidence.download",
            "notification.view", "token.manage", "reminder.receive",
        }
    ),
    Role.LEADER: frozenset(
        {
            "plan.view", "task.view", "unit.view", "report.view", "dashboard.view", "evidence.download",
            "notification.view", "token.manage", "report.export", "escalation.receive_unit",
        }
    ),
    Role.ADMIN: frozenset({"unit.view", "unit.manage", "user.manage", "calendar.manage", "jobs.view", "delivery.view",
                           "report.archive"}),
    # report.archive: the list of issued 通报 with their SHA-256, to check the files (not to read them).
    Role.AUDITOR: frozenset({"audit.view", "report.archive"}),
}

# 三权分立: each account belongs to exactly one of these duties.
DUTIES: dict[Role, str] = {
    Role.ADMIN: "系统管理",
    Role.AUDITOR: "安全审计",
    Role.COORDINATOR: "业务",
    Role.LIAISON: "业务",
    Role.LEADER: "业务",
}

# Roles that check each other's work (审核与经办分离, maker-checker): a unit's
# working role files what the coordinator decides on, so one account never
# holds both.
EXCLUSIVE_ROLES: frozenset[frozenset[Role]] = frozenset({frozenset({Role.LIAISON, Role.COORDINATOR})})

# Decisions on someone's work, with the kinds of item each decides on. Whoever
# created, edited or submitted the item may not take the decision on it.
CHECKER_ACTIONS = frozenset({"report.review", "contribution.review", "task.decide", "extension.decide",
                             "milestone.decide"})

# Audit actions that make (create, edit, submit) an item, by the item's table.
MAKER_ACTIONS: dict[str, frozenset[str]] = {
    "reports": frozenset({"report.create", "report.edit", "report.cite", "report.submit",
                          "contribution.create", "contribution.edit", "contribution.submit"}),
    "milestones": frozenset({"milestone.propose", "milestone.mark_done"}),
    "tasks": frozenset({"task.request_close"}),
    "extension_requests": frozenset({"extension.request"}),
}
_EVIDENCE_ACTIONS = frozenset({"evidence.upload", "evidence.remove"})

DENIED = "您没有权限执行此操作"
MAKER_CHECKER_DENIED = ("您参与了该事项的填报、修改或报送,不能由您本人审核或决定;"
                        "请由其他有权限的人员办理(审核与经办分离)")

# Roles that see every unit's work, submitted or not (never drafts of others).
_OVERSEERS = {Role.COORDINATOR, Role.LEADER}


class Operator:
    """The operator at the server's shell: a CLI command that acts without an
    account says so by passing `SYSTEM` (never a bare None). It may do what
    `OPERATOR_PERMISSIONS` lists, and is audited as "cli"."""

    id = None
    login = "cli"
    is_active = True
    is_authenticated = True
    roles: frozenset[Role] = frozenset()

    def has_role(self, role: Role) -> bool:
        return False

    def __bool__(self) -> bool:
        # Where a row records who acted (`actor.id if actor else None`), the
        # operator is nobody's account: it reads as no user.
        return False

    def __repr__(self) -> str:
        return "<SYSTEM operator>"


SYSTEM = Operator()

# What the server's operator may do from the command line.
OPERATOR_PERMISSIONS = frozenset(
    {"user.manage", "calendar.manage", "reminder.configure", "report.export",
     "plan.import", "plan.manage", "unit.manage"}
)


def permissions(user: User | Operator | None) -> frozenset[str]:
    if user is SYSTEM:
        return OPERATOR_PERMISSIONS
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    return _permissions_of(user.roles)


@functools.lru_cache(maxsize=64)
def _permissions_of(roles: frozenset[Role]) -> frozenset[str]:
    # Asked a dozen times a request (every can()): the union of the roles'
    # permissions, worked out once per set of roles (there are few).
    perms: set[str] = set()
    for role in roles:
        perms |= ROLE_PERMISSIONS.get(role, frozenset())
    return frozenset(perms)


def roles_with(permission: str) -> frozenset[Role]:
    """The roles that carry `permission` (who is told of what, by role)."""
    return frozenset(role for role, perms in ROLE_PERMISSIONS.items() if permission in perms)


def account(actor: User | Operator | None) -> User | None:
    """The user account behind an actor (None for the operator), for audit rows."""
    return None if actor is SYSTEM else actor


def role_conflicts(roles) -> list[str]:
    """Why a set of roles may not sit on one account (empty when it may)."""
    roles = set(roles)
    problems = []
    if len({DUTIES[r] for r in roles}) > 1:
        problems.append("系统管理员、审计员与业务角色须由不同账号担任(三权分立)")
    for pair in EXCLUSIVE_ROLES:
        if pair <= roles:
            names = "与".join(r.label for r in sorted(pair, key=lambda r: r.value))
            problems.append(f"{names}须由不同账号担任(审核与经办分离)")
    return problems


# Accounts that administer, audit, or judge everyone's work. They are made,
# given roles and have their passwords reset only by an operator on the
# server (`flask user …`), never from the admin pages: a stolen
# administrator session cannot mint another administrator or take over a
# coordinator. (services.users audits each such change and tells all auditors.)
PRIVILEGED_ROLES = frozenset({Role.ADMIN, Role.AUDITOR, Role.COORDINATOR})
PRIVILEGED_ONLY_ON_SERVER = (
    "系统管理员、审计员、督办员账号的创建、角色变更和密码重置只能由运维人员在服务器上用 "
    "flask user 命令办理(记入审计日志并通知全体审计员),不能在管理页面上操作"
)


def is_privileged(roles) -> bool:
    return bool(set(roles) & PRIVILEGED_ROLES)


def authorize_account_roles(actor: User | Operator | None, roles) -> None:
    """Only the operator on the server (`SYSTEM`) touches accounts holding,
    or about to hold, a privileged role; any account (the admin pages) is refused."""
    if actor is not SYSTEM and is_privileged(roles):
        raise PermissionDenied(PRIVILEGED_ONLY_ON_SERVER, field_errors={"roles": PRIVILEGED_ONLY_ON_SERVER})


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


# --- maker-checker ---------------------------------------------------------------------


def _maker_rows(user: User, task_id: int, sess) -> list[tuple[str, int | None, str, dict]]:
    """What `user` made on the task, from the audit trail (append-only: every
    create, edit, submit and upload writes a row). One query per user and
    task for the life of the transaction (a task page asks for each item)."""
    cache = sess.info.setdefault("policy.maker_rows", {})
    key = (user.id, task_id)
    if key not in cache:
        actions = set(_EVIDENCE_ACTIONS).union(*MAKER_ACTIONS.values())
        cache[key] = [
            (row.object_type, row.object_id, row.action, row.detail or {})
            for row in sess.execute(
                select(AuditEntry.object_type, AuditEntry.object_id, AuditEntry.action, AuditEntry.detail).where(
                    AuditEntry.task_id == task_id, AuditEntry.actor_id == user.id, AuditEntry.action.in_(actions)
                )
            )
        ]
    return cache[key]


def preload_maker_rows(user: User | Operator | None, task: Task) -> None:
    """Read what `user` made on `task` now, once, if they decide on anything:
    a page that asks can() about many items then runs the same statements
    whatever the items' makers."""
    if isinstance(user, User) and user.id is not None and permissions(user) & CHECKER_ACTIONS:
        sess = object_session(task)
        if sess is not None and task.id is not None:
            _maker_rows(user, task.id, sess)


@event.listens_for(AuditEntry, "after_insert")
def _forget_makers(mapper, connection, target):  # noqa: ARG001
    sess = object_session(target)
    if sess is not None:
        sess.info.pop("policy.maker_rows", None)


def made_by(user: User, item: Any) -> bool:
    """Did `user` create, edit or submit `item` (a report or contribution, a
    milestone, a task's request to close, an extension request)?"""
    if user.id is None:
        return False
    if isinstance(item, Report):
        if item.created_by_id == user.id:
            return True
        table, evidence_key = "reports", "report_id"
    elif isinstance(item, Milestone):
        if item.proposed_by_id == user.id:
            return True
        table, evidence_key = "milestones", "milestone_id"
    elif isinstance(item, ExtensionRequest):
        if item.requested_by_id == user.id:
            return True
        table, evidence_key = "extension_requests", None
    elif isinstance(item, Task):
        if item.state is not TaskState.CLOSING_REQUESTED:
            return False  # only the request to close is someone's work to check
        table, evidence_key = "tasks", "task"
    else:
        return False
    sess = object_session(item)
    task_id = item.id if isinstance(item, Task) else item.task_id
    if sess is None or task_id is None:
        return False
    for object_type, object_id, action, detail in _maker_rows(user, task_id, sess):
        if object_type == table and object_id == item.id and action in MAKER_ACTIONS[table]:
            return True
        if action in _EVIDENCE_ACTIONS and evidence_key is not None:
            if evidence_key == "task":
                # Evidence for the request to close: neither a report's nor a milestone's.
                if not detail.get("report_id") and not detail.get("milestone_id"):
                    return True
            elif detail.get(evidence_key) == item.id:
                return True
    return False


# --- one rule per action ----------------------------------------------------------------


def _file_report(user: User, target: Any) -> bool:
    # target: a Report (edit/submit it) or a Task (start one for it)
    if isinstance(target, Task):
        return is_task_liaison(user, target)
    return target.unit_id == user.unit_id and is_task_liaison(user, target.task)


def _task_of(target: Any) -> Task:
    return target.task if isinstance(target, (ExtensionRequest, Milestone)) else target


def _upload_evidence(user: User, target: Any) -> bool:
    if isinstance(target, Report):
        return can(user, "report.file", target)
    return is_lead_liaison(user, _task_of(target))


# action -> rule(user, target) for a given target; an action not listed is
# decided by the role map alone.
def _see_plan(user: User, target: Any) -> bool:
    # A draft plan and its tasks are the coordinators' business only.
    plan = target if isinstance(target, Plan) else target.plan
    return plan.status is PlanStatus.PUBLISHED or "plan.manage" in permissions(user)


_RULES: dict[str, Callable[[User, Any], bool]] = {
    "plan.view": _see_plan,
    "task.view": _see_plan,
    "report.view": _can_view_report,
    "report.file": _file_report,
    # Coordinators decide on lead reports; the lead unit's liaisons on contributions.
    "report.review": lambda user, target: isinstance(target, Report) and target.kind is ReportKind.LEAD_REPORT,
    "contribution.review": lambda user, target: (
        isinstance(target, Report) and target.kind is ReportKind.CONTRIBUTION and is_lead_liaison(user, target.task)
    ),
    "task.request": lambda user, target: is_lead_liaison(user, _task_of(target)),
    "milestone.propose": lambda user, target: is_lead_liaison(user, _task_of(target)),
    "evidence.upload": _upload_evidence,
    "evidence.download": lambda user, target: can_view_evidence(user, target),
    # target: an ApiToken; each user manages only their own.
    "token.manage": lambda user, target: getattr(target, "user_id", None) == user.id,
    "extension.decide": lambda user, target: isinstance(target, ExtensionRequest),
}


def why_not(user: User | Operator | None, action: str, target: Any = None) -> str | None:
    """None if `user` may do `action` (to `target`); otherwise why not, in
    words the user can act on."""
    if action not in permissions(user):
        return DENIED
    assert user is not None
    if target is None or user is SYSTEM:
        return None
    rule = _RULES.get(action)
    if rule is not None and not rule(user, target):
        return DENIED
    if action in CHECKER_ACTIONS and made_by(user, target):
        return MAKER_CHECKER_DENIED
    return None


def can(user: User | Operator | None, action: str, target: Any = None) -> bool:
    """May `user` do `action` (to `target`)?"""
    return why_not(user, action, target) is None


def review_action(report: Report, action: str = "approve") -> str:
    """The permission a decision on `report` needs: the lead unit accepts or
    returns contributions; coordinators approve, return or reopen lead reports."""
    if report.kind is ReportKind.CONTRIBUTION and action in ("accept", "return"):
        return "contribution.review"
    return "report.review"


def can_review_contribution(user: User | None, report: Report) -> bool:
    """The lead unit's liaisons accept or return co-units' contributions."""
    return can(user, "contribution.review", report)


def can_view_evidence(user: User, evidence: Evidence) -> bool:
    if evidence.report is not None:
        return can(user, "report.view", evidence.report)
    # Evidence of milestones and requests to close is seen by all who see the task.
    return "task.view" in permissions(user)


def authorize(user: User | Operator | None, action: str, target: Any = None, *, hide: bool = False) -> None:
    """Raise PermissionDenied with the reason (or NotFound where existence itself is private)."""
    reason = why_not(user, action, target)
    if reason is not None:
        raise NotFound() if hide else PermissionDenied(reason)


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
    "CHECKER_ACTIONS", "DUTIES", "EXCLUSIVE_ROLES", "OPERATOR_PERMISSIONS", "ROLE_PERMISSIONS", "SYSTEM",
    "Operator", "account", "authorize", "authorize_view_report", "can", "can_review_contribution",
    "can_view_evidence", "home_endpoint", "is_lead_liaison", "is_task_liaison", "made_by", "permissions",
    "preload_maker_rows",
    "published_plan_ids", "review_action", "role_conflicts", "roles_with", "visible_plans", "visible_reports",
    "visible_tasks", "why_not", "true",
]
