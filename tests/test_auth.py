"""Login by role, the user commands, and API tokens."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from supervise.db import session
from supervise.models import ApiToken, AuditEntry, Role, User

from .conftest import PASSWORD, login


def test_pages_need_a_login(client, plan):
    for url in ["/", "/plans", f"/plans/{plan.id}", "/units", "/audit/", "/admin/users"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert "/login" in response.headers["Location"]


def test_login_page_and_static_files_are_public(client):
    assert client.get("/login").status_code == 200
    css = client.get("/static/css/app.css")
    assert css.status_code == 200 and b"--red" in css.data


def test_favicon_is_served_and_the_first_visit_is_not_scolded(client):
    """/favicon.ico is an icon from static/ (no 404 on every page); the very
    first visit to / shows the login page without a yellow 请先登录, while a
    deep link still says why the login page came up."""
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.data[:4] == b"\x00\x00\x01\x00" and len(icon.data) > 100
    response = client.get("/", follow_redirects=True)
    assert response.status_code == 200 and "请先登录" not in response.get_data(as_text=True)
    response = client.get("/plans", follow_redirects=True)
    assert "请先登录" in response.get_data(as_text=True)


def test_login_with_wrong_password_fails_and_is_audited(client, make_user):
    user = make_user("liaison", unit="省经信厅")
    response = client.post("/login", data={"login": user.login, "password": "wrong-password"})
    assert response.status_code == 200
    assert "用户名或密码错误" in response.get_data(as_text=True)
    response = client.post("/login", data={"login": "nobody", "password": "wrong-password"})
    assert "用户名或密码错误" in response.get_data(as_text=True)
    actions = session().scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions.count("login.failed") == 2
    assert client.get("/").status_code == 302


def test_password_is_stored_hashed(make_user):
    user = make_user("leader")
    assert PASSWORD not in user.password_hash
    assert user.password_hash.startswith(("scrypt:", "pbkdf2:"))


@pytest.mark.parametrize(
    "role, landing",
    [("coordinator", "/"), ("liaison", "/"), ("leader", "/"), ("admin", "/admin/users"), ("auditor", "/audit/")],
)
def test_each_role_lands_on_its_home(client, make_user, plan, role, landing):
    user = make_user(role, unit="省经信厅" if role == "liaison" else "省商务厅")
    response = login(client, user)
    assert response.headers["Location"].endswith(landing)
    page = client.get(landing)
    assert page.status_code == 200
    assert user.name in page.get_data(as_text=True)


def test_next_never_leads_off_site(client, make_user):
    user = make_user("leader")
    for evil in ["https://evil.example/", "//evil.example/x", "/\\evil.example"]:
        c = client.application.test_client()
        response = c.post("/login", data={"login": user.login, "password": PASSWORD, "next": evil})
        assert response.status_code == 302
        assert "evil" not in response.headers["Location"]
    c = client.application.test_client()
    response = c.post("/login", data={"login": user.login, "password": PASSWORD, "next": "/units"})
    assert response.headers["Location"].endswith("/units")


def test_logout_ends_the_session(client, make_user):
    user = make_user("leader")
    login(client, user)
    assert client.get("/").status_code == 200
    assert client.post("/logout").status_code == 302
    assert client.get("/").status_code == 302


def test_cli_user_create_and_token(app, units):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["user", "create", "zhang", "--role", "liaison", "--unit", "省经信厅", "--password", "Abcdef12!"]
    )
    assert result.exit_code == 0, result.output
    user = session().scalar(select(User).where(User.login == "zhang"))
    assert user.roles == {Role.LIAISON}
    assert user.unit.canonical_name == "浙江省经济和信息化厅"

    result = runner.invoke(args=["user", "token", "zhang"])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    stored = session().scalars(select(ApiToken.token_hash)).all()
    assert token not in stored and len(stored) == 1

    client = app.test_client()
    assert client.get("/api/v1/plans").status_code == 401
    response = client.get("/api/v1/plans", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert client.get("/api/v1/plans", headers={"Authorization": "Bearer sv_wrong"}).status_code == 401


def test_cli_user_create_rejects_bad_input(app, units):
    runner = app.test_cli_runner()
    bad = [
        ["user", "create", "a", "--role", "wizard", "--unit", "省经信厅", "--password", "Abcdef12!"],
        ["user", "create", "a", "--role", "liaison", "--unit", "不存在的单位", "--password", "Abcdef12!"],
        ["user", "create", "a", "--role", "liaison", "--unit", "省经信厅", "--password", "short"],
    ]
    for args in bad:
        result = runner.invoke(args=args)
        assert result.exit_code != 0
        assert "Error" in result.output
    assert session().scalar(select(User).where(User.login == "a")) is None
