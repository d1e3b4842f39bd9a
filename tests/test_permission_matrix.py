"""Every role against every page: who may open it, and that a role that may
not gets 403 (or 404) and changes nothing, POSTs included. The actions of
the reporting pages are tried in tests/web/test_page_permissions.py and the
API in tests/api/test_permissions.py; a last test checks that every route
of the application is covered by one of the three."""
from __future__ import annotations

import pytest
from sqlalchemy import inspect, select, text

from supervise import create_app
from supervise.db import session
from supervise.models import Task, Unit, User

# The routes as the application declares them (no database needed).
ROUTES = create_app("testing", DATABASE_URL="sqlite://").url_map


def _methods(endpoint: str) -> set[str]:
    return {m for rule in ROUTES.iter_rules(endpoint=endpoint) for m in rule.methods}


ROLES = {"coordinator": "省商务厅", "liaison": "省经信厅", "leader": "省商务厅", "admin": "省商务厅", "auditor": "省商务厅"}
WORKING = {"coordinator", "liaison", "leader"}
EVERYONE = set(ROLES)

# endpoint -> (path template, roles that may GET it, roles that may POST to it)
PAGES = {
    "main.home": ("/", EVERYONE, set()),  # admin and auditor are sent on to their own home
    "main.plans": ("/plans", WORKING, set()),
    "main.plan": ("/plans/{plan}", WORKING, set()),
    "main.task": ("/tasks/{task}", WORKING, {"coordinator"}),
    "main.units": ("/units", WORKING | {"admin"}, set()),
    "main.unit": ("/units/{unit}", WORKING | {"admin"}, set()),
    "plan_admin.import_plan": ("/plans/import", {"coordinator"}, {"coordinator"}),
    "plan_admin.settings": ("/plans/{plan}/settings", {"coordinator"}, {"coordinator"}),
    "plan_admin.first_period": ("/plans/{plan}/first-period", set(), {"coordinator"}),
    "plan_admin.new_plan": ("/plans/new", {"coordinator"}, {"coordinator"}),
    "plan_admin.review": ("/plans/{plan}/review", {"coordinator"}, set()),
    "plan_admin.edit_draft_plan": ("/plans/{plan}/review/plan", set(), {"coordinator"}),
    "plan_admin.resolve_unit": ("/plans/{plan}/review/units", set(), {"coordinator"}),
    "plan_admin.publish": ("/plans/{plan}/publish", set(), {"coordinator"}),
    "plan_admin.discard": ("/plans/{plan}/discard", set(), {"coordinator"}),
    "plan_admin.new_task": ("/plans/{plan}/tasks/new", {"coordinator"}, {"coordinator"}),
    "plan_admin.edit_task": ("/plans/{plan}/tasks/{task}/edit", {"coordinator"}, {"coordinator"}),
    "plan_admin.change_draft_task": ("/plans/{plan}/tasks/{task}/remove", set(), {"coordinator"}),
    "admin.users": ("/admin/users", {"admin"}, set()),
    "admin.new_user": ("/admin/users/new", {"admin"}, {"admin"}),
    "admin.user": ("/admin/users/{user}", {"admin"}, set()),
    "admin.user_profile": ("/admin/users/{user}/profile", set(), {"admin"}),
    "admin.user_roles": ("/admin/users/{user}/roles", set(), {"admin"}),
    "admin.user_password": ("/admin/users/{user}/password", set(), {"admin"}),
    "admin.user_status": ("/admin/users/{user}/status", set(), {"admin"}),
    "admin.calendar": ("/admin/calendar", {"admin"}, set()),
    "admin.calendar_day": ("/admin/calendar/day", set(), {"admin"}),
    "admin.calendar_import": ("/admin/calendar/import", set(), {"admin"}),
    "admin.calendar_sync": ("/admin/calendar/sync", set(), {"admin"}),
    "admin.scheduler": ("/admin/scheduler", {"admin", "coordinator"}, set()),
    "admin.reminder_rules": ("/admin/plans/{plan}/reminder-rules", {"coordinator"}, {"coordinator"}),
    "audit.index": ("/audit/", {"auditor"}, set()),
    "dashboard.index": ("/dashboard/", {"coordinator", "leader"}, set()),
    "dashboard.reports": ("/dashboard/reports", {"coordinator", "leader"}, {"coordinator", "leader"}),
    "work.index": ("/work", {"coordinator", "liaison"}, set()),
    "dashboard.archive": ("/dashboard/archive", {"admin", "auditor"}, set()),
    "work.confirm_lead": ("/work/leads/{task}/confirm", set(), {"coordinator"}),
    "notifications.index": ("/notifications", WORKING, set()),
    "notifications.mark_all_read": ("/notifications/read", set(), WORKING),
    "profile.index": ("/profile", EVERYONE, set()),
    "reminders.index": ("/reminders/", EVERYONE, set()),
}

