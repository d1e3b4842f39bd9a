"""Every permission question is answered here, for pages and API alike.

The role -> permission map is data. `can()` answers for one object;
`visible_*()` give the query filters that lists use, so that a list never
shows what the single page would refuse.
"""
from __future__ import annotations

from typing import Any

from .errors import NotFound, PermissionDenied
from .models import Role, User

# What each role may do at all; object-level rules in `can()` narrow it.
ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.COORDINATOR: frozenset(
        {
            "plan.view", "task.view", "unit.view", "plan.import", "task.assign_units",
            "report.view_all", "report.review", "dashboard.view", "work.view",
            "report.export",
        }
    ),
    Role.LIAISON: frozenset({"plan.view", "task.view", "unit.view", "report.file", "work.view"}),
    Role.LEADER: frozenset({"plan.view", "task.view", "unit.view", "report.view_all", "dashboard.view", "report.export"}),
    Role.ADMIN: frozenset({"unit.view", "unit.manage", "user.manage", "calendar.manage", "jobs.view"}),
    Role.AUDITOR: frozenset({"audit.view"}),
}


def permissions(user: User | None) -> frozenset[str]:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    perms: set[str] = set()
    for role in user.roles:
        perms |= ROLE_PERMISSIONS.get(role, frozenset())
    return frozenset(perms)


def can(user: User | None, action: str, target: Any = None) -> bool:
    """May `user` do `action` (to `target`)?"""
    return action in permissions(user)


def authorize(user: User | None, action: str, target: Any = None, *, hide: bool = False) -> None:
    """Raise PermissionDenied (or NotFound where existence itself is private)."""
    if not can(user, action, target):
        raise NotFound() if hide else PermissionDenied()


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
