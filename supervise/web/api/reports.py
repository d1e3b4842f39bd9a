"""Reports and contributions, their review, versions and evidence."""
from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

from flask import jsonify, request, send_file, url_for

from ... import db, evidence_store
from ...errors import ValidationError
from ...models import Milestone, Report, Task, User
from ...policy import authorize
from ...serialize import evidence_dict, report_dict, report_version_dict
from ...services import plans as plan_service
from ...services import reports as report_service
from ...services.report_view import report_view
from .. import acting_user
from ..reports import verified_path
from . import bp, expected_version, int_arg, int_field, json_body


def _report_response(report: Report, status: int = 200, headers: dict[str, str] | None = None):
    """The report as the caller sees it: the read model the page renders too."""
    view = report_view(acting_user(), report.id)
    data = report_dict(report, included=list(view.included))
    data.update({"due_on": view.due_on.isoformat(), "actions": sorted(view.actions)})
    return jsonify(data), status, headers or {}


def _include_ids(body: dict[str, Any]) -> list[int] | None:
    if "include" not in body:
        return None
    ids = body["include"]
    if not isinstance(ids, list) or any(isinstance(i, bool) or not isinstance(i, int) for i in ids):
        raise ValidationError("include 必须是配合单位报送编号的列表", field_errors={"include": "应为整数列表"})
    return ids


@bp.post("/reports")
def create_report():
    """File the caller's unit's report for a task and period; the unit's role
    in the task decides whether it is the lead report or a contribution."""
    user = acting_user()
    body = json_body("task_id", "period", "text", "values", "include")
    task = plan_service.get_task(user, int_field(body, "task_id", "任务编号"))
    period = body.get("period")
    if not isinstance(period, str) or not period.strip():
        raise ValidationError("请填写报送期次,如 2025Q2", field_errors={"period": "请填写报送期次"})
    include = _include_ids(body)
    report = report_service.create_report(user, task, period, text=body.get("text", ""), values=body.get("values"))
    if include:
        report_service.set_inclusions(user, report, include)
    return _report_response(report, 201, {"Location": url_for("api.report", report_id=report.id)})


@bp.get("/reports/<int:report_id>")
def report(report_id: int):
    return _report_response(report_service.get_report(acting_user(), report_id))


@bp.patch("/reports/<int:report_id>")
def update_report(report_id: int):
    """Change the text, values or included contributions of a draft or
    returned report; "version" guards against overwriting someone's change."""
    user = acting_user()
    report = report_service.get_report(user, report_id)
    body = json_body("text", "values", "include", "version")
    version = expected_version(body)
    include = _include_ids(body)
    if not ({"text", "values"} & body.keys()) and include is None:
        raise ValidationError("请提供要修改的 text、values 或 include")
    report_service.update_report(user, report, text=body.get("text"), values=body.get("values"),
                                 expected_version=version)
    if include is not None:
        # The version was checked above; this save is part of the same change.
        report_service.set_inclusions(user, report, include)
    return _report_response(report)


@bp.post("/reports/<int:report_id>/submit")
def submit_report(report_id: int):
    user = acting_user()
    report = report_service.get_report(user, report_id)
    report_service.submit_report(user, report, expected_version=expected_version(json_body("version")))
    return _report_response(report)


@bp.post("/reports/<int:report_id>/accept")
def accept_contribution(report_id: int):
    user = acting_user()
    report = report_service.get_report(user, report_id)
    report_service.accept_contribution(user, report, expected_version=expected_version(json_body("version")))
    return _report_response(report)


@bp.post("/reports/<int:report_id>/approve")
def approve_report(report_id: int):
    user = acting_user()
    report = report_service.get_report(user, report_id)
    report_service.approve_report(user, report, expected_version=expected_version(json_body("version")))
    return _report_response(report)


@bp.post("/reports/<int:report_id>/return")
def return_report(report_id: int):
    user = acting_user()
    report = report_service.get_report(user, report_id)
    body = json_body("reason", "version")
    report_service.return_report(user, report, body.get("reason"), expected_version=expected_version(body))
    return _report_response(report)


@bp.post("/reports/<int:report_id>/reopen")
def reopen_report(report_id: int):
    user = acting_user()
    report = report_service.get_report(user, report_id)
    body = json_body("reason", "version")
    report_service.reopen_report(user, report, body.get("reason"), expected_version=expected_version(body))
    return _report_response(report)


@bp.get("/reports/<int:report_id>/versions/<int:number>")
def report_version(report_id: int, number: int):
    """A submitted version, exactly as it was submitted."""
    report = report_service.get_report_with_versions(acting_user(), report_id)
    return jsonify(report_version_dict(report_service.version_of(report, number), with_text=True))


@bp.get("/reports/<int:report_id>/compare")
def compare_versions(report_id: int):
    """What changed between two submitted versions (?from=1&to=2)."""
    report = report_service.get_report(acting_user(), report_id)
    older, newer = int_arg("from"), int_arg("to")
    if older is None or newer is None:
        raise ValidationError("请用 from 和 to 指定要比较的两个版本", field_errors={"from": "必填", "to": "必填"})
    return jsonify(
        report_service.compare_versions(report_service.version_of(report, older), report_service.version_of(report, newer))
    )


@bp.post("/reports/<int:report_id>/evidence")
def upload_evidence(report_id: int):
    """Attach a file (multipart field "file") to a report the caller may edit."""
    user = acting_user()
    return receive_upload(user, report_service.get_report(user, report_id))


def receive_upload(user: User, target: Report | Milestone | Task):
    """Store the multipart "file" and record it against `target`."""
    # Refuse before writing anything to disk.
    authorize(user, "evidence.upload", target)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationError("请选择要上传的文件(multipart 字段 file)", field_errors={"file": "请选择文件"})
    # The bytes are stored before the transaction, and removed again if the
    # record cannot be made, so no file I/O happens inside it.
    stored = evidence_store.store(upload.stream, upload.filename)
    try:
        evidence = report_service.attach_evidence(user, target, stored)
    except Exception:
        evidence_store.discard(stored)
        raise
    return jsonify(evidence_dict(evidence)), 201, {"Location": url_for("api.evidence", evidence_id=evidence.id)}


@bp.get("/evidence/<int:evidence_id>")
def evidence(evidence_id: int):
    """The file, under its original name, always as a download (never shown
    inline, so an uploaded file can never run as a page of this site)."""
    user = acting_user()
    item = report_service.get_evidence(user, evidence_id)
    path = verified_path(user, item)
    if request.method != "HEAD":  # a HEAD reads no bytes: not a download
        db.switch_to_writing()  # the file was verified outside any write lock
        report_service.record_download(user, item)
    response = send_file(path, mimetype=item.content_type, etag=item.sha256, max_age=0)
    response.headers["Content-Disposition"] = content_disposition(item.original_name, f"evidence-{item.id}")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def content_disposition(name: str, fallback_stem: str) -> str:
    """`attachment` with the exact name in RFC 5987 form (filename*), and a
    plain ASCII filename for old clients: the name itself if it is plain
    ASCII, else `fallback_stem` with the name's extension (Werkzeug's own
    fallback strips a Chinese name down to ".pdf")."""
    ext = os.path.splitext(name)[1]
    plain = name if _plain_ascii(name) else fallback_stem + (ext if _plain_ascii(ext) else "")
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


def _plain_ascii(text: str) -> bool:
    return text.isascii() and text.isprintable() and not set(text) & set('"\\;')
