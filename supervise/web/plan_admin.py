"""Coordinators bring plans in (a document, or by hand), review the draft,
publish it from a first period, and set how their units report."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from markupsafe import Markup, escape
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, HiddenField, IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import Length, NumberRange

from .. import db
from ..errors import DomainError, NotFound
from ..models import PlanKind, ReportingFrequency, Task, TaskSource
from ..models.plans import FREQUENCY_LABELS, TASK_SOURCE_LABELS
from ..policy import authorize
from ..services import plan_review
from ..services import plans as plan_service
from . import acting_user
from .common import show_errors
from .forms import options

bp = Blueprint("plan_admin", __name__)

MAX_DOCUMENT_BYTES = plan_service.MAX_DOCUMENT_BYTES
FREQUENCY_CHOICES = [(f.value, FREQUENCY_LABELS[f]) for f in ReportingFrequency]


class ImportForm(FlaskForm):
    document = FileField("计划文件(Word .docx、带文字的 PDF、Excel 任务分工表 .xlsx、文本 .txt/.md)")
    text = TextAreaField("或粘贴全文")


class PlanForm(FlaskForm):
    """A plan or a list of 督办事项 by hand, or a draft's own fields."""

    kind = SelectField("类型", choices=options([(PlanKind.PLAN.value, "行动计划/实施方案"),
                                                (PlanKind.ITEMS.value, "督办事项清单(领导批示、会议议定事项、建议提案等)")]))
    title = StringField("名称", validators=[Length(max=255)])
    document_number = StringField("文号(可不填,督办事项清单自动编号)", validators=[Length(max=64)])
    issuing_office = StringField("印发单位", validators=[Length(max=120)])
    issued_on = StringField("印发日期")
    period_start = StringField("实施期起")
    period_end = StringField("实施期止")
    frequency = SelectField("报送周期", choices=options(FREQUENCY_CHOICES), default="quarterly")


class TaskForm(FlaskForm):
    title = StringField("任务标题", validators=[Length(max=255)])
    text = TextAreaField("任务内容")
    section_title = StringField("所属部分(如“(一)实施主体引育壮大行动”)", validators=[Length(max=120)])
    source = SelectField("来源", choices=options((s.value, TASK_SOURCE_LABELS[s]) for s in TaskSource))
    source_document_number = StringField("来源文件文号(如批示件、会议纪要编号)", validators=[Length(max=64)])
    source_issued_on = StringField("来源文件日期")
    lead_unit_id = SelectField("牵头单位", coerce=str, validate_choice=False)
    co_unit_ids = SelectMultipleField("配合单位(可多选)", coerce=str, validate_choice=False)
    deadline = StringField("完成时限")
    targets = TextAreaField("目标指标(每行一条,如“新增跨境电商应用主体 5000 家以上”)")
    reason = TextAreaField("调整说明(已发布的任务必填,将通知相关单位)", validators=[Length(max=500)])


class ResolveForm(FlaskForm):
    name = HiddenField()
    unit_id = SelectField("对应到名录中的单位", coerce=str, validate_choice=False)
    create = BooleanField("名录中没有:按下面的全称新建单位")
    canonical_name = StringField("新建单位全称", validators=[Length(max=120)])


class PublishForm(FlaskForm):
    first_period = SelectField("首个报送期次", validate_choice=False)


class MergeForm(FlaskForm):
    into = SelectField("合并到", coerce=str, validate_choice=False)


class SplitForm(FlaskForm):
    part = TextAreaField("拆出为新任务的内容(从原文中复制)")


class ConfirmForm(FlaskForm):
    pass


class SettingsForm(FlaskForm):
    frequency = SelectField("报送周期", choices=options((f.value, FREQUENCY_LABELS[f]) for f in ReportingFrequency))
    due_working_days = IntegerField(
        "报送时限(期末后第几个工作日)", validators=[NumberRange(0, 60, "应在 0 到 60 之间")]
    )


