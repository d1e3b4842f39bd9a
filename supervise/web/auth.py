"""Login and logout."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user

from .. import db
from ..policy import home_endpoint
from ..services import audit
from ..services.users import LOGIN_FAILED, authenticate
from .forms import LoginForm

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: never another host, scheme or '//' URL."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for(home_endpoint(current_user)))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        user = authenticate(form.login.data, form.password.data)
        if user is None:
            # Commit the audit row of the failure; the answer stays vague.
            db.session.commit()
            form.password.errors.append(LOGIN_FAILED)
            return render_template("auth/login.html", form=form), 200
        login_user(user)
        return redirect(_safe_next(form.next.data) or url_for(home_endpoint(user)))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        user = current_user._get_current_object()
        audit.record(user, "logout", obj=user)
        # Ends this session and any copy of its cookie.
        user.session_epoch += 1
    logout_user()
    flash("您已安全退出", "info")
    return redirect(url_for("auth.login"))
