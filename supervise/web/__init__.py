"""The web layer: blueprints (HTML) and the JSON API. Thin: load, authorize,
validate, call a service, respond. The request commits once, at its end."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask, g, jsonify, render_template, request
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from .. import db
from ..errors import Conflict, DomainError
from ..models import Role, User

login_manager = LoginManager()
csrf = CSRFProtect()


def acting_user() -> User:
    """The logged-in user as the model object services expect (not a proxy)."""
    return current_user._get_current_object()


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def init_web(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "请先登录"
    login_manager.login_message_category = "warning"
    csrf.init_app(app)

    from . import admin, api, audit, auth, dashboard, main

    app.register_blueprint(auth.bp)
    app.register_blueprint(main.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(audit.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(api.bp)
    # The API authenticates with bearer tokens, not the session cookie.
    csrf.exempt(api.bp)

    tz = ZoneInfo(app.config.get("TIMEZONE", "Asia/Shanghai"))

    @app.template_filter("localtime")
    def _localtime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return value.astimezone(tz).strftime(fmt) if value else ""

    @app.template_filter("num")
    def _num(value) -> str:
        from ..serialize import number

        n = number(value)
        if n is None:
            return "—"
        return f"{n:,}" if isinstance(n, int) else f"{n:,.2f}".rstrip("0").rstrip(".")

    @app.context_processor
    def _template_globals():
        from ..policy import permissions

        user = current_user if current_user and current_user.is_authenticated else None
        return {"Role": Role, "current_user_perms": permissions(user)}

    @app.before_request
    def _remember_client() -> None:
        g.client_ip = request.remote_addr
        # Requests that may change data take SQLite's write lock up front.
        db.declare_write_intent(request.method not in ("GET", "HEAD", "OPTIONS"))

    @app.before_request
    def _require_login():
        # Everything but the login page and static files needs a login.
        if request.endpoint in (None, "static", "auth.login") or request.endpoint.startswith("api."):
            return None
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        return None

    @app.after_request
    def _finish(response):
        # One commit per request, and only for a request that succeeded.
        try:
            if response.status_code < 400:
                db.session.commit()
            else:
                db.session.rollback()
        except StaleDataError:
            db.session.rollback()
            return _error_response(Conflict())
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
        )
        if current_user.is_authenticated and request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError):
        db.session.rollback()
        return _error_response(exc)

    @app.errorhandler(StaleDataError)
    def _stale(exc: StaleDataError):
        db.session.rollback()
        return _error_response(Conflict())

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        db.session.rollback()
        if is_api_request():
            return jsonify(error=exc.name.lower().replace(" ", "_"), message=_http_message(exc)), exc.code
        return render_template("errors/error.html", status=exc.code, message=_http_message(exc)), exc.code


def _http_message(exc: HTTPException) -> str:
    messages = {
        400: "请求无效",
        401: "请先登录",
        403: "您没有权限访问此页面",
        404: "页面不存在,或您无权查看",
        405: "不支持该请求方式",
        413: "上传的文件过大",
        429: "请求过于频繁,请稍后再试",
    }
    return messages.get(exc.code or 500, exc.description or "出现错误")


def _error_response(exc: DomainError):
    if is_api_request():
        body = {"error": exc.code, "message": exc.message}
        if exc.field_errors:
            body["fields"] = exc.field_errors
        return jsonify(body), exc.status
    return render_template("errors/error.html", status=exc.status, message=exc.message), exc.status


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    # The id carries the session epoch: bumping it ends every session.
    try:
        uid, epoch = (int(part) for part in user_id.split(":", 1))
    except ValueError:
        return None
    user = db.session.get(User, uid)
    if user is None or not user.is_active or user.session_epoch != epoch:
        return None
    return user


@login_manager.request_loader
def _load_user_from_token(req) -> User | None:
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    from ..services.users import user_for_token

    return user_for_token(header[7:].strip())


@login_manager.unauthorized_handler
def _unauthorized():
    from flask import flash, redirect, url_for

    if is_api_request():
        return jsonify(error="unauthorized", message="需要登录或有效的 API 令牌"), 401
    flash("请先登录", "warning")
    return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))