# Covered elsewhere: the reporting pages' actions (tests/web/test_page_permissions.py),
# each user's own items (notifications, reminders, tokens, password), login.
ELSEWHERE = {
    "reports.view", "reports.accept", "reports.approve", "reports.compare", "reports.upload", "reports.inclusions",
    "reports.reopen", "reports.return_", "reports.version", "reports.create", "reports.download",
    "reports.remove_evidence", "tasks.split_target", "tasks.close_evidence", "tasks.decide_close",
    "tasks.request_extension", "tasks.propose_milestone", "tasks.request_close", "tasks.resume", "tasks.suspend",
    "tasks.decide_extension", "tasks.confirm_milestone", "tasks.decide_milestone", "tasks.mark_milestone_done",
    "tasks.milestone_evidence", "dashboard.download", "notifications.open_", "notifications.mark_read",
    "profile.preferences", "profile.create_token", "profile.revoke_token", "reminders.read", "reminders.channels",
    "auth.login", "auth.logout", "auth.change_password", "auth.totp_enrol", "auth.totp_verify", "static", "favicon",
}

# Tables a refused request must leave as they were (logins write the audit
# log and users.last_login_at before the snapshot is taken).
def _fingerprint() -> dict[str, list]:
    session().rollback()
    tables = sorted(inspect(session().get_bind()).get_table_names())
    # A refusal is audited (access.denied, issue 9): the one row it may leave.
    where = {"audit_entries": " WHERE action <> 'access.denied'"}
    return {t: [tuple(r) for r in session().execute(text(f'SELECT * FROM "{t}"{where.get(t, "")}'))] for t in tables
            if t != "alembic_version"}


@pytest.fixture
def world(plan, login_as):
    clients = {role: login_as(role, unit=unit)[0] for role, unit in ROLES.items()}
    ids = {
        "plan": plan.id,
        "task": session().scalar(select(Task.id).where(Task.plan_id == plan.id, Task.number == 1)),
        "unit": session().scalar(select(Unit.id).order_by(Unit.id)),
        "user": session().scalar(select(User.id).where(User.login.like("liaison%"))),
    }
    return clients, ids


@pytest.mark.parametrize("endpoint", sorted(PAGES))
def test_who_may_open_each_page(world, endpoint):
    clients, ids = world
    path, readers, _writers = PAGES[endpoint]
    url = path.format(**ids)
    for role, client in clients.items():
        status = client.get(url).status_code
        if role in readers:
            assert status in (200, 302), (endpoint, role, status)
        elif "GET" in _methods(endpoint):
            assert status in (403, 404), (endpoint, role, status)


@pytest.mark.parametrize("endpoint", sorted(e for e, (_p, _r, w) in PAGES.items() if "POST" in _methods(e)))
def test_refused_posts_change_nothing(world, endpoint):
    clients, ids = world
    path, _readers, writers = PAGES[endpoint]
    url = path.format(**ids)
    before = _fingerprint()
    for role, client in clients.items():
        if role in writers:
            continue
        response = client.post(url, data={"op": "disable", "role": "admin", "password": "Xx#12345678",
                                          "name": "x", "text": "x", "frequency": "monthly"})
        assert response.status_code in (403, 404), (endpoint, role, response.status_code)
    assert _fingerprint() == before


def test_every_route_is_covered():
    endpoints = {rule.endpoint for rule in ROUTES.iter_rules() if not rule.endpoint.startswith("api.")}
    missing = endpoints - set(PAGES) - ELSEWHERE
    assert not missing, f"routes with no permission test: {sorted(missing)}"
