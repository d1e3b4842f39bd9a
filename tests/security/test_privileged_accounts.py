"""Privileged accounts (issue 9, point 3): administrators, auditors and
coordinators are created, given or relieved of their roles and have their
passwords reset only by `flask user …` on the server, audited; the admin
pages refuse and say so; every such change notifies all auditors in-app."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from supervise.db import session, unit_of_work
from supervise.errors import PermissionDenied
from supervise.models import AuditEntry, Notification, Role, User
from supervise.services import users as user_service

NEW_PASSWORD = "Zhe#Jiang-Dcdb-2027"


def _user(login: str) -> User | None:
    session().rollback()
    return session().scalar(select(User).where(User.login == login))


def _notices(user: User) -> list[Notification]:
    session().rollback()
    return list(session().scalars(select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)))


def _denied(actor: User) -> list[AuditEntry]:
    session().rollback()
    return list(session().scalars(select(AuditEntry).where(AuditEntry.action == "access.denied",
                                                           AuditEntry.actor_id == actor.id)))


@pytest.mark.parametrize("role", ["admin", "auditor", "coordinator"])
def test_the_admin_pages_cannot_create_a_privileged_account(login_as, role):
    # (one role alone: a forbidden combination is refused earlier, as 400)
    client, admin = login_as("admin")
    page = client.get("/admin/users/new").get_data(as_text=True)
    assert "flask user" in page
    disabled = set(re.findall(r'<input disabled[^>]*value="(\w+)"', page))
    assert disabled == {"admin", "auditor", "coordinator"}, disabled
    response = client.post("/admin/users/new", data={"login": "new1", "name": "新人", "unit": "浙江省商务厅",
                                                     "roles": [role], "password": NEW_PASSWORD})
    assert response.status_code == 403
    text = response.get_data(as_text=True)
    assert "只能由运维人员在服务器上用" in text and 'value="new1"' in text  # what was typed stays
    assert _user("new1") is None
    assert _denied(admin)[-1].detail["path"] == "/admin/users/new"


def test_the_admin_pages_still_create_liaisons_and_leaders(login_as):
    client, _ = login_as("admin")
    response = client.post("/admin/users/new", data={"login": "lia1", "name": "联络员", "unit": "浙江省商务厅",
                                                     "roles": ["liaison"], "password": NEW_PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:400]
    assert _user("lia1").roles == {Role.LIAISON}


@pytest.mark.parametrize("role", ["admin", "auditor", "coordinator"])
def test_the_admin_pages_cannot_reset_a_privileged_password(login_as, make_user, role):
    client, admin = login_as("admin")
    target = make_user(role)
    page = client.get(f"/admin/users/{target.id}").get_data(as_text=True)
    assert f"user reset-password {target.login}" in page and 'name="password"' not in page
    response = client.post(f"/admin/users/{target.id}/password", data={"password": NEW_PASSWORD})
    assert response.status_code == 403 and "只能由运维人员在服务器上用" in response.get_data(as_text=True)
    assert not check_password_hash(_user(target.login).password_hash, NEW_PASSWORD)
    assert _denied(admin)


def test_the_admin_pages_cannot_grant_or_take_privileged_roles(login_as, make_user):
    client, _ = login_as("admin")
    liaison, leader, coordinator = make_user("liaison"), make_user("leader"), make_user("coordinator")
    response = client.post(f"/admin/users/{leader.id}/roles", data={"roles": ["leader", "coordinator"]})
    assert response.status_code == 403 and "flask user" in response.get_data(as_text=True)
    response = client.post(f"/admin/users/{coordinator.id}/roles", data={"roles": ["leader"]})
    assert response.status_code == 403
    assert _user(leader.login).roles == {Role.LEADER} and _user(coordinator.login).roles == {Role.COORDINATOR}
    # Non-privileged roles still change on the page.
    response = client.post(f"/admin/users/{liaison.id}/roles", data={"roles": ["liaison", "leader"]})
    assert response.status_code == 302 and _user(liaison.login).roles == {Role.LIAISON, Role.LEADER}


def test_the_service_refuses_any_actor_but_the_server(make_user):
    admin = make_user("admin")
    with pytest.raises(PermissionDenied, match="flask user"):
        with unit_of_work():
            user_service.create_user("c9", unit_name="省商务厅", roles=[Role.COORDINATOR], password=NEW_PASSWORD,
                                     actor=session().get(User, admin.id))


def test_the_server_commands_do_it_audited_and_every_auditor_is_told(app, make_user):
    auditors = [make_user("auditor"), make_user("auditor")]
    runner = app.test_cli_runner()
    result = runner.invoke(args=["user", "create", "coord9", "--role", "coordinator", "--unit", "省商务厅",
                                 "--name", "新督办员"], input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["user", "reset-password", "coord9"], input="Other#Pass-2027x\nOther#Pass-2027x\n")
    assert result.exit_code == 0, result.output
    liaison = make_user("liaison")
    result = runner.invoke(args=["user", "grant", liaison.login, "leader"])
    assert result.exit_code == 0, result.output  # not privileged: no notice
    admin = make_user("admin")
    result = runner.invoke(args=["user", "reset-password", admin.login], input="Adm#Reset-2027x\nAdm#Reset-2027x\n")
    assert result.exit_code == 0, result.output
    for auditor in auditors:
        titles = [n.title for n in _notices(auditor)]
        assert any("coord9" in t and "已创建" in t for t in titles), titles
        assert any("coord9" in t and "密码已被重置" in t for t in titles), titles
        assert any(admin.login in t and "密码已被重置" in t for t in titles), titles
        assert not any(liaison.login in t for t in titles), titles
    session().rollback()
    rows = session().scalars(select(AuditEntry).where(AuditEntry.actor_login == "cli")).all()
    assert {("user.create", "coord9"), ("password.reset", "coord9")} <= {
        (r.action, (r.detail or {}).get("login") or (r.detail or {}).get("user")) for r in rows}
    # Still: the chain of all this verifies.
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_disabling_a_privileged_account_on_the_page_is_told_to_the_auditors(login_as, make_user):
    client, _ = login_as("admin")
    auditor, coordinator = make_user("auditor"), make_user("coordinator")
    response = client.post(f"/admin/users/{coordinator.id}/status", data={"op": "disable"})
    assert response.status_code == 302
    assert any(coordinator.login in n.title and "已停用" in n.title for n in _notices(auditor))
    assert session().scalar(select(func.count(User.id)).where(User.is_active.is_(False))) == 1
