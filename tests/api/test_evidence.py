"""Evidence through the API: upload (multipart "file"), download with the
original Chinese name, always as an attachment; refusals leave nothing behind."""
from __future__ import annotations

import hashlib
import io
from pathlib import Path
from urllib.parse import unquote

import docx
from sqlalchemy import select

from supervise.db import session
from supervise.models import AuditEntry, Evidence, Notification
from supervise.services import notifications

from .conftest import db_state, report_in_state

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _docx_bytes(text: str) -> bytes:
    document = docx.Document()
    document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _upload(client, report_id: int, content: bytes, name: str):
    return client.post(f"/reports/{report_id}/evidence", data={"file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data")


def _stored_files(app) -> list[Path]:
    root = Path(app.config["EVIDENCE_DIR"])
    return sorted(p for p in root.rglob("*") if p.is_file() and p.parent.name != "tmp") if root.exists() else []


def _disposition_name(header: str) -> str:
    assert header.startswith("attachment;"), header
    star = [part.strip() for part in header.split(";") if part.strip().startswith("filename*=")]
    assert star, header
    value = star[0][len("filename*="):]
    assert value.startswith("UTF-8''")
    return unquote(value[len("UTF-8''"):], encoding="utf-8")


def test_upload_and_download_keep_the_chinese_name_and_the_bytes(app, cast):
    rid = report_in_state(cast, "lead", "draft", "2025Q2")
    name = "附件1:2025年第二季度跨境电商主体培育台账(省经信厅).docx"
    content = _docx_bytes("新增跨境电商应用主体 1800 家")
    response = _upload(cast.lead, rid, content, name)
    assert response.status_code == 201, response.get_json()
    item = response.get_json()
    assert item["name"] == name and item["size"] == len(content) and item["report_id"] == rid
    assert item["sha256"] == hashlib.sha256(content).hexdigest()
    assert item["content_type"].endswith("wordprocessingml.document")
    assert response.headers["Location"].endswith(item["download_url"])
    # Stored under the hash, never under the user's name.
    files = _stored_files(app)
    assert [f.name for f in files] == [item["sha256"]]
    assert cast.lead.get(f"/reports/{rid}").get_json()["evidence"][0]["id"] == item["id"]

    download = cast.lead.get(f"/evidence/{item['id']}")
    assert download.status_code == 200
    assert download.data == content
    assert _disposition_name(download.headers["Content-Disposition"]) == name
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Type"].startswith(item["content_type"])
    # The file read back is the Word document that was sent.
    assert docx.Document(io.BytesIO(download.data)).paragraphs[0].text == "新增跨境电商应用主体 1800 家"
    assert cast.lead.open("HEAD", f"/evidence/{item['id']}", check=False).status_code == 200
    downloads = session().scalars(select(AuditEntry).where(AuditEntry.action == "evidence.download")).all()
    assert [(d.actor_id, d.object_id) for d in downloads] == [(cast.lead.user.id, item["id"])]


def test_an_image_is_still_an_attachment(cast):
    rid = report_in_state(cast, "lead", "draft", "2025Q2")
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    item = _upload(cast.lead, rid, png, "现场照片.png").get_json()
    download = cast.lead.get(f"/evidence/{item['id']}")
    assert download.headers["Content-Type"] == "image/png"
    assert download.headers["Content-Disposition"].startswith("attachment;")


def test_the_same_content_is_stored_once(app, cast):
    rid = report_in_state(cast, "lead", "draft", "2025Q2")
    first = _upload(cast.lead, rid, PDF, "说明.pdf").get_json()
    second = _upload(cast.lead, rid, PDF, "说明(副本).pdf").get_json()
    assert first["id"] != second["id"] and first["sha256"] == second["sha256"]
    assert len(_stored_files(app)) == 1
    assert cast.lead.get(f"/evidence/{second['id']}").headers["Content-Disposition"].count("%E5%89%AF%E6%9C%AC")


def test_bad_uploads_are_400_and_leave_nothing(app, cast):
    rid = report_in_state(cast, "lead", "draft", "2025Q2")
    before = db_state()
    cases = [
        (b"MZ\x90\x00" + b"\x00" * 100, "进展.pdf", "不支持的文件类型"),  # a program renamed to .pdf
        (b"<html><script>alert(1)</script></html>", "说明.pdf", "不支持的文件类型"),
        (PDF, "说明.docx", "扩展名"),  # the name does not match the content
        (b"", "空.pdf", "空"),
    ]
    for content, name, words in cases:
        response = _upload(cast.lead, rid, content, name)
        assert response.status_code == 400, name
        body = response.get_json()
        assert words in body["message"] and "file" in body["fields"], body
    response = cast.lead.post(f"/reports/{rid}/evidence", data={}, content_type="multipart/form-data")
    assert response.status_code == 400 and "file" in response.get_json()["fields"]
    assert db_state() == before
    assert _stored_files(app) == []


def test_too_big_is_413_in_json(app, cast):
    rid = report_in_state(cast, "lead", "draft", "2025Q2")
    app.config["MAX_UPLOAD_MB"] = 1
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024 + 64 * 1024
    before = db_state()
    # Over the request limit: refused by Werkzeug before the view reads it.
    response = _upload(cast.lead, rid, PDF + b"0" * (2 * 1024 * 1024), "大文件.pdf")
    assert response.status_code == 413 and response.is_json
    assert response.get_json() == {"error": "payload_too_large", "message": "上传的文件过大,上限为 1 MB"}
    # Within the envelope's margin but over the file limit: refused by the store.
    response = _upload(cast.lead, rid, PDF + b"0" * (1024 * 1024 + 1024), "稍大.pdf")
    assert response.status_code == 413
    assert response.get_json()["error"] == "payload_too_large" and "1 MB" in response.get_json()["message"]
    assert db_state() == before
    assert _stored_files(app) == []
    assert _upload(cast.lead, rid, PDF + b"0" * 1000, "正好.pdf").status_code == 201


def test_upload_refusals_403_404_409_leave_no_file(app, cast):
    draft = report_in_state(cast, "lead", "draft", "2025Q1")
    submitted = report_in_state(cast, "lead", "submitted", "2025Q2")
    before = db_state()
    for client in (cast.co, cast.other, cast.coordinator, cast.leader, cast.admin, cast.auditor):
        assert _upload(client, draft, PDF, "a.pdf").status_code == 404  # somebody else's draft
    assert _upload(cast.coordinator, submitted, PDF, "a.pdf").status_code == 403
    assert _upload(cast.leader, submitted, PDF, "a.pdf").status_code == 403
    response = _upload(cast.lead, submitted, PDF, "a.pdf")  # submitted: no longer editable
    assert response.status_code == 409 and response.get_json()["error"] == "invalid_transition"
    assert _upload(cast.lead, 99999, PDF, "a.pdf").status_code == 404
    assert db_state() == before
    assert _stored_files(app) == []


def test_download_passes_the_report_permission_check(cast):
    draft = report_in_state(cast, "lead", "draft", "2025Q1")
    item = _upload(cast.lead, draft, PDF, "草稿附件.pdf").get_json()
    co_draft = report_in_state(cast, "co", "draft", "2025Q2")
    co_item = _upload(cast.co, co_draft, PDF + b"co", "配合单位附件.pdf").get_json()
    cast.co.post(f"/reports/{co_draft}/submit", json={})
    before = db_state()
    for client in (cast.co, cast.other, cast.coordinator, cast.leader, cast.admin, cast.auditor):
        response = client.get(f"/evidence/{item['id']}")
        assert response.status_code == 404 and response.is_json
    assert cast.other.get(f"/evidence/{co_item['id']}").status_code == 404
    assert cast.lead.get("/evidence/99999").status_code == 404
    assert db_state() == before
    # A submitted contribution's file is for its unit, the lead unit and the overseers.
    for client in (cast.co, cast.lead, cast.coordinator, cast.leader):
        assert client.get(f"/evidence/{co_item['id']}").status_code == 200


def test_a_file_changed_on_disk_is_not_served(app, cast):
    rid = report_in_state(cast, "lead", "draft", "2025Q1")
    item = _upload(cast.lead, rid, PDF, "说明.pdf").get_json()
    [path] = _stored_files(app)
    path.write_bytes(PDF.replace(b"Catalog", b"Katalog"))
    response = cast.lead.get(f"/evidence/{item['id']}")
    assert response.status_code == 410 and response.get_json()["error"] == "evidence_unavailable"
    assert "校验失败" in response.get_json()["message"]
    # Refused and reported: audited, the coordinators told; no download recorded.
    assert session().scalar(select(AuditEntry.object_id).where(AuditEntry.action == "evidence.integrity_failed")) == item["id"]
    assert session().scalar(select(AuditEntry).where(AuditEntry.action == "evidence.download")) is None
    told = session().scalars(select(Notification.user_id).where(Notification.kind == "evidence.integrity_failed")).all()
    assert told and set(told) == {u.id for u in notifications.coordinators()}
    assert session().scalar(select(Evidence.sha256).where(Evidence.id == item["id"])) == item["sha256"]


def test_content_disposition_is_always_an_attachment_with_the_exact_name():
    from supervise.web.api.reports import content_disposition

    assert content_disposition("report.pdf", "evidence-1") == (
        "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
    )
    header = content_disposition("台账 说明.xlsx", "evidence-7")
    assert header.startswith('attachment; filename="evidence-7.xlsx"; ')
    assert _disposition_name(header) == "台账 说明.xlsx"
    tricky = 'a"b;c\\d.pdf'
    header = content_disposition(tricky, "evidence-8")
    assert header.startswith('attachment; filename="evidence-8.pdf"; ') and _disposition_name(header) == tricky


def test_api_json_is_utf8_not_escaped(cast):
    response = cast.lead.get("/me")
    assert "省经信厅".encode() in response.data and b"\\u" not in response.data
