"""The web layer: blueprints (HTML) and the JSON API. Thin: load, authorize,
validate, call a service, respond. The request commits once, at its end."""
from __future__ import annotations

import json
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask, flash, g, jsonify, redirect, render_template, request, session, url_for
from flask_login import LoginManager, current_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy import bindparam, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import IntegerConverter

from .. import db
from ..domain.text import has_lone_surrogate
from ..errors import Conflict, DomainError, ValidationError
from ..models import Role, User

# The largest id or integer the database holds (INTEGER on PostgreSQL).
MAX_INT = 2**31 - 1

login_manager = LoginManager()
csrf = CSRFProtect()

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Reachable without a login: the login steps themselves and static files.
PUBLIC_ENDPOINTS = frozenset({None, "static", "favicon", "auth.login", "auth.totp_verify", "auth.totp_enrol"})


def acting_user() -> User:
    """The logged-in user as the model object services expect (not a proxy)."""
    return current_user._get_current_object()


def authenticated_by_token() -> bool:
    """This request's user came from an `Authorization: Bearer` token."""
    return bool(g.get("token_user_id"))


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def _logged_in_by_cookie() -> bool:
    # Flask-Login keeps the user id in the session; API tokens never do.
    return "_user_id" in session


class BoundedIntConverter(IntegerConverter):
    """`<int:…>` in every route, bounded to the database's INTEGER: an id
    past it cannot exist, so it is a 404 (not an overflow in the driver)."""

    def to_python(self, value: str) -> int:
        number = super().to_python(value)
        if number > MAX_INT:
            # Not the converter's ValidationError: with it Werkzeug tries the
            # path's other rules and answers 405 for a PATCH, not 404.
            raise NotFound()
        return number


