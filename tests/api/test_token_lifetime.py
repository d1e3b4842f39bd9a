"""API tokens (issue 9, point 4): they expire (90 days by default,
SUPERVISE_TOKEN_DAYS), show their expiry and last use (profile page and API),
all of a user's tokens are revoked on password change or reset, lock,
disable and role change, and a token cannot be used to list or make tokens."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from supervise.db import session, unit_of_work, utcnow
from supervise.models import ApiToken, AuditEntry, Role, User
from supervise.policy import SYSTEM
from supervise.services import users as user_service

from ..conftest import PASSWORD, login
from .conftest import logged_in, token_for


def _token_row(token: str) -> ApiToken:
    session().rollback()
    return session().scalar(select(ApiToken).where(ApiToken.token_hash == user_service._token_digest(token)))


def test_a_token_expires_after_the_configured_days(app, cast):
    row = _token_row(cast.lead.token)
    assert row.expires_at - row.created_at == timedelta(days=90)
    app.config["TOKEN_DAYS"] = 7
    short = token_for(cast.lead.user)
    row = _token_row(short)
    assert timedelta(days=7) - timedelta(seconds=5) < row.expires_at - utcnow() <= timedelta(days=7)
    assert cast.lead.get("/me", token=short).status_code == 200
    with unit_of_work():
        session().execute(update(ApiToken).where(ApiToken.id == row.id).values(expires_at=utcnow() - timedelta(seconds=1)))
    response = cast.lead.get("/me", token=short)
    assert response.status_code == 401
    # The other token of the user still works; the expired one is listed as such.
    assert cast.lead.get("/me").status_code == 200
    listed = {t["id"]: t for t in logged_in(cast.lead).get("/me/tokens", token=False).get_json()}
    assert listed[row.id]["state"] == "expired" and listed[row.id]["expires_at"]
    assert listed[_token_row(cast.lead.token).id]["state"] == "active"


def test_expiry_and_last_use_are_shown_on_the_profile_page_and_the_api(app, cast):
    lead = logged_in(cast.lead)
    listed = lead.get("/me/tokens", token=False).get_json()
    assert listed[0]["last_used_at"] is None and listed[0]["expires_at"]
    assert cast.lead.get("/me").status_code == 200  # one use of the token
    listed = lead.get("/me/tokens", token=False).get_json()
    assert listed[0]["last_used_at"] is not None and listed[0]["state"] == "active"
    page = lead.client.get("/profile").get_data(as_text=True)
    row = _token_row(cast.lead.token)
    expires = row.expires_at.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d")
    assert "有效期至" in page and expires in page and "最近使用" in page and "从未使用" not in page
    assert "90 天后过期" in page


def test_a_token_cannot_list_or_make_tokens(cast):
    for method, kwargs in (("GET", {}), ("POST", {"json": {"label": "更多令牌"}})):
        response = cast.lead.open(method, "/me/tokens", **kwargs)
        assert response.status_code == 403, response.get_json()
        assert "个人设置" in response.get_json()["message"]
    # Logged in with the password, the same user can.
    lead = logged_in(cast.lead)
    assert lead.get("/me/tokens", token=False).status_code == 200
    assert lead.post("/me/tokens", json={"label": "x"}, token=False).status_code == 201
    # The refusal is in the audit trail.
    session().rollback()
    refusals = session().scalars(select(AuditEntry).where(AuditEntry.action == "access.denied",
                                                          AuditEntry.actor_id == cast.lead.user.id)).all()
    assert len(refusals) == 2 and all(r.detail["by_token"] for r in refusals)


def _user(user) -> User:
    session().rollback()
    return session().get(User, user.id)


def _change_password(app, api):
    with unit_of_work():
        user_service.change_password(_user(api.user), PASSWORD, "Zhe#Jiang-Dcdb-2027")


def _reset_password(app, api):
    with unit_of_work():
        user_service.reset_password(_user(api.user), "Zhe#Jiang-Dcdb-2027", actor=SYSTEM)


def _lock(app, api):
    client = app.test_client()
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        client.post("/login", data={"login": api.user.login, "password": "wrong-Password-1"})
    assert _user(api.user).locked_until is not None


def _disable(app, api):
    with unit_of_work():
        user_service.set_active(_user(api.user), False, actor=SYSTEM)


def _grant_role(app, api):
    with unit_of_work():
        user_service.grant_role(_user(api.user), Role.LEADER, actor=SYSTEM)


def _revoke_role(app, api):
    with unit_of_work():
        user = _user(api.user)
        user_service.grant_role(user, Role.LEADER, actor=SYSTEM)
    # (the grant revoked the first token already; a fresh one for the revoke)
    api.token = token_for(_user(api.user))
    with unit_of_work():
        user_service.revoke_role(_user(api.user), Role.LEADER, actor=SYSTEM)


def _admin_page_reset(app, api):
    admin = app.config["_admin_client"]
    response = admin.post(f"/admin/users/{api.user.id}/password", data={"password": "Zhe#Jiang-Dcdb-2027"})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


@pytest.mark.parametrize("change", [_change_password, _reset_password, _lock, _disable, _grant_role, _revoke_role,
                                    _admin_page_reset])
def test_every_token_of_the_user_is_revoked(app, cast, login_as, change):
    second = token_for(cast.lead.user)
    other_user_token = cast.co.token
    assert cast.lead.get("/me").status_code == 200 and cast.lead.get("/me", token=second).status_code == 200
    admin_client, _ = login_as("admin")
    app.config["_admin_client"] = admin_client
    change(app, cast.lead)
    for token in (cast.lead.token, second):
        assert cast.lead.get("/me", token=token).status_code == 401, change.__name__
        assert _token_row(token).revoked_at is not None
    assert cast.co.get("/me", token=other_user_token).status_code == 200
    session().rollback()
    revoked = session().scalars(select(AuditEntry).where(AuditEntry.action == "token.revoke_all",
                                                         AuditEntry.object_id == cast.lead.user.id)).all()
    assert revoked and revoked[-1].detail["tokens"]