@bp.route("/plans/import", methods=["GET", "POST"])
def import_plan():
    authorize(current_user, "plan.import")
    form = ImportForm()
    if form.validate_on_submit():
        data = (form.text.data or "").encode("utf-8")
        filename = ""
        upload = form.document.data
        if upload and upload.filename:
            data = upload.read(MAX_DOCUMENT_BYTES + 1)
            filename = upload.filename
        try:
            result = plan_service.import_plan_for(acting_user(), data, filename)
        except DomainError as exc:
            db.session.rollback()
            form.document.errors.append(exc.message)
            return render_template("plans/import.html", form=form), 400
        plan = result.plan
        if result.created:
            message = (f"已导入 {plan.document_number}(草稿):{len(plan.sections)} 项行动、{len(plan.tasks)} 项任务。"
                       "请逐项核对后发布;发布前各单位看不到该计划,也不产生报送任务")
            if result.unknown_units:
                message += ";以下单位不在名录中,请对应或新建:" + "、".join(result.unknown_units)
            flash(message, "success")
        else:
            flash(f"{plan.document_number} 已导入过,内容相同,未作改动", "info")
        return redirect(url_for("plan_admin.review", plan_id=plan.id) if plan.is_draft
                        else url_for("main.plan", plan_id=plan.id))
    return render_template("plans/import.html", form=form)


@bp.route("/plans/new", methods=["GET", "POST"])
def new_plan():
    """A plan or a list of 督办事项 by hand, without any document."""
    authorize(current_user, "plan.import")
    form = PlanForm()
    if request.method == "GET":
        form.kind.data = request.args.get("kind", PlanKind.ITEMS.value)
    if form.validate_on_submit():
        try:
            plan = plan_review.create_plan(
                acting_user(), kind=form.kind.data, title=form.title.data, document_number=form.document_number.data,
                issuing_office=form.issuing_office.data, issued_on=form.issued_on.data,
                period_start=form.period_start.data, period_end=form.period_end.data, frequency=form.frequency.data,
            )
        except DomainError as exc:
            show_errors(form, exc)
        else:
            flash("已建立草稿,请添加任务后发布", "success")
            return redirect(url_for("plan_admin.new_task", plan_id=plan.id))
    return render_template("plans/new.html", form=form), 400 if form.errors or form.form_errors else 200


def _draft_or_404(plan_id: int):
    plan = plan_service.get_plan(current_user, plan_id)
    authorize(current_user, "plan.manage", plan)
    return plan


def _task_of(plan, task_id: int) -> Task:
    task = plan_service.get_task(acting_user(), task_id)  # 404 for what the user may not see
    if task.plan_id != plan.id:
        raise NotFound("未找到该任务")
    return task


def _render_review(plan, *, status: int = 200, error: str | None = None, forms: dict | None = None):
    review = plan_review.draft_review(acting_user(), plan)
    publish = (forms or {}).get("publish") or PublishForm(formdata=None)
    publish.first_period.choices = options(
        (code, label + ("(当前期次)" if code == review.default_period else "")) for code, label in review.period_choices
    )
    if not publish.first_period.data:
        publish.first_period.data = review.default_period
    unit_choices = options([("", "请选择……"), *((str(u.id), f"{u.short_name}({u.canonical_name})")
                                                 for u in review.directory)])
    # Drawn once here, not once per unknown name / per task pair in the
    # template: the same options of ~160 units under each name, the same
    # shortened title of each task in every other task's merge list.
    # Drawn once here as plain escaped text, not once per unknown name / per
    # task pair in the template (nor through Markup.format, which is slow at
    # hundreds of options): the same options of ~160 units under each name,
    # and each task's merge list, every other task with the one before it
    # chosen.
    unit_options = Markup("".join(f'<option value="{escape(c.value)}">{escape(c.label)}</option>'
                                  for c in unit_choices))
    truncate = current_app.jinja_env.filters["truncate"]
    label_of = {t.id: f"{t.number}. {escape(truncate(current_app.jinja_env, t.title, 24, True, '…'))}"
                for t in review.tasks}
    merge_options = {
        task.id: Markup("".join(
            f'<option value="{other.id}"{" selected" if other.number == task.number - 1 else ""}>'
            f'{label_of[other.id]}</option>'
            for other in review.tasks if other.id != task.id))
        for task in review.tasks
    }
    return render_template(
        "plans/review.html", review=review, plan=plan, publish_form=publish, unit_choices=unit_choices,
        unit_options=unit_options, merge_options=merge_options, no_units=plan_service.ListedUnits(),
        plan_form=(forms or {}).get("plan") or _plan_form(plan), forms=forms or {}, page_error=error,
        confirm_form=ConfirmForm(formdata=None), frequency_label=FREQUENCY_LABELS[plan.reporting_frequency],
    ), status


