"""Uploads under the real server (gunicorn on loopback, real multipart over
real sockets): over the size limit is 413 with a message on the pages and
the API and leaves no file; an upload cut off half-way leaves no record and
no file (the store's tmp/ included); files that are programs or web pages
under a harmless name are refused; awkward names are kept exactly."""
from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import unquote

import pytest
import requests
from sqlalchemy import func, select

from supervise.db import session
from supervise.models import Evidence

from ..api.conftest import api_as, cast, db_state, report_in_state, report_row  # noqa: F401 - fixtures
from ..conftest import PASSWORD, ROOT
from ..factories import PDF_BYTES, file_report, task_by_number

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>'
HTML = b"<!doctype html><html><script>alert(document.cookie)</script></html>"
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 120 + b"PE\x00\x00"
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 64


def _files(root: Path) -> list[Path]:
    """Every file under the evidence store, its tmp/ folder included."""
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def gunicorn(app, db_url, tmp_path):
    """The app under gunicorn (2 workers) on loopback, on this test's
    database and evidence folder, with a 1 MB upload limit."""
    port = _free_port()
    env = {**os.environ, "SUPERVISE_CONFIG": "testing", "DATABASE_URL": db_url,
           "SUPERVISE_INSTANCE": str(tmp_path), "SUPERVISE_EVIDENCE_DIR": str(app.config["EVIDENCE_DIR"]),
           "SUPERVISE_ARCHIVE_DIR": str(tmp_path / "archive"), "SUPERVISE_MAX_UPLOAD_MB": "1"}
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "-w", "2", "-b", f"127.0.0.1:{port}",
         "--timeout", "30", "--graceful-timeout", "5", "wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                requests.get(base + "/login", timeout=10)
                break
            except requests.RequestException:
                assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
                time.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def _multipart(name: str, content: bytes, fields: dict[str, str] | None = None) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for key, value in (fields or {}).items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode())
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                 f"Content-Type: application/octet-stream\r\n\r\n".encode("utf-8") + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _raw_post(base: str, path: str, body: bytes, content_type: str, headers: dict[str, str], *,
              send: int | None = None) -> tuple[int | None, bytes]:
    """POST over a raw socket; `send` bytes of the body only, then close
    (an upload cut off half-way). Returns the status and the answer, if any."""
    host, port = base.removeprefix("http://").split(":")
    head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Type: {content_type}",
            f"Content-Length: {len(body)}", "Connection: close", *(f"{k}: {v}" for k, v in headers.items())]
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(("\r\n".join(head) + "\r\n\r\n").encode("utf-8"))
        if send is not None:
            s.sendall(body[:send])
            return None, b""
        try:
            s.sendall(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer 413 before reading it all
        answer = b""
        try:
            while chunk := s.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else None
    return status, answer


def _token(user) -> str:
    from ..api.conftest import token_for

    return token_for(user)


def _login_cookie(base: str, user) -> str:
    http = requests.Session()
    response = http.post(base + "/login", data={"login": user.login, "password": PASSWORD}, allow_redirects=False)
    assert response.status_code == 302, response.text[:500]
    return "; ".join(f"{c.name}={c.value}" for c in http.cookies)


def _evidence_count() -> int:
    session().rollback()
    return session().scalar(select(func.count(Evidence.id)))


@pytest.mark.slow
def test_over_the_limit_is_413_under_gunicorn_and_leaves_no_file(gunicorn, plan, make_user, app):
    co = make_user("liaison", unit="杭州市人民政府")
    report = file_report(co, task_by_number(plan, 1))
    evidence_root = Path(app.config["EVIDENCE_DIR"])
    token, cookie = _token(co), _login_cookie(gunicorn, co)
    for size in (1024 * 1024 + 1, 3 * 1024 * 1024):  # just over the limit; and past the request limit
        content = PDF_BYTES + b"0" * (size - len(PDF_BYTES))
        body, ctype = _multipart("大文件.pdf", content)
        status, answer = _raw_post(gunicorn, f"/api/v1/reports/{report.id}/evidence", body, ctype,
                                   {"Authorization": f"Bearer {token}"})
        assert status == 413, answer[:500]
        assert "上限" in answer.decode("utf-8", "replace") and b"payload_too_large" in answer
        body, ctype = _multipart("大文件.pdf", content, {"version": str(report.version)})
        status, answer = _raw_post(gunicorn, f"/reports/{report.id}/evidence", body, ctype, {"Cookie": cookie})
        assert status == 413, answer[:500]
        assert "上限" in answer.decode("utf-8", "replace")
    assert _evidence_count() == 0
    assert _files(evidence_root) == []
    # Under the limit it works, on the same server.
    body, ctype = _multipart("小文件.pdf", PDF_BYTES)
    status, answer = _raw_post(gunicorn, f"/api/v1/reports/{report.id}/evidence", body, ctype,
                               {"Authorization": f"Bearer {token}"})
    assert status == 201, answer[:500]
    assert _evidence_count() == 1


@pytest.mark.slow
def test_an_upload_cut_off_half_way_leaves_no_record_and_no_file(gunicorn, plan, make_user, app):
    co = make_user("liaison", unit="杭州市人民政府")
    report = file_report(co, task_by_number(plan, 1))
    evidence_root = Path(app.config["EVIDENCE_DIR"])
    token, cookie = _token(co), _login_cookie(gunicorn, co)
    content = PDF_BYTES + os.urandom(512 * 1024)
    for path, headers, fields in ((f"/api/v1/reports/{report.id}/evidence", {"Authorization": f"Bearer {token}"}, {}),
                                  (f"/reports/{report.id}/evidence", {"Cookie": cookie}, {"version": str(report.version)})):
        body, ctype = _multipart("一半.pdf", content, fields)
        _raw_post(gunicorn, path, body, ctype, headers, send=len(body) // 2)
    # The workers notice the closed connection; give them a moment, then look.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _files(evidence_root):
        time.sleep(0.1)
    time.sleep(0.5)
    assert _evidence_count() == 0
    assert _files(evidence_root) == []
    # The server is fine afterwards.
    assert requests.get(gunicorn + "/login", timeout=5).status_code == 200


@pytest.mark.parametrize("content,name", [
    (EXE, "进展.pdf"), (ELF, "台账.pdf"), (HTML, "截图.png"), (HTML, "说明.pdf"), (SVG, "图.png"), (SVG, "图.pdf"),
])
def test_programs_and_web_pages_under_a_harmless_name_are_refused(app, cast, login_as, content, name):
    evidence_root = Path(app.config["EVIDENCE_DIR"])
    rid = report_in_state(cast, "lead", "draft", "2025Q2")
    page_client, _ = login_as("liaison", unit="省经信厅")
    before = db_state()
    response = cast.lead.post(f"/reports/{rid}/evidence", data={"file": (io.BytesIO(content), name)},
                              content_type="multipart/form-data")
    assert response.status_code == 400 and "不支持的文件类型" in response.get_json()["message"]
    response = page_client.post(f"/reports/{rid}/evidence",
                                data={"version": report_row(rid).version, "file": (io.BytesIO(content), name)},
                                content_type="multipart/form-data")
    assert response.status_code == 400 and "不支持的文件类型" in response.get_data(as_text=True)
    assert db_state() == before
    assert _files(evidence_root) == []


NAMES = [
    ("../../etc/passwd.pdf", "../../etc/passwd.pdf"),
    ("报告\x00.exe.pdf", "报告.exe.pdf"),  # NUL dropped, the rest exactly
    ("长" * 196 + ".pdf", "长" * 196 + ".pdf"),  # 200 characters
    ("2025年第二季度 台账(终稿)#1 %20 '引号'.pdf", "2025年第二季度 台账(终稿)#1 %20 '引号'.pdf"),
]


@pytest.mark.parametrize("sent,kept", NAMES)
def test_awkward_names_are_stored_safely_and_shown_back_exactly(app, cast, login_as, sent, kept):
    evidence_root = Path(app.config["EVIDENCE_DIR"])
    rid = report_in_state(cast, "lead", "draft", "2025Q2")
    response = cast.lead.post(f"/reports/{rid}/evidence", data={"file": (io.BytesIO(PDF_BYTES), sent)},
                              content_type="multipart/form-data")
    assert response.status_code == 201, response.get_data(as_text=True)
    item = response.get_json()
    assert item["name"] == kept
    # Stored under its hash inside the store, nowhere else.
    [stored] = [p for p in _files(evidence_root)]
    assert stored.resolve().is_relative_to(evidence_root.resolve()) and stored.name == item["sha256"]
    # Both downloads: an attachment, nosniff, the exact name in filename*.
    page_client, _ = login_as("liaison", unit="省经信厅")
    for response in (cast.lead.get(f"/evidence/{item['id']}"), page_client.get(f"/evidence/{item['id']}")):
        assert response.status_code == 200 and response.data == PDF_BYTES
        disposition = response.headers["Content-Disposition"]
        assert disposition.startswith("attachment;") and "inline" not in disposition
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        encoded = disposition.split("filename*=UTF-8''", 1)[1].split(";", 1)[0]
        assert unquote(encoded) == kept
        assert "\x00" not in disposition and "\r" not in disposition and "\n" not in disposition
    # And the report page shows it back exactly (escaped).
    from markupsafe import escape

    assert str(escape(kept)) in page_client.get(f"/reports/{rid}").get_data(as_text=True)


def test_an_image_download_is_an_attachment_never_inline(app, cast, login_as):
    rid = report_in_state(cast, "lead", "draft", "2025Q2")
    item = cast.lead.post(f"/reports/{rid}/evidence", data={"file": (io.BytesIO(PNG), "截图.png")},
                          content_type="multipart/form-data").get_json()
    page_client, _ = login_as("liaison", unit="省经信厅")
    for response in (cast.lead.get(f"/evidence/{item['id']}"), page_client.get(f"/evidence/{item['id']}")):
        assert response.status_code == 200
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.mimetype == "image/png"
