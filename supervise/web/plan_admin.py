"""Coordinators bring plans in and set how their units report."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import IntegerField, SelectField, TextAreaField
from wtforms.validators import NumberRange

from .. import db
from ..errors import DomainError
from ..models import ReportingFrequency
from ..models.plans import FREQUENCY_LABELS
from ..policy import authorize
from ..services import plans as plan_service
from . import acting_user
from .forms import options

bp = Blueprint("plan_admin", __name__)

MAX_DOCUMENT_BYTES = 2 * 1024 * 1024


class ImportForm(FlaskForm):
    document = FileField("计划文件(Markdown 或纯文本,UTF-8)")
    text = TextAreaField("或粘贴全文")


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
        text = form.text.data or ""
        upload = form.document.data
        if upload and upload.filename:
            raw = upload.read(MAX_DOCUMENT_BYTES + 1)
            if len(raw) > MAX_DOCUMENT_BYTES:
                form.document.errors.append("文件过大(上限 2 MB)")
                return render_template("plans/import.html", form=form), 400
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                form.document.errors.append("文件不是 UTF-8 编码的文本")
                return render_template("plans/import.html", form=form), 400
        try:
            result = plan_service.import_plan_for(acting_user(), text)
        except DomainError as exc:
            db.session.rollback()
            form.document.errors.append(exc.message)
            return render_template("plans/import.html", form=form), 400
        plan = result.plan
        if result.created:
            message = f"已导入 {plan.document_number}:{len(plan.sections)} 项行动、{len(plan.tasks)} 项任务"
            if result.new_units:
                message += ";以下单位不在名录中,已按原文新建,请核对:" + "、".join(result.new_units)
            flash(message, "success")
        else:
            flash(f"{plan.document_number} 已导入过,内容相同,未作改动", "info")
        return redirect(url_for("main.plan", plan_id=plan.id))
    return render_template("plans/import.html", form=form)


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
    return render_template("plans/settings.html", form=form, plan=plan), status
