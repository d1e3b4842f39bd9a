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
from ..models import AuditEntry, Evidence, Report, ReportKind, ReportState
from ..domain.obligations import contribution_due_on
from ..policy import MAKER_CHECKER_DENIED, authorize, can, review_action, visible_reports, why_not
from ..serialize import decimal_text
from ..services import plans as plan_service
from ..services import reports as report_service
from ..domain.workdays import WorkdayCalendar
from ..workflow import ACTION_LABELS, allowed_actions
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


def _contributions(report: Report) -> list[Report]:
    """The co-units' contributions to the same task and period that the user may see."""
    user = acting_user()
    return list(
        db.session.scalars(
            select(Report)
            .where(
                Report.task_id == report.task_id,
                Report.period_id == report.period_id,
                Report.kind == ReportKind.CONTRIBUTION,
                visible_reports(user),
            )
            .order_by(Report.unit_id)
        )
    )


def _page(report: Report, *, status: int = 200, page_error: str | None = None, **forms):
    user = acting_user()
    task = report.task
    calendar = WorkdayCalendar.load(db.session)
    due_on = report.period.due_on if report.kind is ReportKind.LEAD_REPORT else contribution_due_on(report.period, calendar)
    actions = allowed_actions(report)
    can_edit = can(user, "report.file", report) and "edit" in actions
    is_lead_report = report.kind is ReportKind.LEAD_REPORT
    review_refused = why_not(user, review_action(report, "return"), report)
    can_review = review_refused is None
    version = {"version": report.version}
    ctx = {
        "report": report,
        "task": task,
        "due_on": due_on,
        "can_edit": can_edit,
        "can_review": can_review,
        # Someone who made the report is told why they cannot decide on it.
        "review_note": review_refused if review_refused == MAKER_CHECKER_DENIED else None,
        "actions": actions,
        "ACTION_LABELS": {**ACTION_LABELS, "create": "创建草稿"},
        "values": {v.target_id: v.value for v in report.values},
        # Files that went out with a submitted version stay on record.
        "submitted_evidence": {i for v in report.versions for i in v.snapshot.get("evidence", [])},
        "page_error": page_error,
        "history": list(
            db.session.scalars(
                select(AuditEntry)
                .where(AuditEntry.object_type == "reports", AuditEntry.object_id == report.id)
                .order_by(AuditEntry.id)
            )
        ),
        "version_form": VersionForm(formdata=None, data=version),
    }
    if can_edit:
        ctx["edit_form"] = forms.get("edit_form") if "edit_form" in forms else _edit_form(report)
        ctx["evidence_form"] = forms.get("evidence_form") if "evidence_form" in forms else EvidenceForm(formdata=None, data=version)
    if is_lead_report:
        contributions = _contributions(report)
        included = {c.id for c in report_service.included_contributions(report)}
        ctx["contributions"] = contributions
        ctx["included"] = included
        if can_edit:
            form = forms.get("inclusion_form") if "inclusion_form" in forms else InclusionForm(formdata=None, data={**version, "include": sorted(included)})
            form.include.choices = options(
                (c.id, f"{c.unit.short_name}({c.state.label})")
                for c in contributions
                if c.state in (ReportState.SUBMITTED, ReportState.ACCEPTED)
            )
            ctx["inclusion_form"] = form
    if can_review:
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
    values = {key[len("value_"):]: field.data for key, field in form._fields.items() if key.startswith("value_")}
    try:
        report_service.update_report(user, report, text=form.text.data, values=values,
                                     expected_version=int(form.version.data))
        if form.submit.data:
            # The edit above already checked and moved the version.
            report_service.submit_report(user, report)
    except ValidationError as exc:
        show_errors(form, exc)
        return _page(_report(report_id), status=400, edit_form=form)
    except (Conflict, InvalidTransition) as exc:
        return _stale(report_id, exc)
    flash("已报送" if form.submit.data else "草稿已保存", "success")
    return redirect(url_for(".view", report_id=report.id))


@bp.post("/reports/<int:report_id>/inclusions")
def inclusions(report_id: int):
    user = acting_user()
    report = _report(report_id)
    authorize(user, "report.file", report)
    form = InclusionForm()
    if not form.validate_on_submit():
        return _page(report, status=400, inclusion_form=form)
    try:
        report_service.set_inclusions(user, report, form.include.data or [], expected_version=int(form.version.data))
    except ValidationError as exc:
        show_errors(form, exc)
        return _page(_report(report_id), status=400, inclusion_form=form)
    except (Conflict, InvalidTransition) as exc:
        return _stale(report_id, exc)
    flash("引用的配合单位报送已更新", "success")
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
    service = report_service.accept_contribution if action == "accept" else report_service.approve_report
    try:
        service(user, report, expected_version=int(form.version.data))
    except (Conflict, InvalidTransition) as exc:
        return _stale(report_id, exc)
    flash(f"已{ACTION_LABELS[action]}", "success")
    return redirect(url_for(".view", report_id=report.id))


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
    if not form.validate_on_submit():
        return _page(report, status=400, evidence_form=form)
    try:
        store_and_attach(form, report)
    except ValidationError as exc:
        show_errors(form, exc)  # 400, or 413 for a file over the limit
        return _page(_report(report_id), status=exc.status, evidence_form=form)
    except (Conflict, InvalidTransition) as exc:
        return _stale(report_id, exc)
    flash(f"已上传“{form.file.data.filename}”", "success")
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


def store_and_attach(form: EvidenceForm, target) -> Evidence:
    """Store the file first, outside the transaction; if the record cannot
    be made, remove the bytes this upload added."""
    upload = form.file.data
    stored = evidence_store.store(upload.stream, upload.filename)
    try:
        return report_service.attach_evidence(acting_user(), target, stored, expected_version=int(form.version.data))
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
    try:
        report_service.remove_evidence(user, evidence, expected_version=int(form.version.data))
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
    report = _report(report_id)
    shown = report_service.version_of(report, number)
    targets = {t.id: t for t in report.task.targets}
    evidence = {e.id: e for e in db.session.scalars(select(Evidence).where(Evidence.id.in_(shown.snapshot.get("evidence", []))))}
    return render_template("reports/version.html", report=report, version=shown, targets=targets, evidence=evidence)


@bp.get("/reports/<int:report_id>/compare")
def compare(report_id: int):
    report = _report(report_id)
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
    result = report_service.compare_versions(report_service.version_of(report, older),
                                             report_service.version_of(report, newer))
    targets = {t.id: t for t in report.task.targets}
    return render_template("reports/compare.html", report=report, result=result, targets=targets,
                           numbers=numbers, older=older, newer=newer)
