"""身份鉴别: password policy and history, lockout, must-change, TOTP, and the
per-address limit on failed logins."""
from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from supervise.db import session, unit_of_work, utcnow
from supervise.errors import ValidationError
from supervise.models import AuditEntry, User
from supervise.services import users as user_service

from ..conftest import PASSWORD, login

FAILED = "用户名或密码错误"


def _actions() -> list[str]:
    session().rollback()
    return list(session().scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def _user(login_name: str) -> User:
    # What the requests committed, not what this session remembers.
    session().rollback()
    session().expire_all()
    return session().scalar(select(User).where(User.login == login_name))


@pytest.mark.parametrize(
    "password, ok",
    [
        ("Ab1!", False),  # short
        ("abcdefgh", False),  # one class
        ("abcdefg1", False),  # two classes
        ("xqzmrk1!", True),  # lower, digit, other
        ("Xqzmrkw1", True),  # upper, lower, digit
        ("Abcdefg1", False),  # three classes, but on the common-passwords list
        ("XQZMRK1!", True),
        ("密码很长很长很长a1", False),  # Chinese letters are letters of no case: two classes
    ],
)
def test_password_policy(ctx, password, ok):
    if ok:
        user_service.check_password_strength(password, "zhangsan")
    else:
        with pytest.raises(ValidationError):
            user_service.check_password_strength(password, "zhangsan")


def test_password_may_not_contain_the_login(ctx):
    with pytest.raises(ValidationError, match="登录名"):
        user_service.check_password_strength("Zhangsan@2026", "zhangsan")


def test_demo_and_test_passwords_meet_the_policy(ctx):
    user_service.check_password_strength("Demo@2026a", "coordinator")
    user_service.check_password_strength(PASSWORD, "liaison1")


def _wrong(client, login_name, times=1, **kw):
    for _ in range(times):
        response = client.post("/login", data={"login": login_name, "password": "Wrong@Pass1"}, **kw)
        assert response.status_code == 200
        assert FAILED in response.get_data(as_text=True)


def test_five_failures_lock_the_account_with_the_same_message(client, make_user):
    user = make_user("liaison", unit="省经信厅")
    _wrong(client, user.login, 4)
    assert _user(user.login).failed_logins == 4
    _wrong(client, user.login)
    locked = _user(user.login)
    assert locked.locked_until is not None
    assert timedelta(minutes=14) < locked.locked_until - utcnow() <= timedelta(minutes=15)
    # Now even the right password gets the answer an unknown login gets.
    response = client.post("/login", data={"login": user.login, "password": PASSWORD})
    assert response.status_code == 200
    assert FAILED in response.get_data(as_text=True)
    unknown = client.post("/login", data={"login": "nobody-at-all", "password": PASSWORD})
    assert FAILED in unknown.get_data(as_text=True)
    assert client.get("/").status_code == 302
    actions = _actions()
    assert actions.count("login.failed") == 7
    assert actions.count("login.locked") == 1
    reasons = [
        e.detail.get("reason")
        for e in session().scalars(select(AuditEntry).where(AuditEntry.action == "login.failed").order_by(AuditEntry.id))
    ]
    assert reasons == ["password"] * 5 + ["locked", "unknown"]
    # The lock ends on its own.
    with unit_of_work():
        _user(user.login).locked_until = utcnow() - timedelta(seconds=1)
    login(client, user)


def test_lockout_is_configurable(app, client, make_user):
    app.config.update(LOGIN_MAX_FAILURES=3, LOGIN_LOCK_MINUTES=60)
    user = make_user("leader")
    _wrong(client, user.login, 3)
    locked = _user(user.login)
    assert timedelta(minutes=59) < locked.locked_until - utcnow() <= timedelta(minutes=60)


def test_a_success_resets_the_count(client, make_user):
    user = make_user("leader")
    _wrong(client, user.login, 4)
    login(client, user)
    assert _user(user.login).failed_logins == 0
    assert _user(user.login).locked_until is None


def test_failed_logins_are_limited_per_address(app, make_user):
    app.config.update(LOGIN_RATE_LIMIT=3)
    user = make_user("leader")
    attacker = app.test_client()
    for n in range(3):
        _wrong(attacker, f"guess{n}", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    # From that address even a right password is refused for a while...
    response = attacker.post(
        "/login", data={"login": user.login, "password": PASSWORD}, environ_base={"REMOTE_ADDR": "10.0.0.9"}
    )
    assert response.status_code == 429
    assert "登录失败次数过多" in response.get_data(as_text=True)
    assert "login.throttled" in _actions()
    # ...while other addresses are not affected.
    other = app.test_client()
    response = other.post(
        "/login", data={"login": user.login, "password": PASSWORD}, environ_base={"REMOTE_ADDR": "10.0.0.10"}
    )
    assert response.status_code == 302


def test_admin_set_password_must_be_changed_at_first_login(app, units):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["user", "create", "wang", "--role", "coordinator", "--unit", "省商务厅", "--password", "Temp@2026x"]
    )
    assert result.exit_code == 0, result.output
    client = app.test_client()
    response = login(client, "wang", "Temp@2026x")
    assert response.headers["Location"].startswith("/password")
    # Every page leads to the change first.
    assert client.get("/plans").headers["Location"].endswith("/password")
    page = client.get("/password").get_data(as_text=True)
    assert "须先修改密码" in page
    # Same password again, weak, mismatched: refused with a message.
    for new, confirm, message in [
        ("Temp@2026x", "Temp@2026x", "最近 5 次"),
        ("weakweak", "weakweak", "至少三类"),
        ("Good@2026pw", "Other@2026pw", "不一致"),
    ]:
        response = client.post(
            "/password", data={"current_password": "Temp@2026x", "new_password": new, "confirm": confirm}
        )
        assert response.status_code == 400
        assert message in response.get_data(as_text=True)
    response = client.post(
        "/password", data={"current_password": "Temp@2026x", "new_password": "Good@2026pw", "confirm": "Good@2026pw"}
    )
    assert response.status_code == 302
    assert client.get("/plans").status_code == 200
    assert _user("wang").must_change_password is False
    assert "password.change" in _actions()


def test_admin_reset_forces_a_change_and_ends_sessions(app, make_user):
    admin = make_user("admin")
    user = make_user("liaison", unit="省经信厅")
    client = app.test_client()
    login(client, user)
    with unit_of_work():
        user_service.reset_password(_user(user.login), "Reset@2026x", actor=_user(admin.login))
    assert client.get("/").status_code == 302  # the old session is gone
    fresh = app.test_client()
    assert login(fresh, user, "Reset@2026x").headers["Location"].startswith("/password")


def test_the_last_five_passwords_cannot_be_reused(ctx, make_user):
    user = make_user("leader", password="Pass@0000a")
    history = ["Pass@0000a"]
    for n in range(1, 6):
        new = f"Pass@{n}{n}{n}{n}a"
        with unit_of_work():
            user_service.change_password(_user(user.login), history[-1], new)
        history.append(new)
    for old in history[1:]:
        with pytest.raises(ValidationError, match="最近 5 次"):
            with unit_of_work():
                user_service.change_password(_user(user.login), history[-1], old)
    # The sixth password back may be used again.
    with unit_of_work():
        user_service.change_password(_user(user.login), history[-1], history[0])


def _pending_secret(client) -> str:
    with client.session_transaction() as sess:
        return sess["pending_login"]["secret"]


def test_totp_is_required_for_coordinators_when_switched_on(app, make_user):
    app.config.update(TOTP_ENABLED=True)
    coordinator = make_user("coordinator")
    client = app.test_client()
    response = client.post("/login", data={"login": coordinator.login, "password": PASSWORD})
    assert response.headers["Location"].endswith("/login/totp-setup")
    assert client.get("/").status_code == 302  # not logged in yet
    page = client.get("/login/totp-setup").get_data(as_text=True)
    assert "绑定动态验证码" in page
    secret = _pending_secret(client)
    assert " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) in page
    assert client.post("/login/totp-setup", data={"code": "000000"}).status_code == 200
    code = pyotp.TOTP(secret).now()
    response = client.post("/login/totp-setup", data={"code": code})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert _user(coordinator.login).totp_secret == secret

    # The next login asks for a code; a wrong one and a replayed one fail.
    second = app.test_client()
    response = second.post("/login", data={"login": coordinator.login, "password": PASSWORD})
    assert response.headers["Location"].endswith("/login/verify")
    assert second.post("/login/verify", data={"code": "123456"}).status_code == 200
    assert second.post("/login/verify", data={"code": code}).status_code == 200  # already used
    assert second.get("/").status_code == 302
    import time

    next_code = pyotp.TOTP(secret).at(time.time() + 30)
    assert second.post("/login/verify", data={"code": next_code}).status_code == 302
    assert second.get("/").status_code == 200
    actions = _actions()
    assert "totp.enrol" in actions and actions.count("login") == 2


def test_totp_not_asked_of_liaisons_nor_when_switched_off(app, make_user):
    liaison = make_user("liaison", unit="省经信厅")
    coordinator = make_user("coordinator")
    app.config.update(TOTP_ENABLED=True)
    assert login(app.test_client(), liaison).headers["Location"] == "/"
    app.config.update(TOTP_ENABLED=False)
    assert login(app.test_client(), coordinator).headers["Location"] == "/"


def test_wrong_totp_codes_count_towards_the_lock(app, make_user):
    app.config.update(TOTP_ENABLED=True)
    admin = make_user("admin")
    with unit_of_work():
        _user(admin.login).totp_secret = pyotp.random_base32()
    client = app.test_client()
    client.post("/login", data={"login": admin.login, "password": PASSWORD})
    for _ in range(4):
        assert client.post("/login/verify", data={"code": "000000"}).status_code == 200
    response = client.post("/login/verify", data={"code": "000000"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert _user(admin.login).locked_until is not None
