"""The database locked or gone during a submission: the API answers 503
with a Chinese message and Retry-After, a page says so readably, nothing of
the request is stored (no version, no state change, no file), and the same
call succeeds once the database is back.

SQLite: another connection holds the write lock longer than the (configured,
here short) busy timeout. PostgreSQL: the server ends the request's
connection half-way through the submission (pg_terminate_backend), and an
app whose server is not running."""
from __future__ import annotations

import io
import sqlite3
import time
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from supervise import create_app
from supervise.db import make_engine
from tests.api.conftest import check_against_spec, db_state
from tests.conftest import BACKEND, PG_ADMIN_URL, IsolatedClient, login
from tests.reminders.conftest import free_port

from .conftest import report_state, versions_of

BUSY_MS = 300
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def short_busy(app):
    """The app's engine with a busy timeout of BUSY_MS (SUPERVISE_SQLITE_BUSY_TIMEOUT_MS)."""
    old = app.extensions["supervise.engine"]
    app.config["SQLITE_BUSY_TIMEOUT_MS"] = BUSY_MS
    app.extensions["supervise.engine"] = make_engine(app.config["DATABASE_URL"], busy_timeout_ms=BUSY_MS)
    old.dispose()
    return app


@contextmanager
def fault_during_submission(app):
    """SQLite: hold the write lock from another connection for the whole
    block. PostgreSQL: end the connection of whoever writes the submitted
    version, at the moment it writes it."""
    if BACKEND == "sqlite":
        path = make_url(app.config["DATABASE_URL"]).database
        holder = sqlite3.connect(path, isolation_level=None, timeout=5)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
    else:
        engine = app.extensions["supervise.engine"]
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        fired = []

        def kill(conn, cursor, statement, parameters, context, executemany):
            if not fired and statement.lstrip().upper().startswith("INSERT INTO REPORT_VERSIONS"):
                fired.append(cursor.connection.info.backend_pid)
                with admin.connect() as c:
                    c.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": fired[0]})
                time.sleep(0.2)  # the server has closed that connection

        event.listen(engine, "before_cursor_execute", kill)
        try:
            yield
        finally:
            event.remove(engine, "before_cursor_execute", kill)
            admin.dispose()
        assert fired, "the submission never reached the database"


def test_api_submission_during_a_database_fault_is_a_clean_503(short_busy, ctx, draft, tmp_path):
    app = short_busy
    liaison, token, rid = draft
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    before = db_state()
    started = time.monotonic()
    with fault_during_submission(app):
        response = client.post(f"/api/v1/reports/{rid}/submit", headers=auth, json={})
        if BACKEND == "sqlite":
            # An upload while the database is locked: refused the same way,
            # and the file stored before the transaction is removed again.
            upload = client.post(f"/api/v1/reports/{rid}/evidence", headers=auth,
                                 data={"file": (io.BytesIO(PDF), "台账.pdf")}, content_type="multipart/form-data")
            assert upload.status_code == 503 and upload.headers["Retry-After"]
    elapsed = time.monotonic() - started
    assert response.status_code == 503, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == "database_unavailable" and "请稍后重试" in body["message"]
    assert int(response.headers["Retry-After"]) > 0
    check_against_spec("POST", f"/api/v1/reports/{rid}/submit", response)  # documented in openapi.json
    assert elapsed < 10  # waited for the busy timeout, not forever
    evidence_dir = app.config["EVIDENCE_DIR"]
    assert not [p for p in evidence_dir.rglob("*") if p.is_file()] if evidence_dir.exists() else True
    # Nothing of the failed requests was stored.
    assert db_state() == before
    assert versions_of(rid) == 0 and report_state(rid) == "draft"

    # The database is back: the same call succeeds, once.
    again = client.post(f"/api/v1/reports/{rid}/submit", headers=auth, json={})
    assert again.status_code == 200, again.get_data(as_text=True)
    assert versions_of(rid) == 1 and report_state(rid) == "submitted"


def test_page_submission_during_a_database_fault_is_a_readable_page(short_busy, ctx, draft):
    app = short_busy
    liaison, _token, rid = draft
    client = app.test_client()
    login(client, liaison)
    page = client.get(f"/reports/{rid}")
    assert page.status_code == 200
    before = db_state()
    form = {"text": "省科技厅:新增 120 家", "version": "1", "submit": "保存并报送"}
    with fault_during_submission(app):
        response = client.post(f"/reports/{rid}", data=form)
    assert response.status_code == 503
    html = response.get_data(as_text=True)
    assert response.content_type.startswith("text/html") and response.headers["Retry-After"]
    assert "数据库暂时繁忙或不可用" in html and "没有保存任何内容" in html and "Traceback" not in html
    assert db_state() == before and versions_of(rid) == 0
    again = client.post(f"/reports/{rid}", data=form)
    assert again.status_code == 302, again.get_data(as_text=True)[:500]
    assert versions_of(rid) == 1 and report_state(rid) == "submitted"


def test_a_database_that_is_gone_gives_503_not_500(tmp_path):
    if BACKEND == "sqlite":
        url = f"sqlite:///{tmp_path / 'no-such-folder' / 'gone.sqlite3'}"
    else:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/gone"  # nobody listens there
    app = create_app("testing", DATABASE_URL=url, EVIDENCE_DIR=tmp_path / "evidence", INSTANCE_DIR=tmp_path,
                     ARCHIVE_DIR=tmp_path / "archive")
    app.test_client_class = IsolatedClient  # the request's write intent stays in the request
    client = app.test_client()
    api = client.post("/api/v1/reports/1/submit", headers={"Authorization": "Bearer sv_whatever"}, json={})
    assert api.status_code == 503 and api.headers["Retry-After"]
    assert api.get_json()["error"] == "database_unavailable"
    page = client.post("/login", data={"login": "someone", "password": "Whatever@2026"})
    assert page.status_code == 503 and "数据库暂时繁忙或不可用" in page.get_data(as_text=True)
    app.extensions["supervise.engine"].dispose()
