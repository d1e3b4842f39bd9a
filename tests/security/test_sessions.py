"""Sessions: a new one at login, idle and absolute limits, every session of a
user ended by logout, a password change, a lock or a role change (a copied
cookie included), cookie flags, and no caching of pages with data."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from supervise.policy import SYSTEM
from supervise.db import session, unit_of_work
from supervise.models import Role, User
from supervise.services import users as user_service

from ..conftest import PASSWORD, login


def _fresh(user) -> User:
    session().rollback()
    session().expire_all()
    return session().scalar(select(User).where(User.id == user.id))


def _copy_cookie(app, client):
    """A second browser holding a copy of `client`'s session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def test_login_starts_a_new_session(app, make_user):
    user = make_user("leader")
    client = app.test_client()
    client.get("/login")
    with client.session_transaction() as sess:
        sess["planted"] = "by an attacker"
    before = client.get_cookie("session").value
    login(client, user)
    with client.session_transaction() as sess:
        assert "planted" not in sess
        first_sid = sess["sid"]
    assert client.get_cookie("session").value != before
    client.post("/logout")
    login(client, user)
    with client.session_transaction() as sess:
        assert sess["sid"] != first_sid


def test_idle_session_ends_after_30_minutes(app, make_user):
    user = make_user("leader")
    client = app.test_client()
    login(client, user)
    with client.session_transaction() as sess:
        sess["seen_at"] = time.time() - 29 * 60
    assert client.get("/").status_code == 200  # still alive, and the clock restarts
    with client.session_transaction() as sess:
        assert time.time() - sess["seen_at"] < 60
        sess["seen_at"] = time.time() - 31 * 60
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert "会话已超时" in client.get("/login").get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_session_ends_12_hours_after_login_however_busy(app, make_user):
    user = make_user("leader")
    client = app.test_client()
    login(client, user)
    with client.session_transaction() as sess:
        sess["login_at"] = time.time() - 12 * 3600 - 5
        sess["seen_at"] = time.time()
    assert client.get("/").status_code == 302


def _logout(app, client, user, admin):
    client.post("/logout")


def _change_password(app, client, user, admin):
    response = client.post(
        "/password", data={"current_password": PASSWORD, "new_password": "Newer@2026x", "confirm": "Newer@2026x"}
    )
    assert response.status_code == 302
    # The browser that changed it carries on.
    assert client.get("/").status_code == 200


def _lock(app, client, user, admin):
    other = app.test_client()
    for _ in range(5):
        other.post("/login", data={"login": user.login, "password": "Wrong@Pass1"})


def _role_change(app, client, user, admin):
    with unit_of_work():
        # A coordinator is a privileged account: its roles change on the server (issue 9).
        user_service.grant_role(_fresh(user), Role.LEADER, actor=SYSTEM)


@pytest.mark.parametrize("event", [_logout, _change_password, _lock, _role_change])
def test_events_end_every_session_of_the_user(app, make_user, event):
    admin = make_user("admin")
    user = make_user("coordinator")
    client = app.test_client()
    login(client, user)
    laptop = app.test_client()
    login(laptop, user)
    thief = _copy_cookie(app, client)
    assert thief.get("/").status_code == 200
    event(app, client, user, admin)
    assert thief.get("/").status_code == 302
    assert laptop.get("/").status_code == 302


def test_cookie_flags_and_no_remember_me(app, make_user):
    user = make_user("leader")
    client = app.test_client()
    response = client.post("/login", data={"login": user.login, "password": PASSWORD, "remember": "y"})
    cookies = response.headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("session="))
    assert "HttpOnly" in session_cookie
    assert "SameSite=Lax" in session_cookie
    # A browser-session cookie: no lifetime of its own, and no remember-me cookie.
    assert "Expires" not in session_cookie and "Max-Age" not in session_cookie
    assert not any(c.startswith("remember_token") for c in cookies)


def test_production_cookies_are_secure(app, make_user):
    app.config.update(SESSION_COOKIE_SECURE=True)
    user = make_user("leader")
    response = app.test_client().post("/login", data={"login": user.login, "password": PASSWORD})
    assert "Secure" in next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_pages_with_data_are_not_cached(app, make_user, plan):
    client = app.test_client()
    user = make_user("coordinator")
    login(client, user)
    for url in ["/", "/plans", f"/plans/{plan.id}", "/units"]:
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store", url
    with unit_of_work():
        token = user_service.issue_api_token(_fresh(user))
    api = app.test_client().get("/api/v1/plans", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200 and api.headers["Cache-Control"] == "no-store"
    assert "no-store" not in (client.get("/static/css/app.css").headers.get("Cache-Control") or "")
