"""The report pages: a unit's contribution or the lead unit's report for one
task and period, its evidence, its review, and its submitted versions.

Each view loads (404 where existence is private), lets the service decide
(policy, state machine, version), and answers: a redirect on success; the
page again with the error next to the field (400) on bad input; the page
drawn afresh with the reason on top (409) when the item changed meanwhile or
no longer allows the action.
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from sqlalchemy import select

from .. import db, evidence_store
from ..errors import Conflict, EvidenceUnavailable, InvalidTransition, ValidationError
from ..models import Evidence, Report, ReportKind, ReportState
from ..policy import authorize, review_action
from ..serialize import decimal_text
from ..services import plans as plan_service
from ..services import reports as report_service
from ..services.report_view import report_view
from ..workflow import ACTION_LABELS
from . import acting_user
from .common import content_disposition, show_errors
from .forms import EvidenceForm, InclusionForm, NewReportForm, ReasonForm, VersionForm, options, report_edit_form

bp = Blueprint("reports", __name__)


# --- drawing the page -----------------------------------------------------------------


def _edit_form(report: Report, formdata=None):
    data = {"text": report.text, "version": report.version}
    for value in report.values:
        data[f"value_{value.target_id}"] = decimal_text(value.value)
    return report_edit_form(report.task, formdata=formdata, data=data)


def _page(report: Report, *, status: int = 200, page_error: str | None = None, **forms):
    """The report page: the read model `report_view`, and the forms for what
    this user may do."""
    view = report_view(acting_user(), report.id)
    version = {"version": report.version}
    ctx = {
        "view": view,
        "report": report,
        "task": view.task,
        "due_on": view.due_on,
        "can_edit": view.may_edit,
        "can_review": view.may_review,
        # Someone who made the report is told why they cannot decide on it.
        "review_note": view.review_note,
        "actions": view.workflow_actions,
        "ACTION_LABELS": {**ACTION_LABELS, "create": "创建草稿"},
        "values": view.values,
        "submitted_evidence": set(view.submitted_evidence),
        "page_error": page_error,
        "history": list(view.history),
        "version_form": VersionForm(formdata=None, data=version),
    }
    if view.may_edit:
        ctx["edit_form"] = forms.get("edit_form") if "edit_form" in forms else _edit_form(report)
        ctx["evidence_form"] = forms.get("evidence_form") if "evidence_form" in forms else EvidenceForm(formdata=None, data=version)
    if view.is_lead_report:
        included = {c.id for c in view.included}
        ctx["contributions"] = list(view.contributions)
        ctx["included"] = included
        ctx["suggestions"] = view.suggestions
        ctx["cited_evidence"] = [(c, list(files)) for c, files in view.cited_evidence]
        if view.may_edit:
            form = forms.get("inclusion_form") if "inclusion_form" in forms else InclusionForm(formdata=None, data={**version, "include": sorted(included)})
            form.include.choices = options(
                (c.id, f"{c.unit.short_name}({c.state.label})")
                for c in view.contributions
                if c.state in (ReportState.SUBMITTED, ReportState.ACCEPTED)
            )
            ctx["inclusion_form"] = form
    elif view.may_review:
        ctx["lead_report"] = view.lead_report
    if view.may_review:
        ctx["accept_form"] = VersionForm(formdata=None, data=version)
        ctx["return_form"] = forms.get("return_form") if "return_form" in forms else ReasonForm(formdata=None, data=version, prefix="return")
        ctx["reopen_form"] = forms.get("reopen_form") if "reopen_form" in forms else ReasonForm(formdata=None, data=version, prefix="reopen")
    return render_template("reports/report.html", **ctx), status


def _stale(report_id: int, exc: Conflict | InvalidTransition):
    """The item changed meanwhile: show it as it is now, and say why nothing was done."""
    db.session.rollback()
    report = report_service.get_report(acting_user(), report_id)
    return _page(report, status=409, page_error=exc.message)


def _report(report_id: int) -> Report:
    return report_service.get_report(acting_user(), report_id)


# --- filing ---------------------------------------------------------------------------


@bp.post("/tasks/<int:task_id>/reports")
def create(task_id: int):
    user = acting_user()
    task = plan_service.get_task(user, task_id)
    authorize(user, "report.file", task)
    form = NewReportForm()
    if not form.validate_on_submit():
        raise ValidationError("请选择报送期次")
    report = report_service.create_report(user, task, form.period.data)
    flash(f"已创建{report.period.label}的{report.kind.label}草稿,请填写后报送", "success")
    return redirect(url_for(".view", report_id=report.id))


@bp.route("/reports/<int:report_id>", methods=["GET", "POST"])
def view(report_id: int):
    report = _report(report_id)
    if request.method == "GET":
        return _page(report)
    user = acting_user()
    authorize(user, "report.file", report)
    form = _edit_form(report, formdata=request.form)
    if not form.validate_on_submit():
        return _page(report, status=400, edit_form=form)
    inclusion_form = _typed_inclusions(report)
    upload = request.files.get("file")
    evidence_form = EvidenceForm() if upload is not None and upload.filename else None
    try:
        _save_typed(user, report, form, inclusion_form)
        if evidence_form is not None:
            # A file chosen and then 保存草稿 / 保存并报送: it goes with the draft.
            if not evidence_form.validate_on_submit():
                raise ValidationError("佐证材料无效", field_errors={"file": "请重新选择文件"})
            store_and_attach(evidence_form, report, expected_version=None)
        if form.submit.data:
            # The edit above already checked and moved the version.
            report_service.submit_report(user, report)
    except ValidationError as exc:
        db.session.rollback()
        show_errors(form if _about_typed(exc) or evidence_form is None else evidence_form, exc)
        return _page(_report(report_id), status=exc.status, edit_form=form,
                     **_typed_forms(inclusion_form, evidence_form))
    except (Conflict, InvalidTransition) as exc:
        return _stale(report_id, exc)
    flash("已报送" if form.submit.data else "草稿已保存", "success")
    return redirect(url_for(".view", report_id=report.id))


def _about_typed(exc: ValidationError) -> bool:
    return any(key == "text" or key.startswith("value_") for key in exc.field_errors)


def _typed_inclusions(report: Report) -> InclusionForm | None:
    """The citations ticked in the report's own form (sent with it), if any."""
    if report.kind is not ReportKind.LEAD_REPORT or "include-shown" not in request.form:
        return None
    form = InclusionForm()
    form.include.choices = None
    return form


