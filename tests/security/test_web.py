"""The web layer: CSRF on every form and on cookie-authenticated API calls,
security headers, escaping, safe `next`, and production's refusals."""
from __future__ import annotations

import re

import pytest
from flask import jsonify
from flask_login import current_user
from sqlalchemy import select

from config import DevelopmentConfig
from supervise import create_app
from supervise.db import session, unit_of_work
from supervise.models import AuditEntry, Task
from supervise.services.users import issue_api_token

from ..conftest import PASSWORD, ROOT, IsolatedClient

TOKEN_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def _token(html: str) -> str:
    match = TOKEN_RE.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1) or match.group(2)


@pytest.fixture
def csrf_app(db_url, tmp_path):
    """The application as in production: CSRF checks on."""
    app = create_app(
        "testing", DATABASE_URL=db_url, WTF_CSRF_ENABLED=True, INSTANCE_DIR=tmp_path,
        EVIDENCE_DIR=tmp_path / "evidence", ARCHIVE_DIR=tmp_path / "archive",
    )
    app.test_client_class = IsolatedClient

    @app.post("/api/v1/_probe")
    def _probe():  # a state-changing API call, for the test
        return jsonify(user=current_user.login)

    # Exempt from the form check like the API blueprint is.
    from supervise.web import csrf

    csrf.exempt(_probe)

    yield app
    app.extensions["supervise.engine"].dispose()


def _login(client, user) -> None:
    token = _token(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"login": user.login, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302


def test_forms_without_a_token_are_refused(csrf_app, make_user, plan):
    user = make_user("coordinator")
    client = csrf_app.test_client()
    response = client.post("/login", data={"login": user.login, "password": PASSWORD})
    assert response.status_code == 400
    assert "安全令牌" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302  # not logged in
    _login(client, user)
    task = session().scalar(select(Task).where(Task.plan_id == plan.id, Task.number == 1))
    lead = task.lead.unit_id
    response = client.post(f"/tasks/{task.id}", data={"action": "remove", "unit_id": task.co_units[0].unit_id})
    assert response.status_code == 400
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200  # still logged in: the logout was refused
    session().rollback()
    assert len(session().get(Task, task.id).units) == len(task.units)
    assert session().scalars(select(AuditEntry.action).where(AuditEntry.task_id == task.id)).all() == []
    # With the page's token the same form works.
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    response = client.post(
        f"/tasks/{task.id}", data={"action": "set_lead", "unit_id": lead, "csrf_token": _token(page)}
    )
    assert response.status_code == 302


def test_every_post_form_carries_a_token(csrf_app, make_user, plan):
    client = csrf_app.test_client()
    _login(client, make_user("coordinator"))
    task = session().scalar(select(Task).where(Task.plan_id == plan.id, Task.number == 1))
    for url in ["/", f"/tasks/{task.id}", "/password"]:
        html = client.get(url).get_data(as_text=True)
        forms = re.findall(r"<form[^>]*method=\"post\".*?</form>", html, flags=re.S | re.I)
        assert forms, url
        for form in forms:
            # Prefixed forms (several on one page) carry "<prefix>-csrf_token",
            # which Flask-WTF's CSRF check accepts as well.
            assert re.search(r'name="([\w-]+-)?csrf_token"', form), (url, form[:200])


def test_cookie_api_calls_need_the_csrf_token(csrf_app, make_user):
    user = make_user("leader")
    client = csrf_app.test_client()
    _login(client, user)
    response = client.post("/api/v1/_probe")
    assert response.status_code == 400
    assert response.get_json()["error"] == "csrf_failed"
    token = _token(client.get("/password").get_data(as_text=True))
    response = client.post("/api/v1/_probe", headers={"X-CSRFToken": token})
    assert response.status_code == 200 and response.get_json()["user"] == user.login
    # A bearer token cannot be sent by another site: no CSRF token needed.
    with unit_of_work():
        bearer = issue_api_token(session().merge(user))
    response = csrf_app.test_client().post("/api/v1/_probe", headers={"Authorization": f"Bearer {bearer}"})
    assert response.status_code == 200


def test_security_headers(client, login_as):
    for c, url in [(client, "/login"), (login_as("leader")[0], "/")]:
        response = c.get(url)
        csp = response.headers["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
        assert directives["script-src"] == "'self'"
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert directives["frame-ancestors"] == "'none'"
        assert directives["object-src"] == "'none'"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] in ("same-origin", "no-referrer", "strict-origin-when-cross-origin")


def test_templates_have_no_inline_script():
    # The CSP forbids inline script; a template that had some would break.
    for path in (ROOT / "templates").rglob("*.html"):
        html = path.read_text(encoding="utf-8")
        for tag in re.findall(r"<script[^>]*>", html, flags=re.I):
            # A JSON data block is not executed (the dashboard's numbers).
            assert "src=" in tag or 'type="application/json"' in tag, path
        assert not re.search(r"\son[a-z]+\s*=", html, flags=re.I), path
        assert "javascript:" not in html.lower(), path


def test_user_text_is_escaped(app, make_user, plan):
    evil = '<script>alert("x")</script>'
    user = make_user("coordinator", name=evil)
    client = app.test_client()
    client.post("/login", data={"login": user.login, "password": PASSWORD})
    html = client.get("/").get_data(as_text=True)
    assert evil not in html and "&lt;script&gt;" in html
    # A login attempt with markup as the name, then read in the audit log.
    app.test_client().post("/login", data={"login": '<img src=x onerror=alert(1)>', "password": "x"})
    auditor = make_user("auditor")
    reader = app.test_client()
    reader.post("/login", data={"login": auditor.login, "password": PASSWORD})
    html = reader.get("/audit/").get_data(as_text=True)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


@pytest.mark.parametrize(
    "evil",
    [
        "https://evil.example/", "//evil.example/x", "/\\evil.example", "\\\\evil.example", "/\t/evil.example",
        "/\n/evil.example", " //evil.example", "javascript:alert(1)", "https:evil.example", "///evil.example",
        "evil.example",
    ],
)
def test_next_never_leads_off_site(app, make_user, evil):
    user = make_user("leader")
    response = app.test_client().post("/login", data={"login": user.login, "password": PASSWORD, "next": evil})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_production_refuses_debug_and_weak_keys(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'p.sqlite3'}")
    good = "k3Y-" + "0123456789abcdef" * 3
    monkeypatch.setenv("SUPERVISE_AUDIT_KEY", "aUd-" + "fedcba9876543210" * 3)
    for weak in ["x" * 48, "ab" * 30, DevelopmentConfig.SECRET_KEY, "short-Key-1"]:
        monkeypatch.setenv("SECRET_KEY", weak)
        with pytest.raises(RuntimeError, match="SECRET_KEY"):
            create_app("production")
    monkeypatch.setenv("SECRET_KEY", good)
    monkeypatch.setenv("FLASK_DEBUG", "1")
    with pytest.raises(RuntimeError, match="DEBUG"):
        create_app("production")
    monkeypatch.delenv("FLASK_DEBUG")
    with pytest.raises(RuntimeError, match="DEBUG"):
        create_app("production", DEBUG=True)
    assert create_app("production").config["SESSION_COOKIE_SECURE"] is True
