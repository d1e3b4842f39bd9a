"""Login (password, then the TOTP code where required), logout, and changing
one's password. The rules are in services/users.py; this module keeps the
session: a fresh one at every login, and the pending half-login between the
password and the code."""
from __future__ import annotations

import secrets
import time
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from .. import db
from ..errors import ValidationError
from ..models import User
from ..policy import home_endpoint
from ..services import users as user_service
from ..services.users import LOGIN_FAILED
from . import acting_user
from .forms import LoginForm

bp = Blueprint("auth", __name__)

THROTTLED = "登录失败次数过多,请稍后再试"
PENDING_SECONDS = 300  # between a right password and the TOTP code


class TotpForm(FlaskForm):
    code = StringField("动态验证码", validators=[DataRequired("请输入 6 位动态验证码"), Length(max=10)])


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("当前密码", validators=[DataRequired("请输入当前密码")])
    new_password = PasswordField("新密码", validators=[DataRequired("请输入新密码")])
    confirm = PasswordField("确认新密码", validators=[DataRequired("请再次输入新密码")])


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: never another host, scheme or '//' URL.
    Browsers drop tabs and newlines inside URLs and read '\\' as '/', so
    "/\\t/evil.example" would become "//evil.example": refuse those too."""
    if not target or any(c.isspace() or ord(c) < 32 or c == "\\" for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def start_session(user: User, *, login_at: float | None = None) -> None:
    """A new session for `user`: nothing from before survives (no session
    fixation; a new CSRF token), and the clocks for the idle and absolute
    limits start (the absolute one keeps running across a renewal)."""
    session.clear()
    login_user(user, remember=False)
    now = time.time()
    session["sid"] = secrets.token_urlsafe(16)
    session["login_at"] = login_at or now
    session["seen_at"] = now


def _complete_login(user: User, next_url: str | None, *, second_factor: bool = False):
    user_service.record_login(user, second_factor=second_factor)
    start_session(user)
    if user.must_change_password:
        flash("您的密码由管理员设置或已被重置,请先修改密码", "warning")
        return redirect(url_for("auth.change_password", next=_safe_next(next_url) or None))
    return redirect(_safe_next(next_url) or url_for(home_endpoint(user)))


def _pending_user() -> User | None:
    pending = session.get("pending_login")
    if not pending or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None
    user = db.session.get(User, pending.get("uid"))
    if user is None or not user.is_active or user.session_epoch != pending.get("epoch"):
        return None
    return user


def _restart_login(message: str = "登录已超时,请重新输入用户名和密码"):
    session.pop("pending_login", None)
    flash(message, "warning")
    return redirect(url_for("auth.login"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for(home_endpoint(current_user)))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        if user_service.login_throttled(g.get("client_ip")):
            user_service.record_throttled(form.login.data)
            db.session.commit()
            form.password.errors.append(THROTTLED)
            return render_template("auth/login.html", form=form), 429
        user = user_service.check_credentials(form.login.data, form.password.data)
        if user is None:
            # Commit the audit row (and the count towards the lock); the
            # answer is the same whatever went wrong.
            db.session.commit()
            form.password.errors.append(LOGIN_FAILED)
            return render_template("auth/login.html", form=form), 200
        step = user_service.second_factor_step(user)
        if step is None:
            return _complete_login(user, form.next.data)
        session.clear()
        session["pending_login"] = {
            "uid": user.id, "epoch": user.session_epoch, "at": time.time(), "next": form.next.data or "",
        }
        return redirect(url_for("auth.totp_verify" if step == "verify" else "auth.totp_enrol"))
    return render_template("auth/login.html", form=form)


@bp.route("/login/verify", methods=["GET", "POST"])
def totp_verify():
    user = _pending_user()
    if user is None or not user.totp_secret:
        return _restart_login()
    form = TotpForm()
    if form.validate_on_submit():
        if user_service.verify_second_factor(user, form.code.data):
            return _complete_login(user, session["pending_login"].get("next"), second_factor=True)
        db.session.commit()
        if user_service.is_locked(user):
            return _restart_login(LOGIN_FAILED)
        form.code.errors.append("动态验证码不正确或已使用,请输入验证器上的新验证码")
    return render_template("auth/totp_verify.html", form=form)


@bp.route("/login/totp-setup", methods=["GET", "POST"])
def totp_enrol():
    user = _pending_user()
    if user is None:
        return _restart_login()
    pending = session["pending_login"]
    if not pending.get("secret"):
        pending["secret"] = user_service.new_totp_secret()
        session.modified = True
    secret = pending["secret"]
    form = TotpForm()
    if form.validate_on_submit():
        if user_service.enrol_totp(user, secret, form.code.data):
            flash("已绑定动态验证码,今后登录须输入验证器上的验证码", "info")
            return _complete_login(user, pending.get("next"), second_factor=True)
        db.session.commit()
        if user_service.is_locked(user):
            return _restart_login(LOGIN_FAILED)
        form.code.errors.append("动态验证码不正确,请核对验证器的时间与密钥后重试")
    return render_template(
        "auth/totp_enrol.html",
        form=form,
        login=user.login,
        secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        uri=user_service.totp_uri(user, secret),
    )


@bp.route("/password", methods=["GET", "POST"])
def change_password():
    user = acting_user()
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if form.new_password.data != form.confirm.data:
            form.confirm.errors.append("两次输入的新密码不一致")
            return render_template("auth/change_password.html", form=form), 400
        try:
            user_service.change_password(user, form.current_password.data, form.new_password.data)
        except ValidationError as exc:
            for name, message in (exc.field_errors or {"new_password": exc.message}).items():
                getattr(form, name, form.new_password).errors.append(message)
            return render_template("auth/change_password.html", form=form), 400
        # The change ended every session of the user; this one goes on renewed.
        start_session(user, login_at=session.get("login_at"))
        flash("密码已修改,您在其他地方的登录已全部退出", "info")
        return redirect(_safe_next(request.args.get("next")) or url_for(home_endpoint(user)))
    return render_template("auth/change_password.html", form=form, forced=user.must_change_password)


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        user_service.log_out(acting_user())
    logout_user()
    session.clear()
    flash("您已安全退出", "info")
    return redirect(url_for("auth.login"))


def session_limits() -> tuple[int, int]:
    """(idle, absolute) limits of a session in seconds."""
    c = current_app.config
    return c.get("SESSION_IDLE_MINUTES", 30) * 60, c.get("SESSION_MAX_HOURS", 12) * 3600