def _typed_forms(inclusion_form, evidence_form) -> dict:
    forms = {}
    if inclusion_form is not None:
        forms["inclusion_form"] = inclusion_form
    if evidence_form is not None:
        forms["evidence_form"] = evidence_form
    return forms


def _save_typed(user, report: Report, form, inclusion_form: InclusionForm | None) -> None:
    """Save what was typed in the report's form (text, values, the ticked
    citations) as the draft: every button of the form sends it, so 上传,
    保存引用 and 删除 lose nothing typed."""
    values = {key[len("value_"):]: field.data for key, field in form._fields.items() if key.startswith("value_")}
    report_service.update_report(user, report, text=form.text.data, values=values,
                                 expected_version=int(form.version.data))
    if inclusion_form is not None:
        report_service.set_inclusions(user, report, inclusion_form.include.data or [])


def _typed_edit_form(report: Report):
    """The report's form as posted along with an upload, a citation or a
    removal (None when the request came from an old separate form)."""
    if "text" not in request.form:
        return None
    return _edit_form(report, formdata=request.form)


@bp.post("/reports/<int:report_id>/inclusions")
def inclusions(report_id: int):
    user = acting_user()
    report = _report(report_id)
    authorize(user, "report.file", report)
    form = InclusionForm()
    edit = _typed_edit_form(report)
    if not form.validate_on_submit() or (edit is not None and not edit.validate()):
        return _page(report, status=400, inclusion_form=form, **({"edit_form": edit} if edit is not None else {}))
    try:
        if edit is not None:
            # The text and values typed before 保存引用 are saved with it.
            _save_typed(user, report, edit, form)
        else:
            report_service.set_inclusions(user, report, form.include.data or [],
                                          expected_version=int(form.version.data))
    except ValidationError as exc:
        db.session.rollback()
        show_errors(form, exc)
        return _page(_report(report_id), status=400, inclusion_form=form,
                     **({"edit_form": edit} if edit is not None else {}))
    except (Conflict, InvalidTransition) as exc:
        return _stale(report_id, exc)
    flash("引用的配合单位报送已更新" + (",已填写的内容已保存为草稿" if edit is not None else ""), "success")
    return redirect(url_for(".view", report_id=report.id))


# --- review ----------------------------------------------------------------------------


@bp.post("/reports/<int:report_id>/accept")
def accept(report_id: int):
    return _simple_action(report_id, "accept")


@bp.post("/reports/<int:report_id>/approve")
def approve(report_id: int):
    return _simple_action(report_id, "approve")


