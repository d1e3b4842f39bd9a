"""Administrators manage accounts from the pages; duties stay apart."""
from __future__ import annotations

from sqlalchemy import select

from supervise.db import session
from supervise.models import AuditEntry, Role, User

from .conftest import login


def _user(login_name: str) -> User:
    return session().scalar(select(User).where(User.login == login_name))


def test_admin_creates_a_user_who_must_change_the_password(login_as, app, units):
    client, _ = login_as("admin")
    assert client.get("/admin/users/new").status_code == 200
    response = client.post("/admin/users/new", data={
        "login": "wang.hz", "name": "王杭州", "unit": "杭州市人民政府", "roles": ["liaison"],
        "email": "wang@hz.gov.cn", "phone": "13800000000", "password": "Start#2026x",
    })
    assert response.status_code == 302
    user = _user("wang.hz")
    assert user.roles == {Role.LIAISON} and user.must_change_password and user.phone == "13800000000"
    fresh = app.test_client()
    response = fresh.post("/login", data={"login": "wang.hz", "password": "Start#2026x"})
    assert response.status_code == 302
    assert "/password" in fresh.get("/").headers["Location"]


def test_bad_input_is_shown_on_the_form_and_changes_nothing(login_as, units):
    client, _ = login_as("admin")
    cases = [
        ({"login": "", "name": "x", "unit": "省商务厅", "roles": ["liaison"], "password": "Start#2026x"}, "登录名"),
        ({"login": "a1", "name": "x", "unit": "省商务厅", "roles": ["liaison", "auditor"], "password": "Start#2026x"}, "三权分立"),
        ({"login": "a2", "name": "x", "unit": "省商务厅", "roles": ["liaison"], "password": "short"}, "密码"),
        ({"login": "a3", "name": "x", "unit": "不存在", "roles": ["liaison"], "password": "Start#2026x"}, "单位"),
    ]
    before = session().scalar(select(User.id).order_by(User.id.desc()))
    for data, word in cases:
        response = client.post("/admin/users/new", data=data)
        assert response.status_code == 400
        html = response.get_data(as_text=True)
        assert word in html and 'class="field-error"' in html
    assert session().scalar(select(User.id).order_by(User.id.desc())) == before


def test_roles_granted_and_revoked_end_the_users_sessions(login_as, make_user, app):
    client, admin = login_as("admin")
    target = make_user("liaison", unit="省经信厅", login="target")
    other = app.test_client()
    login(other, target)
    assert other.get("/").status_code == 200
    assert client.post(f"/admin/users/{target.id}/roles", data={"roles": ["liaison", "leader"]}).status_code == 302
    assert _user("target").roles == {Role.LIAISON, Role.LEADER}
    assert other.get("/").status_code == 302  # logged out everywhere
    response = client.post(f"/admin/users/{target.id}/roles", data={"roles": ["liaison", "leader", "admin"]})
    assert response.status_code == 400 and "三权分立" in response.get_data(as_text=True)
    assert client.post(f"/admin/users/{target.id}/roles", data={"roles": ["liaison"]}).status_code == 302
    assert _user("target").roles == {Role.LIAISON}
    actions = session().scalars(select(AuditEntry.action).where(AuditEntry.action.like("role.%"))).all()
    assert actions == ["role.grant", "role.revoke"]
    # Nobody grants themselves a role.
    response = client.post(f"/admin/users/{admin.id}/roles", data={"roles": ["admin", "leader"]})
    assert response.status_code == 400 and _user(admin.login).roles == {Role.ADMIN}


def test_disable_reset_and_unlock(login_as, make_user, app):
    client, _ = login_as("admin")
    target = make_user("leader", login="boss2")
    assert client.post(f"/admin/users/{target.id}/status", data={"op": "disable"}).status_code == 302
    assert not _user("boss2").is_active
    response = app.test_client().post("/login", data={"login": "boss2", "password": "Test@Pass2026"})
    assert response.status_code != 302
    assert client.post(f"/admin/users/{target.id}/status", data={"op": "enable"}).status_code == 302
    assert client.post(f"/admin/users/{target.id}/password", data={"password": "Reset#2026y"}).status_code == 302
    assert _user("boss2").must_change_password
    assert client.post(f"/admin/users/{target.id}/status", data={"op": "unlock"}).status_code == 302


def test_only_admins_manage_users(login_as, make_user):
    target = make_user("leader", login="boss3")
    for role, unit in [("coordinator", "省商务厅"), ("liaison", "省经信厅"), ("leader", "省商务厅"), ("auditor", "省商务厅")]:
        client, _ = login_as(role, unit=unit)
        assert client.get("/admin/users/new").status_code == 403
        assert client.post(f"/admin/users/{target.id}/status", data={"op": "disable"}).status_code == 403
        assert client.post(f"/admin/users/{target.id}/roles", data={"roles": ["coordinator"]}).status_code == 403
    assert _user("boss3").is_active and _user("boss3").roles == {Role.LEADER}


def test_the_unit_dropdown_shows_the_users_unit_and_saving_keeps_it(login_as, make_user):
    """Saving the phone number leaves the account where it is; the audit row
    says what changed, before and after; a move of unit is said aloud."""
    import re

    client, _ = login_as("admin")
    target = make_user("liaison", unit="省经信厅", login="jxt1", name="李经信")
    html = client.get(f"/admin/users/{target.id}").get_data(as_text=True)
    selected = re.findall(r'<option[^>]*selected[^>]*value="([^"]+)"|<option[^>]*value="([^"]+)"[^>]*selected', html)
    assert [a or b for a, b in selected] == [target.unit.canonical_name]
    # Roles are checkboxes, the current ones ticked.
    assert re.search(r'<input[^>]*checked[^>]*type="checkbox"[^>]*value="liaison"|<input[^>]*type="checkbox"[^>]*value="liaison"[^>]*checked', html)
    assert "<select multiple" not in html and 'multiple' not in html.split('name="roles"')[0][-200:]

    unit_name = target.unit.canonical_name
    response = client.post(f"/admin/users/{target.id}/profile", data={
        "name": "李经信", "unit": unit_name, "email": "", "phone": "13900000001"})
    assert response.status_code == 302
    assert _user("jxt1").unit.canonical_name == unit_name and _user("jxt1").phone == "13900000001"
    row = session().scalars(select(AuditEntry).where(AuditEntry.action == "user.update")).one()
    assert row.detail["before"]["phone"] is None and row.detail["after"]["phone"] == "13900000001"
    assert row.detail["before"]["unit"] == row.detail["after"]["unit"] == unit_name

    # A form without the unit (an old page, a script) keeps the unit.
    assert client.post(f"/admin/users/{target.id}/profile", data={"name": "李经信", "phone": "13900000002"}).status_code == 302
    assert _user("jxt1").unit.canonical_name == unit_name

    # A real move is said on the page that follows.
    response = client.post(f"/admin/users/{target.id}/profile", data={
        "name": "李经信", "unit": "浙江省商务厅", "email": "", "phone": "13900000002"}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "单位已由" in html and "浙江省商务厅" in html
    assert _user("jxt1").unit.canonical_name == "浙江省商务厅"

    # The audit log says it in words: 修改账号信息, 手机号 before → after.
    auditor, _ = login_as("auditor")
    html = auditor.get("/audit/?action=user.update").get_data(as_text=True)
    assert "修改账号信息" in html and "手机号:(空) → 13900000001" in html and "user.update</td>" not in html