def _plan_form(plan) -> PlanForm:
    return PlanForm(formdata=None, kind=plan.kind.value, title=plan.title, document_number=plan.document_number,
                    issuing_office=plan.issuing_office, issued_on=plan.issued_on.isoformat() if plan.issued_on else "",
                    period_start=plan.period_start.isoformat(), period_end=plan.period_end.isoformat(),
                    frequency=plan.reporting_frequency.value)


@bp.route("/plans/<int:plan_id>/review")
def review(plan_id: int):
    plan = _draft_or_404(plan_id)
    if not plan.is_draft:
        return redirect(url_for("main.plan", plan_id=plan.id))
    return _render_review(plan)


@bp.route("/plans/<int:plan_id>/review/plan", methods=["POST"])
def edit_draft_plan(plan_id: int):
    plan = _draft_or_404(plan_id)
    form = PlanForm()
    if form.validate_on_submit():
        try:
            plan_review.update_draft_plan(
                acting_user(), plan, title=form.title.data, document_number=form.document_number.data,
                issuing_office=form.issuing_office.data, issued_on=form.issued_on.data,
                period_start=form.period_start.data, period_end=form.period_end.data, frequency=form.frequency.data,
            )
        except DomainError as exc:
            show_errors(form, exc)
        else:
            flash("计划信息已保存", "success")
            return redirect(url_for("plan_admin.review", plan_id=plan.id))
    return _render_review(plan, status=400, error="计划信息未保存,请检查标出的内容", forms={"plan": form})


@bp.route("/plans/<int:plan_id>/review/units", methods=["POST"])
def resolve_unit(plan_id: int):
    plan = _draft_or_404(plan_id)
    form = ResolveForm()
    if form.validate_on_submit():
        try:
            unit = plan_review.resolve_unit_name(acting_user(), plan, form.name.data or "", unit_id=form.unit_id.data,
                                                 create=bool(form.create.data), canonical_name=form.canonical_name.data)
        except DomainError as exc:
            db.session.rollback()
            return _render_review(plan, status=400, error=f"“{form.name.data}”:{exc.message}",
                                  forms={("resolve", form.name.data): form})
        flash(f"“{form.name.data}”已对应为 {unit.canonical_name}" + ("(新建)" if form.create.data else ""), "success")
        return redirect(url_for("plan_admin.review", plan_id=plan.id) + "#units")
    return _render_review(plan, status=400, error="页面已过期,请重试")


@bp.route("/plans/<int:plan_id>/publish", methods=["POST"])
def publish(plan_id: int):
    plan = _draft_or_404(plan_id)
    form = PublishForm()
    if form.validate_on_submit():
        try:
            plan_service.publish_plan(acting_user(), plan, first_period=form.first_period.data)
        except DomainError as exc:
            db.session.rollback()
            return _render_review(plan, status=400, error=exc.message, forms={"publish": form})
        flash(f"已发布 {plan.document_number},自 {plan.periods[0].label if plan.periods else plan.first_period} 起报送;"
              "已通知各责任单位", "success")
        return redirect(url_for("main.plan", plan_id=plan.id))
    return _render_review(plan, status=400, error="页面已过期,请重试")