def _simple_action(report_id: int, action: str):
    user = acting_user()
    report = _report(report_id)
    authorize(user, review_action(report, action), report)
    form = VersionForm()
    if not form.validate_on_submit():
        raise ValidationError("页面数据不完整,请刷新后重试")
    if request.form.get("confirmed") != "1":
        # Approving locks the report (accepting, the contribution): asked once more.
        return _confirm_page(report, action, form.version.data)
    service = report_service.accept_contribution if action == "accept" else report_service.approve_report
    try:
        service(user, report, expected_version=int(form.version.data))
    except (Conflict, InvalidTransition) as exc:
        return _stale(report_id, exc)
    flash(f"已{ACTION_LABELS[action]}", "success")
    return redirect(url_for(".view", report_id=report.id))


def _confirm_page(report: Report, action: str, version: str):
    label = ACTION_LABELS[action]
    page = url_for(".view", report_id=report.id)
    if action == "approve":
        follows = ["报告状态变为“已审核通过”并锁定,牵头单位不能再修改;",
                   f"该报告计入{report.period.label}的督查通报;",
                   "牵头单位收到审核通过的通知;",
                   "如需修改,须由督办员说明原因后“重新打开”。"]
    else:
        follows = ["该报送状态变为“已采纳”并锁定,配合单位不能再修改;",
                   "其数值和佐证材料可在本单位牵头报告中引用、汇总;",
                   "配合单位收到已采纳的通知。"]
    confirm = {
        "title": f"确认{label}", "verb": label, "button": f"确认{label}",
        "subject": f"任务{report.task.number}. {report.task.title} · {report.unit.short_name} · "
                   f"{report.period.label}{report.kind.label}",
        "follows": follows, "action": url_for(f".{action}", report_id=report.id), "fields": {"version": version},
        "back": page, "crumbs": [(f"任务{report.task.number}. {report.task.title}", url_for("main.task", task_id=report.task_id)),
                                 (f"{report.unit.short_name} {report.period.label}{report.kind.label}", page)],
    }
    return render_template("confirm.html", confirm=confirm)


@bp.post("/reports/<int:report_id>/return")
def return_(report_id: int):
    return _reason_action(report_id, "return")


@bp.post("/reports/<int:report_id>/reopen")
def reopen(report_id: int):
    return _reason_action(report_id, "reopen")


def _reason_action(report_id: int, action: str):
    user = acting_user()
    report = _report(report_id)
    # Refuse before looking at the form: a missing reason must not hide a 403.
    authorize(user, review_action(report, action), report)
    form = ReasonForm(prefix=action)
    key = f"{action}_form"
    if not form.validate_on_submit():
        return _page(report, status=400, **{key: form})
    service = report_service.return_report if action == "return" else report_service.reopen_report
    try:
        service(user, report, form.reason.data, expected_version=int(form.version.data))
    except ValidationError as exc:
        show_errors(form, exc)
        return _page(_report(report_id), status=400, **{key: form})
    except (Conflict, InvalidTransition) as exc:
        return _stale(report_id, exc)
    flash(f"已{ACTION_LABELS[action]}", "success")
    return redirect(url_for(".view", report_id=report.id))


# --- evidence ----------------------------------------------------------------------------


@bp.post("/reports/<int:report_id>/evidence")
def upload(report_id: int):
    user = acting_user()
    report = _report(report_id)
    authorize(user, "evidence.upload", report)
    form = EvidenceForm()
    edit = _typed_edit_form(report)
    inclusion_form = _typed_inclusions(report) if edit is not None else None
    typed = {"edit_form": edit} if edit is not None else {}
    if not form.validate_on_submit() or (edit is not None and not edit.validate()):
        # What was typed comes back on the page, with the reason.
        return _page(report, status=400, **typed, **_typed_forms(inclusion_form, form))
    try:
        if edit is not None:
            # The text and values typed before 上传 are saved as the draft.
            _save_typed(user, report, edit, inclusion_form)
            store_and_attach(form, report, expected_version=None)
        else:
            store_and_attach(form, report)
    except ValidationError as exc:
        db.session.rollback()
        show_errors(edit if edit is not None and _about_typed(exc) else form, exc)
        return _page(_report(report_id), status=exc.status, **typed, **_typed_forms(inclusion_form, form))
    except (Conflict, InvalidTransition) as exc:
        return _stale(report_id, exc)
    flash(f"已上传“{form.file.data.filename}”" + (",已填写的内容已保存为草稿" if edit is not None else ""), "success")
    return redirect(url_for(".view", report_id=report.id))