def init_web(app: Flask) -> None:
    app.url_map.converters["int"] = BoundedIntConverter
    if app.config.get("CONFIG_NAME") == "production" and app.debug:
        raise RuntimeError("生产环境不得开启调试模式 (production refuses to start with DEBUG on)")
    if app.config.get("PROXY_COUNT"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Behind nginx the socket's peer is the proxy; trust exactly the
        # configured number of X-Forwarded-* hops for the client's address,
        # which the login rate limit and the audit trail key on.
        n = int(app.config["PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "请先登录"
    login_manager.login_message_category = "warning"
    csrf.init_app(app)

    from . import admin, api, audit, auth, dashboard, main, plan_admin
    from . import notifications, profile, reports, tasks, work

    app.register_blueprint(auth.bp)
    app.register_blueprint(plan_admin.bp)
    app.register_blueprint(main.bp)
    for page_bp in (reports.bp, tasks.bp, work.bp, notifications.bp, profile.bp):
        app.register_blueprint(page_bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(audit.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(api.bp)

    from . import reminders

    app.register_blueprint(reminders.bp)
    # The API authenticates with bearer tokens, not the session cookie.
    csrf.exempt(api.bp)

    @app.route("/favicon.ico")
    def favicon():
        # Browsers ask for it on every page; served from static/, cached a day.
        return app.send_static_file("favicon.ico"), 200, {"Cache-Control": "public, max-age=86400"}

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

    from .. import labels

    app.add_template_filter(labels.event_label, "event_label")
    app.add_template_filter(labels.state_label, "state_label")
    app.add_template_filter(labels.object_label, "object_label")
    app.add_template_filter(labels.person, "person")
    app.add_template_filter(labels.changes, "changes")
    app.add_template_filter(labels.job_label, "job_label")
    app.add_template_filter(labels.trigger_label, "trigger_label")
    app.add_template_filter(labels.reminder_label, "reminder_label")
    app.add_template_filter(labels.chinese_day, "chinese_day")

    @app.template_filter("actor")
    def _actor(entry) -> str:
        """Who did what an audit row records: name and unit, not the login name."""
        if entry.actor_id is not None:
            user = db.session.get(User, entry.actor_id)
            if user is not None:
                return labels.person(user)
        if entry.actor_login == "cli":
            return "命令行(系统管理员)"
        if not entry.actor_login:
            return "系统"
        # A failed login by a name that is no account: shown as typed.
        return entry.actor_login

    # base.html's links (navigation, style sheet, script) are the same on
    # every page: each built by url_for once per script root (the prefix the
    # application is mounted under), not ~20 times a page.
    nav_urls: dict[tuple, str] = {}

    @app.template_global()
    def nav_url(endpoint: str, **values) -> str:
        key = (request.script_root, endpoint, *sorted(values.items()))
        url = nav_urls.get(key)
        if url is None:
            url = nav_urls[key] = url_for(endpoint, **values)
        return url

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
    def _refuse_malformed_input():
        # Input no handler can make sense of is refused here, once, with 400
        # and a message: a lone surrogate ("\ud800", no character at all:
        # the database driver cannot encode it) or JSON nested deeper than
        # any request of ours (the parser would run out of stack). Nothing
        # has been read or changed yet.
        problem = _malformed_input()
        if problem:
            return _error_response(ValidationError(problem))
        return None

    @app.before_request
    def _session_limits():
        # A session ends after SESSION_IDLE_MINUTES without a request, or
        # SESSION_MAX_HOURS after login. The times live in the signed cookie,
        # so an old copy of the cookie carries its old, expired times.
        if request.endpoint == "static" or not _logged_in_by_cookie():
            return None
        from .auth import session_limits

        idle, absolute = session_limits()
        now = time.time()
        login_at, seen_at = session.get("login_at"), session.get("seen_at")
        if login_at is None or seen_at is None or now - seen_at > idle or now - login_at > absolute:
            logout_user()
            session.clear()
            if is_api_request():
                return jsonify(error="session_expired", message="会话已超时,请重新登录"), 401
            flash("会话已超时,请重新登录", "warning")
            return redirect(url_for("auth.login"))
        if now - seen_at > 10:
            session["seen_at"] = now
        return None

    @app.before_request
    def _csrf_for_cookie_api():
        # The API is exempt from the form CSRF check because bearer tokens
        # cannot be sent by another site; a call that rides on the session
        # cookie can, so it must carry the token (X-CSRFToken header).
        if not is_api_request() or request.method in SAFE_METHODS or not app.config.get("WTF_CSRF_ENABLED", True):
            return None
        if request.headers.get("Authorization", "").startswith("Bearer "):
            return None
        csrf.protect()
        return None

    @app.before_request
    def _require_login():
        # Everything but the login page and static files needs a login.
        if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint.startswith("api."):
            return None
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        # A password set by an administrator is changed before anything else.
        if (
            current_user.must_change_password
            and _logged_in_by_cookie()
            and request.endpoint not in ("auth.change_password", "auth.logout")
        ):
            return redirect(url_for("auth.change_password"))
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
        except (OperationalError, PoolTimeout) as exc:
            return _database_unavailable(exc)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
        )
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if request.endpoint not in ("static", "favicon"):
            # Pages and API answers carry data (or a CSRF token): never kept
            # by the browser or a proxy, so "back" after logout shows nothing.
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):
        db.session.rollback()
        message = "页面已过期或缺少安全令牌,请刷新页面后重试"
        if is_api_request():
            return jsonify(error="csrf_failed", message=message + "(使用 Cookie 调用接口时须带 X-CSRFToken 请求头)"), 400
        return render_template("errors/error.html", status=400, message=message), 400

    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError):
        db.session.rollback()
        if exc.status == 403:
            record_refusal(exc.message)
        return _error_response(exc)

    @app.errorhandler(StaleDataError)
    def _stale(exc: StaleDataError):
        db.session.rollback()
        return _error_response(Conflict())

    @app.errorhandler(OperationalError)
    @app.errorhandler(PoolTimeout)
    def _database_error(exc):
        return _database_unavailable(exc)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        db.session.rollback()
        if exc.code == 403:
            record_refusal(_http_message(exc))
        if is_api_request():
            error = "payload_too_large" if exc.code == 413 else exc.name.lower().replace(" ", "_")
            return jsonify(error=error, message=_http_message(exc)), exc.code
        return render_template("errors/error.html", status=exc.code, message=_http_message(exc)), exc.code


def record_refusal(message: str) -> None:
    """A refused attempt to act (403) is audited: who tried what, where.
    Nothing else of the refused request is kept: its transaction is rolled
    back here (a view that catches the refusal may not have), and the row is
    written in a short transaction of its own (`db.separate_write()`), so no
    view commits. Failing to write it must not turn the 403 into a 500."""
    from flask import current_app
    from sqlalchemy import inspect

    from ..audit import record

    try:
        acting = current_user._get_current_object() if current_user else None
        # The id without a refresh: after the rollback the object is expired.
        actor_id = inspect(acting).identity[0] if isinstance(acting, User) else None
        detail = {"method": request.method, "path": request.path[:200], "endpoint": request.endpoint or "",
                  "message": (message or "")[:200], "by_token": authenticated_by_token()}
        db.session.rollback()
        with db.separate_write() as sess:
            actor = sess.get(User, actor_id) if actor_id is not None else None
            record(actor, "access.denied", actor_login="" if actor else "anonymous", detail=detail, sess=sess)
    except Exception as exc:  # noqa: BLE001 - the refusal itself is what the user must see
        db.session.rollback()
        current_app.logger.warning("could not audit a refused request: %s", exc)


MAX_JSON_DEPTH = 32
SURROGATE_MESSAGE = "请求中含有无效字符(孤立的 UTF-16 代理码位),请检查输入的文字"


def _malformed_input() -> str | None:
    for key, value in request.args.items(multi=True):
        if has_lone_surrogate(key) or has_lone_surrogate(value):
            return SURROGATE_MESSAGE
    if request.method in SAFE_METHODS:
        return None
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        for key, value in request.form.items(multi=True):
            if has_lone_surrogate(key) or has_lone_surrogate(value):
                return SURROGATE_MESSAGE
        for storage in request.files.values():
            if has_lone_surrogate(storage.filename or ""):
                return SURROGATE_MESSAGE
        return None
    if not (request.is_json or is_api_request()):
        return None
    body = request.get_data(cache=True)
    if not body:
        return None
    try:
        data = json.loads(body)
    except RecursionError:
        return f"JSON 嵌套层数过多(最多 {MAX_JSON_DEPTH} 层)"
    except ValueError:
        return None  # not JSON: the handler's own check says what it expects
    return _json_problem(data)


def _json_problem(data) -> str | None:
    """Walk the parsed JSON without recursion: too deep, or a lone surrogate."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return f"JSON 嵌套层数过多(最多 {MAX_JSON_DEPTH} 层)"
        if isinstance(value, str):
            if has_lone_surrogate(value):
                return SURROGATE_MESSAGE
        elif isinstance(value, dict):
            for key, item in value.items():
                if has_lone_surrogate(key):
                    return SURROGATE_MESSAGE
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
    return None


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
    if exc.code == 413:
        from flask import current_app

        return f"上传的文件过大,上限为 {current_app.config.get('MAX_UPLOAD_MB', 50)} MB"
    return messages.get(exc.code or 500, exc.description or "出现错误")


DATABASE_BUSY_MESSAGE = "数据库暂时繁忙或不可用,本次操作未保存,请稍后重试"
RETRY_AFTER_SECONDS = 5


def _database_unavailable(exc: Exception):
    """The database was locked beyond the busy timeout, or is gone: nothing
    of the request is kept (rolled back), and the client is told to retry."""
    from flask import current_app

    current_app.logger.warning("database unavailable: %s", exc)
    try:
        db.session.rollback()
    except Exception:  # the connection itself may be dead
        current_app.logger.exception("rollback after a database error failed")
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}
    if is_api_request():
        return jsonify(error="database_unavailable", message=DATABASE_BUSY_MESSAGE), 503, headers
    # Rendered without the context processors: they look up the user, in
    # the database that just failed.
    page = current_app.jinja_env.get_template("errors/unavailable.html").render(
        status=503, message=DATABASE_BUSY_MESSAGE, retry_after=RETRY_AFTER_SECONDS)
    return page, 503, headers


def _error_response(exc: DomainError):
    if is_api_request():
        body = {"error": exc.code, "message": exc.message}
        if exc.field_errors:
            body["fields"] = exc.field_errors
        return jsonify(body), exc.status
    return render_template("errors/error.html", status=exc.status, message=exc.message), exc.status


# Every request of a logged-in user loads it: the user, its unit (joined by
# the mapping) and its roles in one statement rather than two.
_USER_WITH_ROLES = select(User).options(joinedload(User.role_grants)).where(User.id == bindparam("uid"))


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    # The id carries the session epoch: bumping it ends every session.
    try:
        uid, epoch = (int(part) for part in user_id.split(":", 1))
    except ValueError:
        return None
    # One statement: the user with the unit and the roles (User.role_grants
    # is otherwise a second, selectin query), prebuilt once.
    user = db.session.execute(_USER_WITH_ROLES, {"uid": uid}).unique().scalar_one_or_none()
    if user is None or not user.is_active or user.session_epoch != epoch:
        return None
    return user


@login_manager.request_loader
def _load_user_from_token(req) -> User | None:
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    from ..services.users import user_for_token

    user = user_for_token(header[7:].strip())
    if user is not None:
        g.token_user_id = user.id
    return user


@login_manager.unauthorized_handler
def _unauthorized():
    from flask import flash, redirect, url_for

    if is_api_request():
        return jsonify(error="unauthorized", message="需要登录或有效的 API 令牌"), 401
    # The home page is where everyone starts: going there is not a mistake to
    # warn about. Any other page says why the login page came up.
    if request.path != "/":
        flash("请先登录", "warning")
    return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))