@bp.route("/plans/<int:plan_id>/discard", methods=["POST"])
def discard(plan_id: int):
    plan = _draft_or_404(plan_id)
    if not ConfirmForm().validate_on_submit():
        return _render_review(plan, status=400, error="页面已过期,请重试")
    number = plan.document_number
    try:
        plan_review.discard_draft(acting_user(), plan)
    except DomainError as exc:
        db.session.rollback()
        return _render_review(plan, status=400, error=exc.message)
    flash(f"草稿 {number} 已删除", "info")
    return redirect(url_for("main.plans"))


def _task_form(plan, task: Task | None, *, bound: bool) -> TaskForm:
    if bound:
        form = TaskForm()
    elif task is not None:
        form = TaskForm(
            formdata=None, title=task.title, text=task.text, section_title=task.section.title,
            source=task.source.value, source_document_number=task.source_document_number or "",
            source_issued_on=task.source_issued_on.isoformat() if task.source_issued_on else "",
            lead_unit_id=str(task.lead.unit_id) if task.lead else "",
            co_unit_ids=[str(tu.unit_id) for tu in task.co_units],
            deadline=task.deadline.isoformat() if task.deadline else "",
            targets="\n".join(t.text for t in task.targets),
        )
    else:
        default_source = TaskSource.LEADER_INSTRUCTION if plan.kind is PlanKind.ITEMS else TaskSource.PLAN
        form = TaskForm(formdata=None, source=default_source.value,
                        section_title=plan.sections[-1].title if plan.sections else "")
    units = plan_review.directory_units()
    form.lead_unit_id.choices = options([("", "(暂不确定)"), *((str(u.id), u.short_name) for u in units)])
    form.co_unit_ids.choices = options((str(u.id), u.short_name) for u in units)
    return form


def _fields(form: TaskForm, plan) -> plan_review.TaskFields:
    return plan_review.TaskFields(
        title=form.title.data, text=form.text.data, deadline=form.deadline.data,
        lead_unit_id=form.lead_unit_id.data, co_unit_ids=form.co_unit_ids.data or [],
        targets=form.targets.data if plan.is_draft else None, section_title=form.section_title.data,
        source=form.source.data, source_document_number=form.source_document_number.data,
        source_issued_on=form.source_issued_on.data,
    )


@bp.route("/plans/<int:plan_id>/tasks/new", methods=["GET", "POST"])
def new_task(plan_id: int):
    plan = _draft_or_404(plan_id)
    form = _task_form(plan, None, bound=request.method == "POST")
    if request.method == "POST" and form.validate_on_submit():
        if not plan.is_draft and not (form.reason.data or "").strip():
            form.reason.errors.append("已发布的计划增加任务,请说明原因(将通知相关单位)")
        else:
            try:
                task = plan_review.add_task(acting_user(), plan, _fields(form, plan), reason=form.reason.data or "")
            except DomainError as exc:
                show_errors(form, exc)
            else:
                flash(f"已增加任务{task.number}", "success")
                if request.form.get("again"):
                    return redirect(url_for("plan_admin.new_task", plan_id=plan.id))
                return redirect(url_for("plan_admin.review", plan_id=plan.id) + f"#task-{task.id}" if plan.is_draft
                                else url_for("main.task", task_id=task.id))
    status = 400 if request.method == "POST" else 200
    return render_template("plans/task_form.html", form=form, plan=plan, task=None), status


@bp.route("/plans/<int:plan_id>/tasks/<int:task_id>/edit", methods=["GET", "POST"])
def edit_task(plan_id: int, task_id: int):
    plan = _draft_or_404(plan_id)
    task = _task_of(plan, task_id)
    form = _task_form(plan, task, bound=request.method == "POST")
    if request.method == "POST" and form.validate_on_submit():
        if not plan.is_draft and not (form.reason.data or "").strip():
            form.reason.errors.append("调整已发布的任务,请说明原因(将通知相关单位)")
        else:
            try:
                plan_review.edit_task(acting_user(), task, _fields(form, plan), reason=form.reason.data or "")
            except DomainError as exc:
                show_errors(form, exc)
            else:
                flash(f"任务{task.number}已保存" + ("" if plan.is_draft else ",已通知相关单位"), "success")
                return redirect(url_for("plan_admin.review", plan_id=plan.id) + f"#task-{task.id}" if plan.is_draft
                                else url_for("main.task", task_id=task.id))
    status = 400 if request.method == "POST" else 200
    return render_template("plans/task_form.html", form=form, plan=plan, task=task), status