def verified_path(user, evidence: Evidence):
    """The stored file, if its bytes still match its hash; otherwise the
    failure is reported (audit row, coordinators told) and committed before
    the download is refused with 410: the refusal rolls the request back."""
    try:
        return evidence_store.open_verified(evidence.sha256)
    except (FileNotFoundError, evidence_store.IntegrityError) as exc:
        missing = isinstance(exc, FileNotFoundError)
    with db.unit_of_work():
        report_service.report_damaged_evidence(user, evidence, missing=missing)
    if missing:
        raise EvidenceUnavailable("附件文件已不在存储中,已拒绝下载并通知督办员,请联系系统管理员从备份恢复")
    raise EvidenceUnavailable("附件校验失败(文件内容与登记的哈希值不一致),已拒绝下载并通知督办员,"
                              "请联系系统管理员从备份恢复")


_FROM_FORM = object()


def store_and_attach(form: EvidenceForm, target, expected_version=_FROM_FORM) -> Evidence:
    """Store the file first, outside the transaction; if the record cannot
    be made, remove the bytes this upload added."""
    upload = form.file.data
    stored = evidence_store.store(upload.stream, upload.filename)
    if expected_version is _FROM_FORM:
        expected_version = int(form.version.data)
    try:
        return report_service.attach_evidence(acting_user(), target, stored, expected_version=expected_version)
    except Exception:
        evidence_store.discard(stored)
        raise


@bp.post("/evidence/<int:evidence_id>/remove")
def remove_evidence(evidence_id: int):
    user = acting_user()
    evidence = report_service.get_evidence(user, evidence_id)
    if evidence.report_id is None:
        raise ValidationError("只能删除报告草稿中的附件")
    authorize(user, "evidence.upload", evidence.report)
    form = VersionForm()
    if not form.validate_on_submit():
        raise ValidationError("页面数据不完整,请刷新后重试")
    report_id = evidence.report_id
    report = evidence.report
    edit = _typed_edit_form(report)
    if edit is not None and not edit.validate():
        return _page(report, status=400, edit_form=edit)
    try:
        if edit is not None:
            _save_typed(user, report, edit, _typed_inclusions(report))
            report_service.remove_evidence(user, evidence)
        else:
            report_service.remove_evidence(user, evidence, expected_version=int(form.version.data))
    except ValidationError as exc:
        db.session.rollback()
        if edit is not None:
            show_errors(edit, exc)
            return _page(_report(report_id), status=400, edit_form=edit)
        raise
    except (Conflict, InvalidTransition) as exc:
        return _stale(report_id, exc)
    flash(f"已删除附件“{evidence.original_name}”", "success")
    return redirect(url_for(".view", report_id=report_id))


@bp.get("/evidence/<int:evidence_id>")
def download(evidence_id: int):
    """Always an attachment (never shown inline), under its original name,
    after the same check as the report it belongs to; audited."""
    user = acting_user()
    evidence = report_service.get_evidence(user, evidence_id)
    path = verified_path(user, evidence)  # reads the whole file: before any write lock
    db.switch_to_writing()
    report_service.record_download(user, evidence)
    response = send_file(path, mimetype=evidence.content_type, as_attachment=True,
                         download_name=evidence.original_name, conditional=False, etag=False, max_age=0)
    response.headers["Content-Disposition"] = content_disposition(evidence.original_name, f"evidence-{evidence.id}")
    return response


# --- versions ---------------------------------------------------------------------------------


@bp.get("/reports/<int:report_id>/versions/<int:number>")
def version(report_id: int, number: int):
    report = report_service.get_report_with_versions(acting_user(), report_id)
    shown = report_service.version_of(report, number)
    targets = {t.id: t for t in report.task.targets}
    evidence = {e.id: e for e in db.session.scalars(select(Evidence).where(Evidence.id.in_(shown.snapshot.get("evidence", []))))}
    return render_template("reports/version.html", report=report, version=shown, targets=targets, evidence=evidence)


@bp.get("/reports/<int:report_id>/compare")
def compare(report_id: int):
    report = report_service.get_report_with_versions(acting_user(), report_id)
    numbers = [v.number for v in report.versions]
    if len(numbers) < 2:
        raise ValidationError("该报告只有一个报送版本,无可比较")
    try:
        older = int(request.args.get("from", numbers[-2]))
        newer = int(request.args.get("to", numbers[-1]))
    except ValueError:
        raise ValidationError("请选择要比较的两个版本") from None
    if older == newer:
        raise ValidationError("请选择两个不同的版本进行比较")
    older, newer = sorted((older, newer))
    result = report_service.compare_side_by_side(report, report_service.version_of(report, older),
                                                 report_service.version_of(report, newer))
    return render_template("reports/compare.html", report=report, result=result,
                           numbers=numbers, older=older, newer=newer)