@bp.route("/plans/<int:plan_id>/tasks/<int:task_id>/<any(remove, merge, split):action>", methods=["POST"])
def change_draft_task(plan_id: int, task_id: int, action: str):
    plan = _draft_or_404(plan_id)
    task = _task_of(plan, task_id)
    form = {"remove": ConfirmForm, "merge": MergeForm, "split": SplitForm}[action]()
    if not form.validate_on_submit():
        return _render_review(plan, status=400, error="页面已过期,请重试")
    number = task.number
    try:
        if action == "remove":
            plan_review.remove_task(acting_user(), task)
            message = f"已删除任务{number},其后任务依次重新编号"
        elif action == "merge":
            into = _task_of(plan, int(form.into.data)) if (form.into.data or "").isdigit() else None
            if into is None:
                raise plan_review.ValidationError("请选择要合并到的任务", field_errors={"into": "请选择"})
            plan_review.merge_tasks(acting_user(), task, into)
            message = f"任务{number}已并入任务{into.number}"
        else:
            new = plan_review.split_task(acting_user(), task, form.part.data)
            message = f"已从任务{number}拆出任务{new.number}"
    except DomainError as exc:
        db.session.rollback()
        return _render_review(plan, status=400, error=f"任务{number}:{exc.message}", forms={(action, task_id): form})
    flash(message, "success")
    return redirect(url_for("plan_admin.review", plan_id=plan.id))


@bp.route("/plans/<int:plan_id>/settings", methods=["GET", "POST"])
def settings(plan_id: int):
    plan = plan_service.get_plan(current_user, plan_id)
    authorize(current_user, "plan.manage", plan)
    form = SettingsForm(
        frequency=plan.reporting_frequency.value, due_working_days=plan.report_due_working_days
    )
    if form.validate_on_submit():
        try:
            plan_service.update_plan_settings(
                acting_user(), plan, frequency=form.frequency.data, due_working_days=form.due_working_days.data
            )
        except DomainError as exc:
            db.session.rollback()
            form.frequency.errors.append(exc.message)
        else:
            flash("报送设置已保存,各期报送时限已重新计算", "success")
            return redirect(url_for("plan_admin.settings", plan_id=plan.id))
    status = 400 if form.errors else 200
    return render_template("plans/settings.html", form=form, plan=plan,
                           first_form=_first_period_form(plan, bound=False)), status


def _first_period_form(plan, *, bound: bool) -> PublishForm:
    from ..domain.periods import period_spans
    from ..services.plans import period_label

    form = PublishForm() if bound else PublishForm(formdata=None, first_period=plan.first_period)
    form.first_period.choices = options(
        (s.code, period_label(s.code)) for s in period_spans(plan.period_start, plan.period_end, plan.reporting_frequency)
    )
    return form


@bp.route("/plans/<int:plan_id>/first-period", methods=["POST"])
def first_period(plan_id: int):
    """Move the first period units report for (earlier: those periods become owed)."""
    plan = plan_service.get_plan(current_user, plan_id)
    authorize(current_user, "plan.manage", plan)
    form = _first_period_form(plan, bound=True)
    if form.validate_on_submit():
        before = plan.first_period
        try:
            plan_service.set_first_period(acting_user(), plan, form.first_period.data)
        except DomainError as exc:
            show_errors(form, exc)
        else:
            flash(f"首个报送期次已由 {before} 改为 {plan.first_period}", "success")
            return redirect(url_for("plan_admin.settings", plan_id=plan.id))
    settings_form = SettingsForm(formdata=None, frequency=plan.reporting_frequency.value,
                                 due_working_days=plan.report_due_working_days)
    return render_template("plans/settings.html", form=settings_form, plan=plan, first_form=form), 400
